package idempotency

import (
	"context"
	"errors"
	"sync"
	"time"
)

// execution is the context fn runs under: cancelled with ErrLeaseLost when
// the claim is lost, carrying the claim's token, and renewing the lease
// every Lease/3 until stopped. Renewals run on a timer rather than a
// goroutine of their own, so a call that finishes within Lease/3 costs no
// renewal at all.
type execution struct {
	context.Context // fn's: cancelled by cancel
	parent          context.Context
	cancel          context.CancelCauseFunc
	g               *Guard
	key             string
	token           Token

	mu      sync.Mutex
	stopped bool
	t       *time.Timer
	wg      sync.WaitGroup
	renewed time.Time // last time the lease was known to be ours
}

func (g *Guard) start(ctx context.Context, key string, token Token) *execution {
	runCtx, cancel := context.WithCancelCause(ctx)
	e := &execution{Context: runCtx, parent: ctx, cancel: cancel, g: g, key: key, token: token, renewed: time.Now()}
	e.mu.Lock() // fire may run before e.t is set
	e.t = time.AfterFunc(g.cfg.Lease/3, e.fire)
	e.mu.Unlock()
	return e
}

// Value serves TokenFrom.
func (e *execution) Value(key any) any {
	if key == (tokenKey{}) {
		return e.token
	}
	return e.Context.Value(key)
}

func (e *execution) fire() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	defer e.wg.Done()

	lease := e.g.cfg.Lease
	next := lease / 3
	// The store moves the lease from when it gets the request, no later
	// than it was sent: count from the sending, not from the reply.
	sent := time.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.parent), lease/3)
	err := e.g.store.Extend(ctx, e.key, e.token, lease)
	cancel()
	switch {
	case err == nil:
		e.renewed = sent
	case errors.Is(err, ErrLeaseLost):
		e.lost(err)
		return
	default:
		e.g.storeError(e.parent, "extend", e.key, e.token, err)
		left := e.renewed.Add(lease).Sub(time.Now())
		if left <= 0 {
			// Unrenewed for a whole lease: another caller may own the key
			// by now, so fn must stop.
			e.lost(err)
			return
		}
		// Try again, and look again no later than the lease lapses.
		next = min(next, left)
	}
	e.mu.Lock()
	if !e.stopped {
		e.t.Reset(next)
	}
	e.mu.Unlock()
}

func (e *execution) lost(err error) {
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	if stopped {
		return // fn finished meanwhile; its outcome is settled by the caller
	}
	e.g.observe(e.parent, Event{Kind: EventLeaseLost, Key: e.key, Token: e.token, Err: err})
	e.cancel(ErrLeaseLost)
}

// stop ends renewals and waits for one in flight.
func (e *execution) stop() {
	e.mu.Lock()
	e.stopped = true
	e.t.Stop()
	e.mu.Unlock()
	e.wg.Wait()
}

// leaseLost reports whether fn's context was cancelled for a lost claim.
func (e *execution) leaseLost() bool { return context.Cause(e.Context) == ErrLeaseLost }
