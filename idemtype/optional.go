package idemtype

import "context"

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
