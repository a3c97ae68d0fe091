package idempotency

import (
	"context"
	"time"
)

// Observer receives events from a Guard, for metrics and tracing. Observe
// is called synchronously on the calling goroutine: keep it fast.
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
