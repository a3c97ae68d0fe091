package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// sqlTxCall is the state of one DoTxSQL call, as txCall is of a DoTx
// call: the DBStore's methods, seeing it for the call's key, work inside
// the call's *sql.Tx. Claim begins the transaction and claims the key in
// it, Complete writes the outcome and commits, Release rolls back.
type sqlTxCall struct {
	s        *DBStore
	key      string
	deadline time.Time // zero: wait until ctx ends
	attempts int
	joined   bool // a JoinTx call: the guarded function's context carries it

	mu        sync.Mutex
	tx        *sql.Tx
	txCtx     context.Context // the context tx was begun with: database/sql rolls it back when that ends
	req       idemtype.ClaimRequest
	token     idemtype.Token
	xid       string           // the transaction's id, as the claim saw it
	busy      *idemtype.Record // the key's row is locked by another running transaction
	committed bool
	ended     error // fn ended the transaction itself: ErrTxEnded, detailed
}

type sqlTxCallKey struct{}

// sqlTxCallFrom returns the DoTxSQL call running under ctx for key on s,
// if any.
func sqlTxCallFrom(ctx context.Context, s *DBStore, key string) *sqlTxCall {
	c, _ := ctx.Value(sqlTxCallKey{}).(*sqlTxCall)
	if c == nil || c.s != s || c.key != key {
		return nil
	}
	return c
}

func (c *sqlTxCall) claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollbackLocked()
	c.busy = nil
	if err := ctx.Err(); err != nil {
		return idemtype.Claim{}, err
	}
	timeout := claimLockTimeout(c.attempts, c.deadline, c.s.opts.LockWait)
	c.attempts++
	tx, err := c.s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return idemtype.Claim{}, wrap("claim", c.key, fmt.Errorf("begin: %w", err))
	}
	cl, xid, err := c.claimIn(ctx, tx, req, timeout)
	if err != nil {
		_ = tx.Rollback()
		if !isLockTimeout(err) {
			return idemtype.Claim{}, err
		}
		busy := busyRecord(req, c.s.opts.LockWait)
		c.busy = &busy
		return idemtype.Claim{Record: busy}, nil
	}
	if !cl.Acquired {
		_ = tx.Rollback()
		return cl, nil
	}
	c.tx, c.txCtx, c.req, c.token, c.xid = tx, ctx, req, cl.Record.Token, xid
	return cl, nil
}

// claimIn claims req in tx under lock_timeout timeout, as Store.claimIn
// does in one batch; database/sql has no batches, so it takes three
// round trips.
func (c *sqlTxCall) claimIn(ctx context.Context, tx *sql.Tx, req idemtype.ClaimRequest, timeout string) (idemtype.Claim, string, error) {
	if _, err := tx.ExecContext(ctx, claimTxBefore, timeout); err != nil {
		return idemtype.Claim{}, "", wrap("claim", req.Key, err)
	}
	cl, err := c.s.claim(ctx, sqlConn{tx}, req)
	if err != nil {
		return idemtype.Claim{}, "", err
	}
	var lt, xid string
	if err := tx.QueryRowContext(ctx, claimTxAfter).Scan(&lt, &xid); err != nil {
		return idemtype.Claim{}, "", wrap("claim", req.Key, err)
	}
	return cl, xid, nil
}

// open reports whether the call's transaction is open.
func (c *sqlTxCall) open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tx != nil
}

// owns reports whether token is this call's claim, still in its
// transaction.
func (c *sqlTxCall) owns(token idemtype.Token) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tx != nil && c.token == token
}

func (c *sqlTxCall) contended() (idemtype.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy == nil {
		return idemtype.Record{}, false
	}
	return *c.busy, true
}

// complete writes a success in the transaction and commits it. A failure
// (OnFailure: Remember) rolls the transaction back, so that fn's writes
// vanish, and then records the failure on its own.
func (c *sqlTxCall) complete(ctx context.Context, out idemtype.Outcome) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if out.Status == idemtype.StatusFailed {
		ended := c.endedLocked(ctx)
		c.rollbackLocked()
		if ended {
			return c.settleEndedLocked(ctx, "complete", out, "the failure is recorded")
		}
		return c.s.settle(ctx, c.s.q, "complete", c.req, c.token, out)
	}
	if out.Status != idemtype.StatusCompleted {
		c.rollbackLocked()
		return wrap("complete", c.key, fmt.Errorf("invalid outcome status %v", out.Status))
	}
	if err := c.s.completeTx(ctx, sqlConn{c.tx}, c.key, c.token, out, c.xid); err != nil {
		ended := (errors.Is(err, idemtype.ErrLeaseLost) || errors.Is(err, sql.ErrTxDone)) && c.endedLocked(ctx)
		c.rollbackLocked()
		if ended {
			return c.settleEndedLocked(ctx, "complete", out, "fn's result is recorded")
		}
		return err
	}
	tx := c.tx
	c.tx = nil
	if err := tx.Commit(); err != nil {
		return wrap("complete", c.key, fmt.Errorf("commit: %w", err))
	}
	c.committed = true
	return nil
}

// release rolls back the transaction of a call whose fn failed (or
// panicked) and is released by policy.
func (c *sqlTxCall) release(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ended := c.endedLocked(ctx)
	c.rollbackLocked()
	if !ended {
		return nil
	}
	// fn's writes may have committed: the key must not run again.
	return c.settleEndedLocked(ctx, "release", idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: c.req.TTL},
		"the key is recorded as completed without a value")
}

// endedLocked reports whether fn ended the open transaction itself:
// database/sql reports it done (fn called Commit or Rollback) although
// its context did not end, or its claim committed; or the server's
// transaction is not the one the claim ran in (a COMMIT, ROLLBACK or AND
// CHAIN sent as a statement).
func (c *sqlTxCall) endedLocked(ctx context.Context) bool {
	if c.tx == nil {
		return false
	}
	var xid string
	err := c.tx.QueryRowContext(ctx, currentXid).Scan(&xid)
	switch {
	case errors.Is(err, sql.ErrTxDone):
		return c.txCtx.Err() == nil || c.s.held(ctx, c.s.q, c.key, c.token)
	case err != nil:
		return false // the transaction is broken, not replaced
	}
	return xid != c.xid
}

// settleEndedLocked records out for a call whose fn ended the transaction
// itself, so that fn does not run again, and returns the call's
// ErrTxEnded, saying what was recorded.
func (c *sqlTxCall) settleEndedLocked(ctx context.Context, op string, out idemtype.Outcome, what string) error {
	c.ended = txEnded(c.s.settle(ctx, c.s.q, op, c.req, c.token, out), what)
	return c.ended
}

func (c *sqlTxCall) rollback() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollbackLocked()
}

// rollbackLocked ends the open transaction, if any. A failed rollback
// leaves nothing to undo: the server aborts a transaction whose connection
// is gone, and database/sql discards a connection whose rollback failed.
func (c *sqlTxCall) rollbackLocked() {
	if c.tx == nil {
		return
	}
	_ = c.tx.Rollback()
	c.tx = nil
}

// sqlHeld is a DoTxSQL call whose fn is running, as fn's context carries
// it, or a JoinTx call (call), which holds its key while its transaction
// is open; up is the call enclosing it, if any.
type sqlHeld struct {
	s    *DBStore
	key  string
	up   *sqlHeld
	call *sqlTxCall
}

type sqlHeldKey struct{}

// fnContext is fn's context for the call c: fn's own guarded calls are
// not part of c, and those that could only wait for it are known.
func (c *sqlTxCall) fnContext(ctx context.Context) context.Context {
	up, _ := ctx.Value(sqlHeldKey{}).(*sqlHeld)
	ctx = context.WithValue(ctx, sqlTxCallKey{}, (*sqlTxCall)(nil))
	return context.WithValue(ctx, sqlHeldKey{}, &sqlHeld{s: c.s, key: c.key, up: up})
}

// nested returns ErrNested when op on key under ctx, which locks key's
// row, would wait for an enclosing DoTxSQL call holding that row: the
// same key of the same table through the same *sql.DB. A JoinTx call
// holds its key while its transaction is open.
func (s *DBStore) nested(ctx context.Context, op, key string) error {
	for h, _ := ctx.Value(sqlHeldKey{}).(*sqlHeld); h != nil; h = h.up {
		if h.call != nil && !h.call.open() {
			continue // a JoinTx still claiming, or done
		}
		if h.key == key && h.s.db == s.db && h.s.names.table == s.names.table {
			name := "DoTxSQL"
			if h.call != nil {
				name = "JoinTx"
			}
			return fmt.Errorf("%w: %s: the enclosing %s holds this key in its open transaction", ErrNested, op, name)
		}
	}
	return nil
}
