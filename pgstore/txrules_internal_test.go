package pgstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
)

// A DoTx claim's lock_timeout: the first attempt barely waits, so that the
// guard's duplicate policy decides; later ones wait Options.LockWait, or
// until the call's deadline if sooner, in whole milliseconds rounded up and
// never 0 (which would mean no limit).
func TestClaimLockTimeout(t *testing.T) {
	t.Parallel()
	const lockWait = 2 * time.Second
	for _, tc := range []struct {
		name     string
		attempt  int
		deadline time.Duration // from now; 0: none
		lockWait time.Duration
		want     string
	}{
		{"FirstAttempt", 0, 0, lockWait, "1ms"},
		{"FirstAttemptWithDeadline", 0, time.Minute, lockWait, "1ms"},
		{"SecondAttempt", 1, 0, lockWait, "2000ms"},
		{"LaterAttempt", 5, 0, lockWait, "2000ms"},
		{"DeadlineSooner", 1, 500 * time.Millisecond, lockWait, "500ms"},
		{"DeadlineLater", 1, time.Hour, lockWait, "2000ms"},
		{"DeadlinePassed", 1, -time.Second, lockWait, "1ms"},
		{"RoundedUp", 1, 0, 1500 * time.Microsecond, "2ms"},
		{"NoLockWait", 1, 0, 0, "1ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var deadline time.Time
			if tc.deadline != 0 {
				deadline = time.Now().Add(tc.deadline)
			}
			if got := claimLockTimeout(tc.attempt, deadline, tc.lockWait); got != tc.want {
				t.Fatalf("claimLockTimeout(%d, %v, %v) = %q, want %q", tc.attempt, tc.deadline, tc.lockWait, got, tc.want)
			}
		})
	}
}

// A DoTx duplicate blocks on the locked row until Config.WaitTimeout under
// ReturnStored (not past now for a negative one), and under every other
// policy until its context ends (no deadline).
func TestTxDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  idempotency.Config
		want time.Duration // from now; -1: no deadline
	}{
		{"ReturnStored", idempotency.Config{OnDuplicate: idempotency.ReturnStored, WaitTimeout: time.Hour}, time.Hour},
		{"ReturnStoredNegativeWait", idempotency.Config{OnDuplicate: idempotency.ReturnStored, WaitTimeout: -time.Hour}, 0},
		{"Wait", idempotency.Config{OnDuplicate: idempotency.Wait, WaitTimeout: time.Hour}, -1},
		{"Reject", idempotency.Config{OnDuplicate: idempotency.Reject, WaitTimeout: time.Hour}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			got := txDeadline(tc.cfg)
			after := time.Now()
			switch {
			case tc.want < 0 && !got.IsZero():
				t.Fatalf("deadline %v, want none", got)
			case tc.want >= 0 && (got.Before(before.Add(tc.want)) || got.After(after.Add(tc.want))):
				t.Fatalf("deadline %v from now, want %v", got.Sub(before), tc.want)
			}
		})
	}
}

// The record a DoTx claim reports for a row locked by a running first
// call: in progress under token 1, with the request's key and fingerprint,
// for Options.LockWait from now.
func TestBusyRecord(t *testing.T) {
	t.Parallel()
	before := time.Now()
	rec := busyRecord(idemtype.ClaimRequest{Key: "k", Fingerprint: "f"}, time.Minute)
	after := time.Now()
	if rec.Key != "k" || rec.Fingerprint != "f" || rec.Status != idemtype.StatusInProgress || rec.Token != 1 ||
		rec.LeaseUntil.Before(before.Add(time.Minute)) || rec.LeaseUntil.After(after.Add(time.Minute)) ||
		rec.CreatedAt.Before(before) || rec.CreatedAt.After(after) || !rec.UpdatedAt.Equal(rec.CreatedAt) {
		t.Fatalf("busyRecord = %+v", rec)
	}
}

// What a DoTx call returns from the guard's answer: fn's value and error,
// except that a call whose transaction rolled back with its record returns
// no value, and a call whose fn ended the transaction itself says so.
func TestTxResult(t *testing.T) {
	t.Parallel()
	errFn := errors.New("fn failed")
	ended := txEnded(nil, "recorded on its own")
	notRecorded := fmt.Errorf("%w: commit failed", idempotency.ErrNotRecorded)
	for _, tc := range []struct {
		name      string
		err       error
		committed bool
		ended     error
		wantV     int
		wantIs    []error // errors.Is must hold for each; none: a nil error
		exact     error   // if set, the error returned is this one
	}{
		{"Success", nil, true, nil, 7, nil, nil},
		{"FnError", errFn, false, nil, 7, []error{errFn}, errFn},
		{"NotRecordedRolledBack", notRecorded, false, nil, 0, []error{idempotency.ErrNotRecorded}, notRecorded},
		{"NotRecordedCommitted", notRecorded, true, nil, 7, []error{idempotency.ErrNotRecorded}, notRecorded},
		// fn succeeded and the call was recorded on its own: its end says so.
		{"EndedRecorded", fmt.Errorf("settle: %w", ErrTxEnded), false, ended, 7, []error{ErrTxEnded}, ended},
		{"EndedFnError", errFn, false, ended, 7, []error{ErrTxEnded, errFn}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := txResult(7, tc.err, tc.committed, tc.ended)
			if v != tc.wantV || (err == nil) != (len(tc.wantIs) == 0) {
				t.Fatalf("txResult = %d, %v; want %d and an error matching %v", v, err, tc.wantV, tc.wantIs)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Fatalf("txResult error %v does not match %v", err, target)
				}
			}
			if tc.exact != nil && err != tc.exact {
				t.Fatalf("txResult error %v, want %v itself", err, tc.exact)
			}
			if tc.ended != nil && tc.err != nil && !errors.Is(tc.err, ErrTxEnded) && err.Error() != fmt.Sprintf("%v: %v", tc.ended, tc.err) {
				t.Fatalf("txResult error %q, want the end and fn's error", err)
			}
		})
	}
}

// The error of a call whose fn ended its transaction says whether the
// call was recorded (and how) or not, and then carries the store's error.
func TestTxEnded(t *testing.T) {
	t.Parallel()
	storeErr := errors.New("store down")
	recorded := txEnded(nil, "the call was recorded on its own")
	if !errors.Is(recorded, ErrTxEnded) || !strings.Contains(recorded.Error(), "the call was recorded on its own, so that fn does not run again") {
		t.Fatalf("recorded: %v", recorded)
	}
	failed := txEnded(storeErr, "the call was recorded on its own")
	if !errors.Is(failed, ErrTxEnded) || !errors.Is(failed, storeErr) || strings.Contains(failed.Error(), "recorded on its own") {
		t.Fatalf("not recorded: %v", failed)
	}
}
