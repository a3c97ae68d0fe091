package idempotency

import (
	"context"
	"errors"
	"sync"
	"time"
)

// renewal extends a running execution's lease every Lease/3 until stopped.
// It runs on a timer rather than a goroutine of its own, so a call that
// finishes within Lease/3 costs no renewal at all.
type renewal struct {
	g      *Guard
	ctx    context.Context
	key    string
	token  Token
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	stopped bool
	t       *time.Timer
	wg      sync.WaitGroup
	renewed time.Time // last time the lease was known to be ours
}

func (g *Guard) renew(ctx context.Context, key string, token Token, cancel context.CancelCauseFunc) *renewal {
	r := &renewal{g: g, ctx: context.WithoutCancel(ctx), key: key, token: token, cancel: cancel, renewed: time.Now()}
	r.mu.Lock() // fire may run before r.t is set
	r.t = time.AfterFunc(g.cfg.Lease/3, r.fire)
	r.mu.Unlock()
	return r
}

func (r *renewal) fire() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()

	lease := r.g.cfg.Lease
	ctx, cancel := context.WithTimeout(r.ctx, lease/3)
	err := r.g.store.Extend(ctx, r.key, r.token, lease)
	cancel()
	now := time.Now()
	switch {
	case err == nil:
		r.renewed = now
	case errors.Is(err, ErrLeaseLost):
		r.lost(err)
		return
	default:
		r.g.storeError(r.ctx, "extend", r.key, r.token, err)
		if now.Sub(r.renewed) >= lease {
			// Unrenewed for a whole lease: another caller may own the key
			// by now, so fn must stop.
			r.lost(err)
			return
		}
	}
	r.mu.Lock()
	if !r.stopped {
		r.t.Reset(lease / 3)
	}
	r.mu.Unlock()
}

func (r *renewal) lost(err error) {
	r.mu.Lock()
	stopped := r.stopped
	r.mu.Unlock()
	if stopped {
		return // fn finished meanwhile; its outcome is settled by the caller
	}
	r.g.observe(r.ctx, Event{Kind: EventLeaseLost, Key: r.key, Token: r.token, Err: err})
	r.cancel(ErrLeaseLost)
}

// stop ends renewals and waits for one in flight.
func (r *renewal) stop() {
	r.mu.Lock()
	r.stopped = true
	r.t.Stop()
	r.mu.Unlock()
	r.wg.Wait()
}
