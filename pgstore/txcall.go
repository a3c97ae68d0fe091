package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// lockNotAvailable is SQLSTATE 55P03, raised when lock_timeout ends a wait.
const lockNotAvailable = "55P03"

func (c *txCall) claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollbackLocked(ctx)
	c.busy = nil
	if err := ctx.Err(); err != nil {
		return idemtype.Claim{}, err
	}
	// The first attempt barely waits, so that the guard's own duplicate
	// policy (reject, or wait up to a deadline, woken by the commit's
	// notification) decides; later ones block on the lock for a while,
	// in case a notification was lost.
	wait := time.Millisecond
	if c.attempts > 0 {
		wait = c.s.opts.LockWait
		if !c.deadline.IsZero() {
			wait = min(wait, time.Until(c.deadline))
		}
	}
	c.attempts++
	wait = max(wait, time.Millisecond) // 0 would mean no limit
	tx, err := c.s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return idemtype.Claim{}, wrap("claim", c.key, fmt.Errorf("begin: %w", err))
	}
	cl, xid, err := c.s.claimIn(ctx, tx, req, fmt.Sprintf("%dms", wait.Milliseconds()+boolInt(wait%time.Millisecond != 0)))
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		var pgErr *pgconn.PgError
		lockTimeout := errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable
		if !lockTimeout {
			return idemtype.Claim{}, err
		}
		// The key's row is locked by a transaction still running the
		// first call, invisible to us. Report it in progress until it may
		// have ended: the guard then waits, as its policy says, for the
		// commit's notification, and claims again.
		now := time.Now()
		c.busy = &idemtype.Record{Key: req.Key, Fingerprint: req.Fingerprint, Status: idemtype.StatusInProgress,
			Token: 1, LeaseUntil: now.Add(c.s.opts.LockWait), CreatedAt: now, UpdatedAt: now}
		return idemtype.Claim{Record: *c.busy}, nil
	}
	if !cl.Acquired {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return cl, nil
	}
	c.tx, c.req, c.token, c.xid = tx, req, cl.Record.Token, xid
	return cl, nil
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
		return fmt.Errorf("idempotency: pgstore: complete %q: invalid outcome status %v", truncate(c.key), out.Status)
	}
	tx := c.tx
	if tx.Conn().PgConn().TxStatus() == 'I' {
		return c.endSuccessLocked(ctx, out) // COMMIT or ROLLBACK through tx.Conn()
	}
	if err := c.s.exec(ctx, tx, "complete", c.s.sql.completeTx, c.key,
		hashKey(c.key), []byte(c.key), tokenArg(c.token), int16(out.Status), out.Value, micros(out.TTL, 0), c.xid); err != nil {
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
	err := c.tx.QueryRow(ctx, `SELECT coalesce(pg_current_xact_id_if_assigned()::text, '')`).Scan(&xid)
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
	if err := c.settleLocked(ctx, op, out); err != nil {
		c.ended = fmt.Errorf("%w; recording the call failed too, so fn may run again: %w", ErrTxEnded, err)
	} else {
		c.ended = fmt.Errorf("%w; %s, so that fn does not run again", ErrTxEnded, what)
	}
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
	var held bool
	err := c.s.pool.QueryRow(ctx, c.s.sql.held, hashKey(c.key), tokenArg(c.token)).Scan(&held)
	return err == nil && held
}

// settleLocked records out on its own, after the transaction rolled back.
func (c *txCall) settleLocked(ctx context.Context, op string, out idemtype.Outcome) error {
	r := c.req
	return c.s.exec(ctx, c.s.pool, op, c.s.sql.settle, r.Key,
		hashKey(r.Key), []byte(r.Key), []byte(r.Fingerprint), tokenArg(c.token), out.Value, micros(out.TTL, 0), int16(out.Status))
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
