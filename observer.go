package idempotency

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Observer receives events from a Guard, for metrics and tracing.
//
// Observe is called synchronously on the goroutine of the call (Do), never
// on a renewal's, and only once the call's claim is settled: the outcome
// is recorded, released or remembered before [EventExecuted] is observed,
// and events of the renewal while fn ran ([EventLeaseLost], [EventStoreError])
// are observed after fn returns, before EventExecuted. So an Observer that
// blocks delays its caller only, never a renewal or another call, and one
// that panics cannot leave a key claimed: the panic is recovered and
// logged at error level ([Config.Logger]), and the call goes on as if the
// event had been observed. Keep Observe fast all the same.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// CallObserver is an Observer that also sees each call begin, so that it
// can wrap the whole call (a span). Start gets an [EventStart] and returns
// the context the call goes on with: fn's context and every later event of
// the call derive from it, and the call's last event is an [EventEnd].
type CallObserver interface {
	Observer
	Start(ctx context.Context, e Event) context.Context
}

// Event is one notable step of a call.
type Event struct {
	Kind EventKind
	// Key is the call's key, raw. It may carry client data and is unbounded
	// in number: do not use it as a metric label; use Name.
	Key string
	// Name is the key's low-cardinality name: Config.Name(Key), by default
	// KeyName(Key).
	Name  string
	Token Token         // the execution's token, where there is one
	Took  time.Duration // EventExecuted: fn's run time; EventEnd: the call's; EventStore: the operation's
	Err   error         // the error involved, if any; EventEnd: what the call returned
	// Op is the store operation of an [EventStore]: claim, complete,
	// release, get or delete. Lease renewals (extend) are not reported:
	// they run on the guard's renewal goroutines, which an observer must
	// never be able to stall.
	Op string
	// Result says how the call ended, in an [EventEnd].
	Result Result
}

// Result classifies how a call ended, for metrics: every call ends with
// exactly one [EventEnd] carrying one Result.
type Result string

// The results of a call.
const (
	ResultExecuted   Result = "executed"    // fn ran (its error, if any, in Err)
	ResultTakeover   Result = "takeover"    // fn ran after taking over a claim whose lease lapsed
	ResultLeaseLost  Result = "lease_lost"  // fn ran and lost its claim: its outcome was not recorded
	ResultReplayed   Result = "replayed"    // a stored outcome answered the call
	ResultFailed     Result = "failed"      // a remembered failure answered the call (ErrFailed)
	ResultConflict   Result = "conflict"    // refused: in progress, duplicate rejected or abandoned
	ResultKeyReused  Result = "key_reused"  // refused: the key was used with another fingerprint
	ResultStoreError Result = "store_error" // the store failed before fn ran, or fn's outcome was not recorded
	ResultInvalidKey Result = "invalid_key" // the key or fingerprint was refused before anything ran
)

// KeyName returns the name part of a key made by Key or Wrap: the text
// before the first ':', or "" when there is none. It is the default
// [Config.Name], a label that is safe for metrics.
func KeyName(key string) string {
	if i := strings.IndexByte(key, ':'); i >= 0 {
		return key[:i]
	}
	return ""
}

// EventKind says what happened.
type EventKind uint8

const (
	// EventExecuted: fn ran (Err is fn's error, if any).
	EventExecuted EventKind = iota + 1
	// EventReplayed: a duplicate got the stored outcome without running fn.
	EventReplayed
	// EventConflict: a call was refused: in progress, duplicate rejected,
	// key reused with another payload, or abandoned (Err says which).
	EventConflict
	// EventTakeover: this call took over a claim whose lease lapsed.
	EventTakeover
	// EventLeaseLost: a running execution lost its claim.
	EventLeaseLost
	// EventStoreError: a store operation failed (Err).
	EventStoreError
	// EventStart: a call began; given to CallObserver.Start only.
	EventStart
	// EventEnd: a call returned (Result, Took, Err); sent to a
	// CallObserver only, with the context its Start returned.
	EventEnd
	// EventStore: one store operation finished (Op, Took, Err); sent to a
	// CallObserver only.
	EventStore
)

func (k EventKind) String() string {
	switch k {
	case EventExecuted:
		return "executed"
	case EventReplayed:
		return "replayed"
	case EventConflict:
		return "conflict"
	case EventTakeover:
		return "takeover"
	case EventLeaseLost:
		return "lease_lost"
	case EventStoreError:
		return "store_error"
	case EventStart:
		return "start"
	case EventEnd:
		return "end"
	case EventStore:
		return "store"
	}
	return "unknown"
}

// observe hands e to the Observer, recovering a panic (see Observer).
func (g *Guard) observe(ctx context.Context, e Event) {
	if g.cfg.Observer == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "idempotency: Observer panicked; event dropped",
				slog.String("event", e.Kind.String()), g.keyAttr(e.Key), slog.Any("panic", p))
		}
	}()
	e.Name = g.name(e.Key)
	g.cfg.Observer.Observe(ctx, e)
}
