package idempotency

import (
	"errors"
	"reflect"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Errors, for errors.Is. The errors Do returns are *Error values (or a
// *FailedError for a replayed failure) that match one of these and carry
// the key.
var (
	// ErrInProgress: a first call with this key is still running (HTTP 409).
	ErrInProgress = errors.New("idempotency: a call with this key is in progress")
	// ErrDuplicate: OnDuplicate is Reject and the key was seen before.
	// When that call is still running, the error matches [ErrInProgress] too.
	ErrDuplicate = errors.New("idempotency: duplicate call")
	// ErrKeyReused: the key was used before with another fingerprint
	// (HTTP 422).
	ErrKeyReused = errors.New("idempotency: key reused with another payload")
	// ErrAbandoned: NoTakeover is set and the previous execution's lease
	// lapsed; it may or may not have run. Only an operator (Forget) or the
	// record's TTL frees the key.
	ErrAbandoned = errors.New("idempotency: previous execution abandoned")
	// ErrLeaseLost: this execution lost its claim while running. fn's
	// context is cancelled with this cause.
	ErrLeaseLost = idemtype.ErrLeaseLost
	// ErrMaxExecution: fn ran past [Config.MaxExecution]. fn's context is
	// cancelled with this cause, and its lease is no longer renewed.
	ErrMaxExecution = errors.New("idempotency: execution ran past Config.MaxExecution")
	// ErrNotRecorded: fn ran but its outcome could not be stored; Do
	// returns it together with fn's result.
	ErrNotRecorded = errors.New("idempotency: outcome not recorded")
	// ErrResultUnavailable: the stored outcome cannot be turned back into
	// the result type (it could not be encoded, or decoding failed). fn is
	// never run again for it.
	ErrResultUnavailable = errors.New("idempotency: stored result unavailable")
	// ErrFailed: a remembered failure replayed (OnFailure: Remember).
	ErrFailed = errors.New("idempotency: remembered failure")
	// ErrStore: the store failed; fn was not run (fail closed). Stores'
	// own errors of that kind match it too, such as memstore's ErrFull.
	ErrStore = idemtype.ErrStore
	// ErrInvalidKey: empty or oversized key, or arguments or a fingerprint
	// payload that cannot be encoded; fn was not run.
	ErrInvalidKey = errors.New("idempotency: invalid key")
	// ErrInvalidConfig: a Config that can never work ([Config.Validate]),
	// or a per-call option that cannot ([WithTTL] shorter than the lease);
	// fn was not run.
	ErrInvalidConfig = errors.New("idempotency: invalid config")
	// ErrNotFound: Store.Get found no live record for the key.
	ErrNotFound = idemtype.ErrNotFound
	// ErrCorrupt: a stored record cannot be read.
	ErrCorrupt = idemtype.ErrCorrupt
	// ErrClosed: the store was closed; every operation after its Close
	// fails with an error matching it (see [Closer]). Do reports it as
	// [ErrStore], fn not run.
	ErrClosed = idemtype.ErrClosed
)

// Error is the error Do returns for everything but fn's own errors and
// replayed failures. Kind is one of the sentinel errors above, which
// errors.Is matches; Err, if any, is the underlying cause (a store error, a
// context error, a codec error), which errors.Is and errors.As reach too.
type Error struct {
	Kind  error  // ErrInProgress, ErrDuplicate, ErrKeyReused, ...
	Key   string // the key of the call
	Token Token  // the token involved, if any: the running execution's or this one's
	Err   error  // the cause, if any
}

func (e *Error) Error() string {
	// The key stays out of the message, which ends up in logs: keys may
	// carry client data (Config.LogRawKeys is the opt-in). Key has it.
	msg := e.Kind.Error()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// FailedError is a remembered failure replayed to a later call (OnFailure:
// Remember). Its message is the original error's; it matches [ErrFailed] and
// every sentinel of [Config.KnownErrors] that the original error matched,
// and errors.As finds in it the errors of [Config.KnownErrorTypes] that the
// original error wrapped, decoded from the store.
type FailedError struct {
	Key     string
	Message string // the original error's message
	known   []error
	typed   []error
}

// Unwrap returns the errors of known types decoded from the record.
func (e *FailedError) Unwrap() []error { return e.typed }

func (e *FailedError) Error() string { return e.Message }

// Is reports whether target is [ErrFailed] or one of the known errors the
// original error matched.
func (e *FailedError) Is(target error) bool {
	if target == ErrFailed {
		return true
	}
	for _, k := range e.known {
		if reflect.TypeOf(k).Comparable() && k == target {
			return true
		}
	}
	return false
}
