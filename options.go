package idempotency

import "time"

// CallOption is a rare per-call setting of Do.
type CallOption func(*callOptions)

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

// applyOptions keeps the options off the heap when there are none: the
// duplicate path allocates nothing for them.
func applyOptions(opts []CallOption) callOptions {
	if len(opts) == 0 {
		return callOptions{}
	}
	co := new(callOptions)
	for _, o := range opts {
		o(co)
	}
	return *co
}

// WithFingerprint binds the key to payload: a later call with the same key
// and another payload fails with [ErrKeyReused] instead of replaying an
// outcome made for different input. Strings and byte slices are hashed as
// they are; other values by their canonical encoding (see Key). A payload
// that cannot be encoded fails the call with [ErrInvalidKey].
func WithFingerprint(payload any) CallOption {
	return func(o *callOptions) { o.payload, o.hasPayload = payload, true }
}

// WithTTL overrides [Config.TTL] for this call's outcome: 0 keeps
// Config.TTL, a negative value ([NoExpiry]) keeps the outcome forever. A TTL
// shorter than [Config.Lease] fails the call with [ErrInvalidConfig], fn not
// run (see [Config.Validate]).
func WithTTL(ttl time.Duration) CallOption {
	return func(o *callOptions) { o.ttl = ttl }
}

// WithWaitTimeout overrides [Config.WaitTimeout] for this call: how long a
// duplicate waits for a first call that is still running, under
// ReturnStored. Negative: do not wait ([ErrInProgress] at once).
func WithWaitTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { o.wait = d }
}
