package idemtype

import (
	"fmt"
	"math"
	"time"
)

// The rules every store applies to its records, written once. A store in
// Go calls these functions; a store that decides on its server (a Lua
// script, an SQL statement) must decide exactly as they do, and the
// conformance suite in package storetest checks that it does.
//
// Time intervals are half-open. A lease covers [claim, LeaseUntil): at
// LeaseUntil itself the lease has lapsed. A record lives in [CreatedAt,
// ExpiresAt): at ExpiresAt itself it is gone. A zero ExpiresAt never
// comes.
//
// The rules never give a lease or an expiry later than the last instant of
// Unix nanoseconds (2262-04-11 23:47:16.854775807 UTC), which stores that
// keep times as int64 nanoseconds can hold: a longer lease or TTL (up to
// the largest time.Duration, 292 years, a common way to say "for ever")
// ends there rather than wrapping into the past.

// Live reports whether rec has not expired at now.
func Live(rec *Record, now time.Time) bool {
	return rec.ExpiresAt.IsZero() || now.Before(rec.ExpiresAt)
}

// Lapsed reports whether rec is in progress and its lease has lapsed at
// now (now is LeaseUntil or later). Completed and failed records have no
// lease to lapse.
func Lapsed(rec *Record, now time.Time) bool {
	return rec.Status == StatusInProgress && !now.Before(rec.LeaseUntil)
}

// Owns reports whether token owns rec at now, so that Extend, Complete and
// Release by token may change it: rec exists (not nil), is live, in
// progress, and holds token. A lapsed lease alone does not end ownership;
// only a takeover, a completion, a release, expiry or a delete does.
func Owns(rec *Record, token Token, now time.Time) bool {
	return rec != nil && Live(rec, now) && rec.Status == StatusInProgress && rec.Token == token
}

// Expiry returns the ExpiresAt of a record written at now that is to live
// for ttl: now+ttl, or the zero time (never) when ttl <= 0.
func Expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return after(now, ttl)
}

// maxTime is the latest lease or expiry the rules give.
var maxTime = time.Unix(0, math.MaxInt64)

// after returns now+d, but no later than maxTime (unless now is later).
func after(now time.Time, d time.Duration) time.Time {
	if t := now.Add(d); !t.After(maxTime) || now.After(maxTime) {
		return t
	}
	return maxTime
}

// Verdict is what [Store.Claim] does, as [JudgeClaim] decides it.
type Verdict uint8

// The verdicts of JudgeClaim.
const (
	// Acquire: there is no live record; create one with a new token.
	Acquire Verdict = iota + 1
	// TakeOver: the live record is in progress, its lease lapsed, takeover
	// is allowed and the fingerprints match; replace its token with a new,
	// larger one and renew its lease and expiry (Claim.TookOver).
	TakeOver
	// Refuse: reply with the live record as it is, not acquired:
	// Claim{Record: *rec, Abandoned: abandoned}.
	Refuse
)

// JudgeClaim decides req against rec, the key's record at now (nil when
// there is none). A record that is not [Live] counts as none. For Refuse,
// abandoned reports that rec is in progress and its lease lapsed (it was
// not taken over: Takeover was false or the fingerprints differ).
func JudgeClaim(rec *Record, req *ClaimRequest, now time.Time) (v Verdict, abandoned bool) {
	if rec == nil || !Live(rec, now) {
		return Acquire, false
	}
	lapsed := Lapsed(rec, now)
	if lapsed && req.Takeover && rec.Fingerprint == req.Fingerprint {
		return TakeOver, false
	}
	return Refuse, lapsed
}

// Claimed returns the record a claim creates at now with token: in
// progress, leased for req.Lease, expiring after req.TTL. A takeover keeps
// the CreatedAt of the record it replaces; the caller sets that.
func Claimed(req ClaimRequest, token Token, now time.Time) Record {
	return Record{
		Key:         req.Key,
		Fingerprint: req.Fingerprint,
		Status:      StatusInProgress,
		Token:       token,
		LeaseUntil:  after(now, req.Lease),
		ExpiresAt:   Expiry(now, req.TTL),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// Extended applies [Store.Extend] at now to rec, which token owns: its lease
// ends lease after now.
func Extended(rec *Record, lease time.Duration, now time.Time) {
	rec.LeaseUntil = after(now, lease)
	rec.UpdatedAt = now
}

// CheckOutcome returns the error [Store.Complete] answers, before
// anything else, for an outcome whose status is not final (neither
// StatusCompleted nor StatusFailed): recorded, it would leave the record
// unsettled for ever.
func CheckOutcome(out Outcome) error {
	if out.Status.Final() {
		return nil
	}
	return fmt.Errorf("invalid outcome status %v", out.Status)
}

// Completed applies [Store.Complete] at now to rec, which token owns: the
// outcome's status and value, and an expiry out.TTL after now. value is
// stored as given; a store that must not share the caller's slice copies
// it first.
func Completed(rec *Record, out Outcome, now time.Time) {
	rec.Status = out.Status
	rec.Value = out.Value
	rec.UpdatedAt = now
	rec.ExpiresAt = Expiry(now, out.TTL)
}
