package idempotency

import (
	"context"
	"log/slog"
	"time"
)

// Observer receives events from a Guard, for metrics and tracing.
//
// Observe is called synchronously on the goroutine of the call (Do), never
// on a renewal's, and only once the call's claim is settled: the outcome
// is recorded, released or remembered before EventExecuted is observed,
// and events of the renewal while fn ran (EventLeaseLost, EventStoreError)
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

// Event is one notable step of a call.
type Event struct {
	Kind  EventKind
	Key   string
	Token Token         // the execution's token, where there is one
	Took  time.Duration // EventExecuted: fn's run time
	Err   error         // the error involved, if any
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
	g.cfg.Observer.Observe(ctx, e)
}
