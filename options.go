package idempotency

import "time"

// CallOption is a rare per-call setting of Do, made by [WithFingerprint],
// [WithTTL] or [WithWaitTimeout]. The zero CallOption sets nothing.
//
// It is a value rather than a function so that applying options costs no
// allocation.
type CallOption struct {
	set     optionKind
	payload any
	d       time.Duration
}

type optionKind uint8

const (
	optFingerprint optionKind = iota + 1
	optTTL
	optWait
)

type callOptions struct {
	payload    any
	hasPayload bool
	ttl        time.Duration
	wait       time.Duration

	epoch  uint64      // the local cache's, read before the claim
	cached *localEntry // the local cache's answer to the claim, if any

	// Filled in by the call, for a CallObserver's EventEnd.
	acquired, tookOver, lost bool
	token                    Token
	panicked                 error // fn panicked or exited its goroutine
}

// applyOptions returns the settings opts make; later options override
// earlier ones.
func applyOptions(opts []CallOption) (co callOptions) {
	for _, o := range opts {
		switch o.set {
		case optFingerprint:
			co.payload, co.hasPayload = o.payload, true
		case optTTL:
			co.ttl = o.d
		case optWait:
			co.wait = o.d
		}
	}
	return co
}

// WithFingerprint binds the key to payload: a later call with the same key
// and another payload fails with [ErrKeyReused] instead of replaying an
// outcome made for different input. Strings and byte slices are hashed as
// they are; other values by their canonical encoding (see Key). A payload
// that cannot be encoded fails the call with [ErrInvalidKey].
func WithFingerprint(payload any) CallOption {
	return CallOption{set: optFingerprint, payload: payload}
}

// WithTTL overrides [Config.TTL] for this call's outcome: 0 keeps
// Config.TTL, a negative value ([NoExpiry]) keeps the outcome forever. A TTL
// shorter than [Config.Lease] fails the call with [ErrInvalidConfig], fn not
// run (see [Config.Validate]).
func WithTTL(ttl time.Duration) CallOption {
	return CallOption{set: optTTL, d: ttl}
}

// WithWaitTimeout overrides [Config.WaitTimeout] for this call: how long a
// duplicate waits for a first call that is still running, under
// ReturnStored. Negative: do not wait ([ErrInProgress] at once).
func WithWaitTimeout(d time.Duration) CallOption {
	return CallOption{set: optWait, d: d}
}
