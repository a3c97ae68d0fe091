package pgstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/idempotency-go/idempotency"
)

// DoTxSQL is DoTx for database/sql: fn runs inside a READ COMMITTED
// *sql.Tx that also holds the claim of key and records fn's result before
// it commits, so the effect and its record commit together or not at all.
// fn must do its writes through tx (not the *sql.DB). Its semantics are
// DoTx's (exactly once for effects in the transaction, duplicates blocked
// on the row lock, fn's error rolls back, a failed commit is
// idempotency.ErrNotRecorded with the zero T), with these differences:
//
//   - *sql.Tx is a concrete type, so DoTxSQL cannot refuse fn's attempts
//     to end the transaction as DoTx does (ErrTxOwned). It notices them at
//     the end instead: tx.Commit or tx.Rollback (database/sql then reports
//     the transaction done although ctx did not end), or a COMMIT,
//     ROLLBACK or AND CHAIN sent through tx.ExecContext (the server's
//     transaction id is not the claim's). DoTxSQL then rolls back what is
//     still open, records the call so that fn does not run again, and
//     returns an error matching ErrTxEnded: fn's writes may have committed
//     outside the record. Do not end tx in fn.
//   - database/sql rolls tx back when ctx ends; the call then records
//     nothing, and fn's writes are gone.
//   - Waiting duplicates poll the record (a DBStore cannot be notified).
//   - Nesting: a guarded call (or Delete) in fn with fn's context on the
//     key this call holds, through a DBStore of the same *sql.DB and
//     table, fails at once with ErrNested instead of blocking on the row
//     lock this transaction holds until its context ends. A *sql.DB with
//     no connection left for fn's own calls (SetMaxOpenConns) is not
//     detected: give it connections enough.
//
// g must be built on a *DBStore; any other store returns ErrWrongStore and
// fn does not run.
func DoTxSQL[T any](ctx context.Context, g *idempotency.Guard, key string, fn func(ctx context.Context, tx *sql.Tx) (T, error), opts ...idempotency.CallOption) (T, error) {
	var zero T
	if g == nil {
		return zero, fmt.Errorf("%w, not a nil Guard", ErrWrongStore)
	}
	s, ok := g.Store().(*DBStore)
	if !ok {
		return zero, fmt.Errorf("%w, not %T", ErrWrongStore, g.Store())
	}
	c := &sqlTxCall{s: s, key: key, deadline: txDeadline(g.Config())}
	defer c.rollback() // a panic in fn or the codec: leave nothing behind
	v, err := idempotency.Do(context.WithValue(ctx, sqlTxCallKey{}, c), g, key, func(ctx context.Context) (T, error) {
		c.mu.Lock()
		tx := c.tx
		c.mu.Unlock()
		return fn(c.fnContext(ctx), tx)
	}, opts...)
	c.mu.Lock()
	committed, ended := c.committed, c.ended
	c.mu.Unlock()
	return txResult(v, err, committed, ended)
}
