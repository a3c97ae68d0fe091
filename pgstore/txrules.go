package pgstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
)

// The rules DoTx (pgx) and DoTxSQL (database/sql) share. Each runs the
// guard's Do with the Store's methods working inside one transaction; only
// the transaction's type differs.

// currentXid reads the transaction's id, ” while it has none: by it a
// call knows its transaction is still the one its claim ran in.
const currentXid = `SELECT coalesce(pg_current_xact_id_if_assigned()::text, '')`

// isLockTimeout reports whether err is the server's lock_not_available
// (SQLSTATE 55P03), raised when lock_timeout ends a wait. Drivers report
// SQLSTATE by a SQLState method (pgconn.PgError, lib/pq's Error).
func isLockTimeout(err error) bool {
	var e interface{ SQLState() string }
	return errors.As(err, &e) && e.SQLState() == "55P03"
}

// txDeadline is how long a DoTx duplicate may keep blocking on a locked
// row: until Config.WaitTimeout under ReturnStored; zero, until ctx ends.
func txDeadline(cfg idempotency.Config) time.Time {
	if cfg.OnDuplicate == idempotency.ReturnStored {
		return time.Now().Add(max(cfg.WaitTimeout, 0))
	}
	return time.Time{}
}

// claimLockTimeout is the lock_timeout of a DoTx claim. The first attempt
// barely waits, so that the guard's own duplicate policy (reject, or wait
// up to a deadline) decides; later ones block on the lock for up to
// Options.LockWait, in case the commit's notification was lost.
func claimLockTimeout(attempt int, deadline time.Time, lockWait time.Duration) string {
	wait := time.Millisecond
	if attempt > 0 {
		wait = lockWait
		if !deadline.IsZero() {
			wait = min(wait, time.Until(deadline))
		}
	}
	wait = max(wait, time.Millisecond) // 0 would mean no limit
	return fmt.Sprintf("%dms", wait.Milliseconds()+boolInt(wait%time.Millisecond != 0))
}

// busyRecord is what a DoTx claim reports when the key's row is locked by
// a transaction still running the first call, invisible to it: in
// progress until it may have ended, so that the guard waits as its policy
// says and claims again.
func busyRecord(req idemtype.ClaimRequest, lockWait time.Duration) idemtype.Record {
	now := time.Now()
	return idemtype.Record{Key: req.Key, Fingerprint: req.Fingerprint, Status: idemtype.StatusInProgress,
		Token: 1, LeaseUntil: now.Add(lockWait), CreatedAt: now, UpdatedAt: now}
}

// txResult turns what the guard's Do returned for a DoTx call into the
// call's result: ended is the call's ErrTxEnded, if fn ended the
// transaction itself; committed, whether the transaction committed.
func txResult[T any](v T, err error, committed bool, ended error) (T, error) {
	var zero T
	switch {
	case ended != nil && errors.Is(err, ErrTxEnded):
		return v, ended // fn succeeded; its result is recorded
	case ended != nil:
		return v, fmt.Errorf("%w: %w", ended, err) // fn's error
	case errors.Is(err, idempotency.ErrNotRecorded) && !committed:
		return zero, err // fn's writes were rolled back with the record
	}
	return v, err
}

// txEnded is the error of a call whose fn ended the transaction itself,
// once the call was recorded on its own (what says how) or that failed
// (settleErr).
func txEnded(settleErr error, what string) error {
	if settleErr != nil {
		return fmt.Errorf("%w; recording the call failed too, so fn may run again: %w", ErrTxEnded, settleErr)
	}
	return fmt.Errorf("%w; %s, so that fn does not run again", ErrTxEnded, what)
}
