package idemtype

import (
	"context"
	"io"
)

// Watcher is implemented by stores that can tell a waiting duplicate that a
// record changed without it polling the store.
type Watcher interface {
	// Watch returns a channel that is closed once the record for key
	// changes after Watch returned (completed, released, deleted, taken
	// over), or may have changed. stop releases what the watch holds; it is
	// safe to call more than once. Spurious wake-ups are allowed: callers
	// look at the record again after every one.
	Watch(ctx context.Context, key string) (changed <-chan struct{}, stop func(), err error)
}

// Lister is implemented by stores that can enumerate their live records.
type Lister interface {
	// List calls fn for each live record whose key starts with prefix, in
	// no particular order, until fn returns false or the records run out.
	List(ctx context.Context, prefix string, fn func(Record) bool) error
}

// Sweeper is implemented by stores that keep expired records until told
// to remove them.
type Sweeper interface {
	// Sweep removes expired records and reports how many it removed.
	Sweep(ctx context.Context) (int, error)
}

// Closer is implemented by stores that hold something to let go of: a
// sweeper goroutine, lock files, a subscription or listening connection.
// Every store of this module implements it, and all follow one contract:
//
//   - After Close returns, every operation of the store (those of [Store],
//     [Watcher], [Lister] and [Sweeper]) fails with an error matching
//     [ErrClosed], wrapped in an [*OpError] like the store's other failures.
//     An operation in flight when Close is called may finish or fail so.
//   - Close wakes every channel that [Watcher.Watch] handed out and that
//     has not fired, so that no waiter waits on a closed store: it looks
//     again and gets ErrClosed.
//   - Close is idempotent: a second call does nothing and returns nil.
//   - Close does not close what the caller gave the store (a Redis client,
//     a connection pool, a *sql.DB); the records stay where they are, for a
//     store opened again.
type Closer = io.Closer
