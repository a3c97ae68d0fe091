package idemtype

import (
	"context"
	"time"
)

// Store keeps one record per key: who is executing it, and how it ended.
//
// A Store is used by many goroutines, and for shared stores by many
// processes, at once; every method must be safe for that. Implementations
// judge leases and expiry on one clock (the server's where there is one) and
// must treat keys as arbitrary byte strings: two different keys never share a
// record, whatever bytes they hold (slashes, NUL, invalid UTF-8, 4 KiB and
// more).
//
// The conformance suite in package storetest checks this contract; every
// implementation should run it.
type Store interface {
	// Claim atomically looks up the live record for req.Key and, when there
	// is none, creates an in-progress record owned by a new token, leased
	// for req.Lease and expiring after req.TTL (req.TTL <= 0: never).
	//
	// A live in-progress record whose lease has lapsed is taken over (a new,
	// larger token; TookOver set) when req.Takeover is true and its
	// fingerprint equals req.Fingerprint; otherwise it is returned with
	// Abandoned set. A live completed or failed record is returned as is.
	// A live record with another fingerprint is never acquired.
	//
	// Claim is one atomic step (one round trip for a network store) and,
	// when it does not acquire, returns the live record it found, so that a
	// duplicate call costs one round trip.
	Claim(ctx context.Context, req ClaimRequest) (Claim, error)

	// Extend moves the lease of the in-progress record owned by token to
	// now+lease. It returns ErrLeaseLost when token no longer owns an
	// in-progress record for key. A lapsed lease alone does not end
	// ownership: until another claim takes the record over (or it expires
	// or is deleted), Extend, Complete and Release by its token succeed.
	Extend(ctx context.Context, key string, token Token, lease time.Duration) error

	// Complete stores the outcome of the execution owned by token: status,
	// value and expiry (out.TTL from now; <= 0: never). It returns
	// ErrLeaseLost when token no longer owns an in-progress record for key,
	// and then changes nothing. An outcome whose status is not final it
	// refuses, changing nothing, with the error of [CheckOutcome]. The
	// store keeps its own copy of out.Value: the caller may reuse the slice
	// once Complete returns.
	Complete(ctx context.Context, key string, token Token, out Outcome) error

	// Release removes the in-progress record owned by token, so that the
	// key can be claimed again. It returns ErrLeaseLost when token no longer
	// owns an in-progress record for key, and then changes nothing.
	Release(ctx context.Context, key string, token Token) error

	// Get returns the live record for key, or ErrNotFound.
	Get(ctx context.Context, key string) (Record, error)

	// Delete forgets key, whatever its state. Deleting a missing key is not
	// an error. It is meant for operators; an execution still running under
	// a deleted record can no longer complete it.
	Delete(ctx context.Context, key string) error
}

// ClaimRequest is the argument of Store.Claim.
type ClaimRequest struct {
	// Key names the logical call. Any bytes.
	Key string
	// Fingerprint identifies the payload the key was used with; empty when
	// the caller gave none. A record with another fingerprint is never
	// acquired.
	Fingerprint string
	// Lease is how long the claim lives without Extend. Always positive.
	Lease time.Duration
	// TTL is how long the in-progress record lives at most; <= 0: forever.
	TTL time.Duration
	// Takeover allows acquiring an in-progress record whose lease lapsed.
	Takeover bool
}

// Claim is the reply of Store.Claim.
type Claim struct {
	// Acquired reports that the caller now owns the key with Record.Token.
	Acquired bool
	// TookOver reports that Acquired replaced an execution whose lease
	// lapsed.
	TookOver bool
	// Abandoned reports, when not Acquired, that Record is in progress and
	// its lease lapsed, and that it was not taken over (Takeover was false
	// or the fingerprint differs).
	Abandoned bool
	// Record is the caller's new record when Acquired, else the live one.
	Record Record
}

// Outcome is what Store.Complete records.
type Outcome struct {
	// Status is StatusCompleted or StatusFailed.
	Status Status
	// Value is the encoded result or failure; it may be empty.
	Value []byte
	// TTL is how long the outcome is kept from now; <= 0: forever.
	TTL time.Duration
}

// Record is a key's state in a store.
type Record struct {
	Key         string
	Fingerprint string
	Status      Status
	// Token owns the current or last execution.
	Token Token
	// Value is the encoded outcome; empty while in progress. Callers must
	// not modify it.
	Value []byte
	// LeaseUntil is when an in-progress claim lapses without renewal.
	LeaseUntil time.Time
	// ExpiresAt is when the record is forgotten; zero: never.
	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// Memo, when a store sets it, is a slot of the record's where callers
	// keep what they derive from Value; see [Memo]. Stores that do not keep
	// records in memory leave it nil.
	Memo *Memo `json:"-"`
}

// Status is the state of a record.
type Status uint8

// The states of a record. The zero Status is not valid in a store.
const (
	StatusInProgress Status = iota + 1
	StatusCompleted
	StatusFailed
)

// Final reports whether s settles a record: StatusCompleted or
// StatusFailed, the statuses of an [Outcome].
func (s Status) Final() bool { return s == StatusCompleted || s == StatusFailed }

// String returns "in_progress", "completed" or "failed".
func (s Status) String() string {
	switch s {
	case StatusInProgress:
		return "in_progress"
	case StatusCompleted:
		return "completed"
	case StatusFailed:
		return "failed"
	}
	return "unknown"
}

// Token identifies one claim of a key. Tokens are never zero, unique per
// claim of a key, and a later claim of a key gets a larger token than any
// earlier claim of that key, including claims whose records were since
// released, deleted or expired: a counter kept with the record and
// restarted with a new one does not do. Writes carry the token, so a stale
// executor, whose record may have been deleted or expired under it, can
// never overwrite a newer execution's record (fencing).
type Token uint64
