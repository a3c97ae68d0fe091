package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/jackc/pgx/v5"
)

// ErrWrongStore is returned by DoTx for a Guard that is not built on a
// *Store; fn does not run.
var ErrWrongStore = errors.New("idempotency: pgstore: DoTx needs a Guard built on a *pgstore.Store")

// ErrTxOwned is what Commit and Rollback return on the transaction DoTx
// hands to fn: the transaction ends with DoTx, which commits the outcome
// with it.
var ErrTxOwned = errors.New("idempotency: pgstore: the transaction belongs to DoTx; return from fn to commit it, or return an error to roll it back")

// fnTx is the transaction fn sees: everything but ending it, since fn's
// writes must commit with their record or not at all.
type fnTx struct{ pgx.Tx }

// Commit returns ErrTxOwned.
func (fnTx) Commit(context.Context) error { return ErrTxOwned }

// Rollback returns ErrTxOwned.
func (fnTx) Rollback(context.Context) error { return ErrTxOwned }

// DoTx is idempotency.Do for a function whose effects are writes to the
// store's database: fn runs inside a READ COMMITTED transaction that also
// holds the claim of key and records fn's result before it commits, so
// the effect and its record commit together or not at all. fn must do its
// writes through tx (not the pool). tx's Commit and Rollback return
// ErrTxOwned: DoTx ends the transaction (Begin, a savepoint, is fine).
//
// Everything else is Do's: key validation, WithFingerprint, the codec,
// Config.OnDuplicate, OnFailure and the observers. The differences:
//
//   - Exactly once: a process that dies or loses its connection before the
//     commit leaves neither effect nor record, and the next call runs fn.
//     There is no lease to lapse and no takeover of a running call.
//   - fn's error rolls the transaction back and is returned unchanged;
//     under OnFailure Remember the failure is then recorded on its own.
//   - A duplicate arriving while the first call's transaction runs blocks
//     on its row lock (at most Options.LockWait at a time, woken by the
//     commit's notification), then gets the stored result; when its wait
//     ends first (Config.WaitTimeout under ReturnStored, at once under
//     Reject, the context under Wait) it gets an error matching
//     idempotency.ErrInProgress (and ErrDuplicate under Reject).
//   - A failed commit returns the zero T and an error matching
//     idempotency.ErrNotRecorded: nothing committed, unless the connection
//     broke during the COMMIT itself, when either both or neither did; a
//     retry with the same key is safe either way.
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
	cfg := g.Config()
	c := &txCall{s: s, key: key}
	switch cfg.OnDuplicate {
	case idempotency.Reject:
		c.reject = true
	case idempotency.ReturnStored:
		c.deadline = time.Now().Add(max(cfg.WaitTimeout, 0))
		c.reject = cfg.WaitTimeout < 0
	}
	defer c.rollback(ctx) // a panic in fn or the codec: leave nothing behind
	v, err := idempotency.Do(context.WithValue(ctx, txCallKey{}, c), g, key, func(ctx context.Context) (T, error) {
		c.mu.Lock()
		tx := c.tx
		c.mu.Unlock()
		// fn's own guarded calls are not part of this one.
		return fn(context.WithValue(ctx, txCallKey{}, (*txCall)(nil)), fnTx{tx})
	}, opts...)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, errBusy):
		var e *idempotency.Error
		tok := idempotency.Token(0)
		if errors.As(err, &e) {
			tok = e.Token
		}
		if cfg.OnDuplicate == idempotency.Reject {
			return zero, &idempotency.Error{Kind: idempotency.ErrDuplicate, Key: key, Token: tok, Err: &idempotency.Error{Kind: idempotency.ErrInProgress, Key: key, Err: err}}
		}
		return zero, &idempotency.Error{Kind: idempotency.ErrInProgress, Key: key, Token: tok, Err: err}
	case errors.Is(err, idempotency.ErrNotRecorded):
		c.mu.Lock()
		committed := c.committed
		c.mu.Unlock()
		if !committed {
			return zero, err // fn's writes were rolled back with the record
		}
	}
	return v, err
}
