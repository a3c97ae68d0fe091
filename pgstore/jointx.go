package pgstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"

	"github.com/idempotency-go/idempotency"
	"github.com/jackc/pgx/v5"
)

// JoinTx runs call, which makes one guarded call of key with g (such as
// idempotency.Do), inside a READ COMMITTED transaction that the call's
// claim, its effects and its record share, as DoTx does for a function.
// It is an idemhttp.Joiner: with idemhttp.Config{Join: pgstore.JoinTx},
// a handler gets the transaction from [TxFromRequest] (or
// [SQLTxFromRequest] for a [DBStore]), does its writes in it, and the
// stored response commits with them, before the client sees it. A process
// that dies before the commit leaves neither writes nor record, and the
// retry runs the handler once.
//
// The store's Claim of key under call's context begins the transaction,
// Complete records the outcome and commits, Release rolls back: a
// response idemhttp releases (5xx, 429, Discard, a panic) takes the
// handler's writes with it. JoinTx returns call's error, except that a
// failed commit returns an error matching idempotency.ErrNotRecorded:
// nothing committed (unless the connection broke during the COMMIT
// itself, when either both or neither did). Everything else is DoTx's and
// DoTxSQL's: duplicates find the row locked and see the key in progress,
// the transaction refuses to be ended by the handler ([ErrTxOwned]; for
// *sql.Tx noticed afterwards, [ErrTxEnded]), and a guarded call the
// handler makes with its request's context on the same key, or on a pool
// left without a connection, fails at once with [ErrNested]. The joined
// transaction holds one connection while the handler runs: guarded calls
// the handler makes of its own need spare connections in the pool.
//
// g must be built on a *Store or a *DBStore; any other store returns
// ErrWrongStore and call does not run.
func JoinTx(ctx context.Context, g *idempotency.Guard, key string, call func(ctx context.Context) error) error {
	if g == nil {
		return fmt.Errorf("%w, not a nil Guard", ErrWrongStore)
	}
	var (
		committed bool
		ended     error
		err       error
	)
	switch s := g.Store().(type) {
	case *Store:
		c := &txCall{s: s, key: key, deadline: txDeadline(g.Config()), joined: true}
		defer c.rollback(ctx) // a panic in call: leave nothing behind
		ctx = context.WithValue(ctx, txCallKey{}, c)
		up, _ := ctx.Value(heldKey{}).(*held)
		err = call(context.WithValue(ctx, heldKey{}, &held{s: s, key: key, up: up, call: c}))
		c.mu.Lock()
		committed, ended = c.committed, c.ended
		c.mu.Unlock()
	case *DBStore:
		c := &sqlTxCall{s: s, key: key, deadline: txDeadline(g.Config()), joined: true}
		defer c.rollback()
		ctx = context.WithValue(ctx, sqlTxCallKey{}, c)
		up, _ := ctx.Value(sqlHeldKey{}).(*sqlHeld)
		err = call(context.WithValue(ctx, sqlHeldKey{}, &sqlHeld{s: s, key: key, up: up, call: c}))
		c.mu.Lock()
		committed, ended = c.committed, c.ended
		c.mu.Unlock()
	default:
		return fmt.Errorf("%w, not %T", ErrWrongStore, g.Store())
	}
	_, err = txResult(struct{}{}, err, committed, ended)
	return err
}

// TxFromContext returns the transaction of the [JoinTx] call running
// under ctx on a [Store], once its key is claimed, as DoTx hands it to fn:
// it refuses to be ended ([ErrTxOwned]). Like any pgx.Tx it is for one
// goroutine at a time. It reports false outside a JoinTx on a Store, and
// before the claim.
func TxFromContext(ctx context.Context) (pgx.Tx, bool) {
	c, _ := ctx.Value(txCallKey{}).(*txCall)
	if c == nil || !c.joined {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tx == nil {
		return nil, false
	}
	return fnTx{Tx: c.tx, top: true}, true
}

// TxFromRequest is [TxFromContext] of r's context: inside a handler behind
// idemhttp with Config.Join set to [JoinTx], the request's transaction.
func TxFromRequest(r *http.Request) (pgx.Tx, bool) { return TxFromContext(r.Context()) }

// SQLTxFromContext returns the transaction of the [JoinTx] call running
// under ctx on a [DBStore], once its key is claimed. Do not end it: its
// Commit and Rollback belong to JoinTx, which notices them and reports
// [ErrTxEnded]. It reports false outside a JoinTx on a DBStore, and before
// the claim.
func SQLTxFromContext(ctx context.Context) (*sql.Tx, bool) {
	c, _ := ctx.Value(sqlTxCallKey{}).(*sqlTxCall)
	if c == nil || !c.joined {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tx, c.tx != nil
}

// SQLTxFromRequest is [SQLTxFromContext] of r's context.
func SQLTxFromRequest(r *http.Request) (*sql.Tx, bool) { return SQLTxFromContext(r.Context()) }
