package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
)

// txCall is the state of one DoTx call. DoTx runs the guard's ordinary
// Do with a context carrying it; the Store's methods, seeing it for the
// call's key, work inside the call's transaction instead of on the pool:
// Claim begins the transaction and claims the key in it, Complete writes
// the outcome and commits, Release rolls back. The guard's validation,
// fingerprints, codec, duplicate policies and observers thus apply to
// DoTx unchanged.
type txCall struct {
	s        *Store
	key      string
	deadline time.Time // zero: wait until ctx ends
	attempts int
	joined   bool // a JoinTx call: the guarded function's context carries it

	mu        sync.Mutex
	tx        pgx.Tx
	req       idemtype.ClaimRequest
	token     idemtype.Token
	xid       string           // the transaction's id, as the claim saw it
	busy      *idemtype.Record // the key's row is locked by another running transaction
	committed bool
	commitErr error
	ended     error // fn ended the transaction itself: ErrTxEnded, detailed
}

type txCallKey struct{}

// txCallFrom returns the DoTx call running under ctx for key on s, if any.
func txCallFrom(ctx context.Context, s *Store, key string) *txCall {
	c, _ := ctx.Value(txCallKey{}).(*txCall)
	if c == nil || c.s != s || c.key != key {
		return nil
	}
	return c
}

func (c *txCall) claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollbackLocked(ctx)
	c.busy = nil
	if err := ctx.Err(); err != nil {
		return idemtype.Claim{}, err
	}
	timeout := claimLockTimeout(c.attempts, c.deadline, c.s.opts.LockWait)
	c.attempts++
	tx, err := c.s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return idemtype.Claim{}, wrap("claim", c.key, fmt.Errorf("begin: %w", err))
	}
	cl, xid, err := c.s.claimIn(ctx, tx, req, timeout)
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if !isLockTimeout(err) {
			return idemtype.Claim{}, err
		}
		busy := busyRecord(req, c.s.opts.LockWait)
		c.busy = &busy
		return idemtype.Claim{Record: *c.busy}, nil
	}
	if !cl.Acquired {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return cl, nil
	}
	c.tx, c.req, c.token, c.xid = tx, req, cl.Record.Token, xid
	return cl, nil
}

// open reports whether the call's transaction is open.
func (c *txCall) open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tx != nil
}

// owns reports whether token is this call's claim, still in its
// transaction.
func (c *txCall) owns(token idemtype.Token) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tx != nil && c.token == token
}

func (c *txCall) isContended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busy != nil
}

func (c *txCall) contended() (idemtype.Record, bool) {
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
func (c *txCall) complete(ctx context.Context, out idemtype.Outcome) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if out.Status == idemtype.StatusFailed {
		if c.abortLocked(ctx) {
			return c.settleEndedLocked(ctx, "complete", out, "the failure is recorded")
		}
		return c.settleLocked(ctx, "complete", out)
	}
	if out.Status != idemtype.StatusCompleted {
		c.rollbackLocked(ctx)
		return wrap("complete", c.key, fmt.Errorf("invalid outcome status %v", out.Status))
	}
	tx := c.tx
	if tx.Conn().PgConn().TxStatus() == 'I' {
		return c.endSuccessLocked(ctx, out) // COMMIT or ROLLBACK through tx.Conn()
	}
	if err := c.s.completeTx(ctx, tx, c.key, c.token, out, c.xid); err != nil {
		if errors.Is(err, idemtype.ErrLeaseLost) && !c.sameTxLocked(ctx) {
			return c.endSuccessLocked(ctx, out) // ... AND CHAIN through tx.Conn()
		}
		c.rollbackLocked(ctx)
		c.commitErr = err
		return err
	}
	c.tx = nil
	if err := tx.Commit(ctx); err != nil {
		c.commitErr = wrap("complete", c.key, fmt.Errorf("commit: %w", err))
		return c.commitErr
	}
	c.committed = true
	return nil
}

// release rolls back the transaction of a call whose fn failed (or
// panicked) and is released by policy.
func (c *txCall) release(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.abortLocked(ctx) {
		return nil
	}
	// fn's writes may have committed: the key must not run again.
	return c.settleEndedLocked(ctx, "release", idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: c.req.TTL},
		"the key is recorded as completed without a value")
}

// sameTxLocked reports whether the open transaction is still the one the
// claim ran in.
func (c *txCall) sameTxLocked(ctx context.Context) bool {
	var xid string
	err := c.tx.QueryRow(ctx, currentXid).Scan(&xid)
	return err != nil || xid == c.xid // an error: the transaction is broken, not replaced
}

// endSuccessLocked settles a call whose fn succeeded but ended the
// transaction itself: whatever is still open is rolled back, and fn's
// result is recorded on its own.
func (c *txCall) endSuccessLocked(ctx context.Context, out idemtype.Outcome) error {
	c.rollbackLocked(ctx)
	return c.settleEndedLocked(ctx, "complete", out, "fn's result is recorded")
}

// settleEndedLocked records out for a call whose fn ended the transaction
// itself, so that fn does not run again, and returns the call's
// ErrTxEnded, saying what was recorded.
func (c *txCall) settleEndedLocked(ctx context.Context, op string, out idemtype.Outcome, what string) error {
	c.ended = txEnded(c.settleLocked(ctx, op, out), what)
	return c.ended
}

// abortLocked rolls back the transaction of a call whose fn ran, and
// reports whether fn had ended it itself: it was no longer open (COMMIT,
// ROLLBACK), or the claim had committed (COMMIT AND CHAIN).
func (c *txCall) abortLocked(ctx context.Context) bool {
	if c.tx == nil {
		return false
	}
	idle := c.tx.Conn().PgConn().TxStatus() == 'I'
	c.rollbackLocked(ctx)
	if idle {
		return true
	}
	return c.s.held(ctx, c.s.pool, c.key, c.token)
}

// settleLocked records out on its own, after the transaction rolled back.
func (c *txCall) settleLocked(ctx context.Context, op string, out idemtype.Outcome) error {
	return c.s.settle(ctx, c.s.pool, op, c.req, c.token, out)
}

func (c *txCall) rollback(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollbackLocked(ctx)
	return nil
}

// rollbackLocked ends the open transaction, if any. A failed rollback
// leaves nothing to undo: the server aborts a transaction whose connection
// is gone, and pgx closes a connection whose rollback failed.
func (c *txCall) rollbackLocked(ctx context.Context) {
	if c.tx == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = c.tx.Rollback(rctx)
	c.tx = nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
