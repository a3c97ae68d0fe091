package idempotency

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// NoExpiry as a TTL keeps outcomes forever.
const NoExpiry time.Duration = -1

// MaxKeyLen is the longest key Do accepts, in bytes.
const MaxKeyLen = 4096

// DuplicatePolicy says what a call gets when its key was seen before.
type DuplicatePolicy int

const (
	// ReturnStored returns the stored outcome; while the first call still
	// runs, waits up to Config.WaitTimeout for it. The default.
	ReturnStored DuplicatePolicy = iota
	// Wait waits for a running first call until the caller's context ends,
	// then returns its outcome.
	Wait
	// Reject returns ErrDuplicate whenever the key was seen before.
	Reject
)

func (p DuplicatePolicy) String() string {
	switch p {
	case ReturnStored:
		return "ReturnStored"
	case Wait:
		return "Wait"
	case Reject:
		return "Reject"
	}
	return fmt.Sprintf("DuplicatePolicy(%d)", int(p))
}

// FailurePolicy says what happens to a key whose fn returned an error.
type FailurePolicy int

const (
	// Release forgets the failed attempt so that the call may be retried.
	// The default.
	Release FailurePolicy = iota
	// Remember records the failure: later calls get it back (ErrFailed)
	// without running fn. Two errors are never remembered and release the
	// key: the caller's context ending (fn returned an error matching the
	// context's error or its cause, once the context is done) and a lost
	// lease. fn's own errors are remembered even when the caller's context
	// ended meanwhile.
	Remember
)

func (p FailurePolicy) String() string {
	switch p {
	case Release:
		return "Release"
	case Remember:
		return "Remember"
	}
	return fmt.Sprintf("FailurePolicy(%d)", int(p))
}

// Config configures a Guard. The zero value, like a nil *Config, means
// defaults. [Config.Validate] says what can never work; [New] refuses it.
type Config struct {
	// TTL is how long an outcome is remembered after it is recorded, and
	// the longest an in-progress record lives. Default [DefaultTTL] (24h);
	// NoExpiry keeps it forever. Other negative values, and a TTL shorter
	// than the Lease, are invalid (see [Config.Validate]). An fn still running when
	// its in-progress record expires loses its claim: keep TTL well above
	// the longest run (see [Config.MaxExecution]).
	TTL time.Duration
	// Lease is how long a claim lives without renewal; while fn runs the
	// guard renews it every Lease/3. Past a lapsed lease another caller may
	// take over (see NoTakeover). Default [DefaultLease] (30s); at least
	// [MinLease], and in practice a hundred times the store's worst round
	// trip: a renewal that cannot land within Lease/3 lets the lease lapse.
	Lease time.Duration
	// OnDuplicate is what a call gets when its key was seen before.
	// Default ReturnStored.
	OnDuplicate DuplicatePolicy
	// WaitTimeout is how long ReturnStored waits for a first call that is
	// still running before returning ErrInProgress. Default
	// [DefaultWaitTimeout] (10s); negative: do not wait.
	WaitTimeout time.Duration
	// OnFailure is what a failed fn leaves behind. Default Release.
	OnFailure FailurePolicy
	// NoTakeover, when true, never takes over a claim whose lease lapsed:
	// strict at-most-once. Callers get ErrAbandoned for that key until its
	// TTL ends or it is forgotten. Default false.
	NoTakeover bool
	// Name gives a key's low-cardinality name for events (Event.Name),
	// which observers use as a metric label instead of the raw key. Default
	// KeyName: the text before the first ':' of keys made by Key and Wrap.
	Name func(key string) string
	// Codec encodes results. Default JSON (encoding/json).
	Codec Codec
	// KnownErrors are sentinel errors that keep their identity (errors.Is)
	// when a remembered failure is replayed. They are matched by message,
	// so keep their messages stable across releases. Default none.
	KnownErrors []error
	// KnownErrorTypes are error types whose data a remembered failure
	// keeps, each given by a value of the type, typically a typed nil:
	// (*PaymentDeclined)(nil). When the failure matches errors.As for one
	// of them, that error is stored as JSON (its exported fields), and the
	// replayed *FailedError answers errors.As for the type with a value
	// decoded from it. Types are matched by package path and name, so keep
	// those stable across releases. A value that cannot be encoded and
	// decoded keeps only the message: that includes types with interface
	// fields, such as a wrapped error (list the wrapped sentinel in
	// KnownErrors instead). Nothing but data is stored: a replay runs no
	// code beyond the type's own UnmarshalJSON. Default none.
	KnownErrorTypes []error
	// Logger receives store errors and Observer panics (level error: an
	// outcome that could not be recorded means fn may run again) and other
	// conditions worth a look (level warn: a lost claim, a result that
	// cannot be encoded, MaxExecution passed). Default: the errors go to
	// [slog.Default] (as it is when they are logged), the rest is dropped;
	// give a logger to see warnings, or one with [slog.DiscardHandler] for
	// silence.
	Logger *slog.Logger
	// LogRawKeys, when true, shows keys in log lines as they are (key=).
	// By default a line shows a keyed digest of the key instead
	// (key_hmac=, see [KeyDigest]), since keys may carry what callers put in
	// them. Default false.
	LogRawKeys bool
	// LogKeySecret is the secret of the key digests in logs. Give every
	// process the same one to correlate their lines, and use [KeyDigest] to
	// find a key's lines. Default: a random secret per Guard.
	LogKeySecret []byte
	// MaxExecution, when positive, bounds how long fn may run: after it,
	// the lease is no longer renewed and fn's context is cancelled with
	// cause [ErrMaxExecution]. fn that stops then and returns that error (or
	// its context's) releases the key, like a cancelled call; a value
	// returned in time to record is recorded. It keeps a stalled fn (a
	// hung downstream, a client that stopped reading) from holding its key
	// for ever; it cannot stop an fn that ignores its context. At most
	// TTL (see [Config.Validate]). Default 0: no bound.
	MaxExecution time.Duration
	// Observer receives an event per notable step, for metrics and
	// tracing. Default none.
	Observer Observer
}

// The defaults of Config, for programs that show or derive settings (a
// CLI's flag defaults, say).
const (
	DefaultTTL         = 24 * time.Hour
	DefaultLease       = 30 * time.Second
	DefaultWaitTimeout = 10 * time.Second
)

// MinLease is the shortest Config.Lease. A lease must also outlast a
// store round trip by far (a renewal every Lease/3 must land before the
// lease lapses), which only the deployment knows: use at least a hundred
// times the store's worst round trip.
const MinLease = time.Millisecond

// Validate reports what in c can never work, with an error matching
// [ErrInvalidConfig] for each problem; nil means c is valid. A nil c (like
// the zero Config) is valid: it means defaults. [New] panics with this error.
//
// Refused: a negative TTL other than [NoExpiry]; a Lease shorter than
// [MinLease]; a TTL shorter than the Lease (the in-progress record would
// expire while its claim is still live, and a second caller could run fn
// beside the first); a negative MaxExecution, or one longer than the TTL;
// unknown OnDuplicate or OnFailure values; nil entries
// in KnownErrors or KnownErrorTypes.
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.TTL < 0 && c.TTL != NoExpiry {
		bad("TTL %v is negative (want > 0, 0 for the default %v, or NoExpiry)", c.TTL, DefaultTTL)
	}
	if c.Lease != 0 && c.Lease < MinLease {
		bad("Lease %v is shorter than MinLease %v (0 means the default %v)", c.Lease, MinLease, DefaultLease)
	}
	if ttl, lease := cmp.Or(c.TTL, DefaultTTL), cmp.Or(c.Lease, DefaultLease); ttl > 0 && lease >= MinLease && ttl < lease {
		bad("TTL %v is shorter than Lease %v: a record would expire while its claim is live, and a second caller could run fn beside the first", ttl, lease)
	}
	if c.MaxExecution < 0 {
		bad("MaxExecution %v is negative (want > 0, or 0 for no bound)", c.MaxExecution)
	}
	if ttl := cmp.Or(c.TTL, DefaultTTL); ttl > 0 && c.MaxExecution > ttl {
		bad("MaxExecution %v is longer than TTL %v: fn would outlive its in-progress record", c.MaxExecution, ttl)
	}
	if c.OnDuplicate < ReturnStored || c.OnDuplicate > Reject {
		bad("unknown OnDuplicate %v", c.OnDuplicate)
	}
	if c.OnFailure < Release || c.OnFailure > Remember {
		bad("unknown OnFailure %v", c.OnFailure)
	}
	for i, e := range c.KnownErrors {
		if e == nil {
			bad("KnownErrors[%d] is nil", i)
		}
	}
	for i, e := range c.KnownErrorTypes {
		if e == nil {
			bad("KnownErrorTypes[%d] is an untyped nil; give a typed value such as (*MyError)(nil)", i)
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c, which Validate accepted, with defaults filled in.
func (c Config) withDefaults() Config {
	c.TTL = cmp.Or(c.TTL, DefaultTTL)
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.WaitTimeout = cmp.Or(c.WaitTimeout, DefaultWaitTimeout)
	if c.Codec == nil {
		c.Codec = JSONCodec{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(defaultHandler{})
	}
	if c.LogKeySecret == nil && !c.LogRawKeys {
		c.LogKeySecret = newLogKeySecret()
	}
	return c
}
