package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/idempotency-go/idempotency"
	"github.com/jackc/pgx/v5"
)

// ErrWrongStore is returned by DoTx for a Guard that is not built on a
// *Store, by DoTxSQL for one not built on a *DBStore, and by JoinTx for one
// built on neither; fn does not run.
var ErrWrongStore = errors.New("idempotency: pgstore: the Guard is not built on the store this call needs (DoTx: *pgstore.Store, DoTxSQL: *pgstore.DBStore, JoinTx: either)")

// DoTx is idempotency.Do for a function whose effects are writes to the
// store's database: fn runs inside a READ COMMITTED transaction that also
// holds the claim of key and records fn's result before it commits, so
// the effect and its record commit together or not at all. fn must do its
// writes through tx (not the pool).
//
// DoTx alone ends the transaction. tx refuses to end it with ErrTxOwned,
// sending nothing: its Commit and Rollback, and any statement that would
// (COMMIT, END, ROLLBACK, ABORT, AND CHAIN, PREPARE TRANSACTION, alone or
// in a multi-statement string, or made by a pgx.QueryRewriter argument)
// through Exec, Query, QueryRow, SendBatch
// and Prepare, of tx or of a savepoint from tx.Begin (whose own Commit
// and Rollback work). A statement sent through tx.Conn() escapes that
// check; DoTx then notices at the end that the transaction is not the one
// it opened (the connection is idle, the transaction id changed, or the
// claim committed), rolls back what is still open, records the call so
// that fn does not run again, and returns an error matching ErrTxEnded:
// fn's writes may have committed outside the record. To notice a COMMIT
// AND CHAIN, a failed call reads after its ROLLBACK whether its claim
// committed: one statement more than a successful call's.
//
// Everything else is Do's: key validation, WithFingerprint, the codec,
// Config.OnDuplicate, OnFailure and the observers. The differences:
//
//   - Exactly once: a process that dies or loses its connection before the
//     commit leaves neither effect nor record, and the next call runs fn.
//     There is no lease to lapse and no takeover of a running call.
//   - fn's error rolls the transaction back and is returned unchanged;
//     under OnFailure Remember the failure is then recorded on its own.
//   - A duplicate DoTx arriving while the first call's transaction runs
//     cannot see its uncommitted record; it finds the row locked and
//     treats the key as in progress: it waits for the commit's
//     notification (and blocks on the row lock up to Options.LockWait at
//     a time, in case one is lost), then gets the stored result, or, by
//     the duplicate policy, an error matching idempotency.ErrInProgress
//     (at once under Reject, with ErrDuplicate; after Config.WaitTimeout
//     under ReturnStored; when ctx ends under Wait).
//   - A plain Do on a key whose DoTx transaction runs blocks on the row
//     lock until that transaction ends, whatever its duplicate policy.
//   - A failed commit returns the zero T and an error matching
//     idempotency.ErrNotRecorded: nothing committed, unless the connection
//     broke during the COMMIT itself, when either both or neither did; a
//     retry with the same key is safe either way.
//
// Nesting: fn may make guarded calls of its own (Do, DoTx, Wrap) with the
// context it gets; they are separate calls, recorded and committed on
// their own, each on a connection of its own. A call that could only wait
// for this DoTx fails at once with ErrNested instead of waiting until its
// context ends: one on the same key (of the same table and database,
// through any Store), whose row this transaction locks, and any call of a
// Store whose pool has no connection beside those the enclosing DoTx
// calls hold (a pool of one connection, or of two under two nested DoTx).
// A call made with a context not derived from fn's cannot be recognised;
// pools shared by many goroutines that each nest need connections enough
// for all of them.
//
// g must be built on a *Store; any other store returns ErrWrongStore and fn
// does not run.
func DoTx[T any](ctx context.Context, g *idempotency.Guard, key string, fn func(ctx context.Context, tx pgx.Tx) (T, error), opts ...idempotency.CallOption) (T, error) {
	var zero T
	if g == nil {
		return zero, fmt.Errorf("%w, not a nil Guard", ErrWrongStore)
	}
	s, ok := g.Store().(*Store)
	if !ok {
		return zero, fmt.Errorf("%w, not %T", ErrWrongStore, g.Store())
	}
	c := &txCall{s: s, key: key, deadline: txDeadline(g.Config())}
	defer c.rollback(ctx) // a panic in fn or the codec: leave nothing behind
	v, err := idempotency.Do(context.WithValue(ctx, txCallKey{}, c), g, key, func(ctx context.Context) (T, error) {
		c.mu.Lock()
		tx := c.tx
		c.mu.Unlock()
		// fn's own guarded calls are not part of this one.
		return fn(withHeld(context.WithValue(ctx, txCallKey{}, (*txCall)(nil)), c), fnTx{Tx: tx, top: true})
	}, opts...)
	c.mu.Lock()
	committed, ended := c.committed, c.ended
	c.mu.Unlock()
	return txResult(v, err, committed, ended)
}
