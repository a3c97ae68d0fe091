package idempotency

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// execution is the context fn runs under: cancelled with ErrLeaseLost when
// the claim is lost, carrying the claim's token, and renewing the lease
// every Lease/3 until stopped.
//
// Its cancellation is made when first needed (fn asks for Done, the claim
// is lost, or the context is used after the call ended), not per call:
// until then nothing can have cancelled it but its parent, so the
// parent's Err and values are its own, and most calls never pay for a
// cancellable context.
type execution struct {
	parent  context.Context
	g       *Guard
	key     string
	token   Token
	renewed time.Time // last time the lease was known to be ours
	// claimLost is set when this execution's own claim was lost. fn's
	// context cause cannot say so alone: a parent context cancelled with
	// ErrLeaseLost (an enclosing guarded call that lost its claim) gives
	// it the same cause.
	claimLost atomic.Bool

	// built is set, under q.mu, once ctx and cancel hold the cancellable
	// context; ended once the call returned (ctx is then cancelled).
	built, ended atomic.Bool
	ctx          context.Context
	cancel       context.CancelCauseFunc

	q *renewals // the queue e is renewed from

	// Guarded by q.mu.
	due        time.Time // next renewal, while queued
	prev, next *execution
	queued     bool
	stopped    bool
	expired    bool           // ran past MaxExecution: no more renewals
	limit      timer          // fires at MaxExecution, if set
	events     []Event        // for the caller to observe; read after stop
	wg         sync.WaitGroup // a renewal in flight
}

func (g *Guard) start(ctx context.Context, key string, token Token) *execution {
	now := g.clock.Tick()
	// Tokens are unique per key and spread over the queues, which keeps
	// concurrent first calls from contending on one lock.
	q := &g.renewals[uint64(token)*0x9E3779B97F4A7C15>>(64-renewalQueuesLog2)]
	e := &execution{parent: ctx, g: g, key: key, token: token, renewed: now, q: q}
	q.add(e, now, now.Add(g.cfg.Lease/3))
	if g.cfg.MaxExecution > 0 {
		e.limit = g.clock.AfterFunc(g.cfg.MaxExecution, e.expire)
	}
	return e
}

// Deadline implements context.Context: the parent's.
func (e *execution) Deadline() (time.Time, bool) { return e.parent.Deadline() }

// Done implements context.Context.
func (e *execution) Done() <-chan struct{} { return e.cancellable().Done() }

// Err implements context.Context.
func (e *execution) Err() error {
	if c := e.made(); c != nil {
		return c.Err()
	}
	return e.parent.Err()
}

// Value implements context.Context and serves TokenFrom.
func (e *execution) Value(key any) any {
	if key == (tokenKey{}) {
		return e.token
	}
	if c := e.made(); c != nil {
		// context.Cause finds the cancellation this way.
		return c.Value(key)
	}
	return e.parent.Value(key)
}

// made returns the cancellable context if it exists or must (the call
// ended), else nil: the parent answers for it.
func (e *execution) made() context.Context {
	switch {
	case e.built.Load():
		return e.ctx
	case e.ended.Load():
		return e.cancellable()
	}
	return nil
}

// cancellable returns the cancellable context, making it on first use.
func (e *execution) cancellable() context.Context {
	if !e.built.Load() {
		e.q.mu.Lock()
		if !e.built.Load() {
			e.ctx, e.cancel = context.WithCancelCause(e.parent)
			if e.ended.Load() {
				e.cancel(nil)
			}
			e.built.Store(true)
		}
		e.q.mu.Unlock()
	}
	return e.ctx
}

// cancelWith cancels fn's context with cause.
func (e *execution) cancelWith(cause error) {
	e.cancellable()
	e.cancel(cause)
}

// end cancels fn's context as the call returns, as a context of its own
// would be: goroutines fn left behind with it stop.
func (e *execution) end() {
	e.q.mu.Lock()
	e.ended.Store(true)
	built := e.built.Load()
	e.q.mu.Unlock()
	if built {
		e.cancel(nil)
	}
}

// expire ends an execution that ran past Config.MaxExecution: no more
// renewals, and fn is told to stop.
func (e *execution) expire() {
	e.q.mu.Lock()
	if e.stopped {
		e.q.mu.Unlock()
		return
	}
	e.expired = true
	e.q.unlink(e)
	e.q.mu.Unlock()
	e.g.cfg.Logger.LogAttrs(e.parent, slog.LevelWarn, "idempotency: execution ran past MaxExecution; cancelling fn",
		e.g.keyAttr(e.key), slog.Uint64("token", uint64(e.token)), slog.Duration("max_execution", e.g.cfg.MaxExecution))
	e.cancelWith(ErrMaxExecution)
}

// renew extends the lease once, then queues the next renewal.
func (e *execution) renew() {
	defer e.wg.Done()
	defer e.q.renewalDone()
	lease := e.g.cfg.Lease
	next := lease / 3
	// The store moves the lease from when it gets the request, no later
	// than it was sent: count from the sending, not from the reply.
	sent := e.g.clock.Now()
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
		e.g.logStoreError(e.parent, "extend", e.key, e.token, err)
		e.report(Event{Kind: EventStoreError, Key: e.key, Token: e.token, Err: err})
		left := e.renewed.Add(lease).Sub(e.g.clock.Now())
		if left <= 0 {
			// Unrenewed for a whole lease: another caller may own the key
			// by now, so fn must stop.
			e.lost(err)
			return
		}
		// Try again, and look again no later than the lease lapses.
		next = min(next, left)
	}
	now := e.g.clock.Now()
	e.q.add(e, now, now.Add(next))
}

func (e *execution) lost(err error) {
	e.q.mu.Lock()
	stopped := e.stopped
	e.q.mu.Unlock()
	if stopped {
		return // fn finished meanwhile; its outcome is settled by the caller
	}
	e.g.cfg.Logger.LogAttrs(e.parent, slog.LevelWarn, "idempotency: claim lost while running; cancelling fn",
		e.g.keyAttr(e.key), slog.Uint64("token", uint64(e.token)), slog.Any("error", err))
	e.report(Event{Kind: EventLeaseLost, Key: e.key, Token: e.token, Err: err})
	e.claimLost.Store(true)
	e.cancelWith(ErrLeaseLost)
}

// report keeps an event of the renewal for the caller to observe once fn
// has returned and the claim is settled: an Observer never runs on the
// renewal's goroutine, where a panic would crash the process and a block
// would stop renewals.
// The log has every one; a renewal that fails now and then for hours
// must not grow the list without bound.
func (e *execution) report(ev Event) {
	e.q.mu.Lock()
	if len(e.events) < maxReportedEvents || ev.Kind == EventLeaseLost {
		e.events = append(e.events, ev)
	}
	e.q.mu.Unlock()
}

// maxReportedEvents bounds the renewal's store errors kept for the
// Observer.
const maxReportedEvents = 16

// stop ends renewals and waits for one in flight.
func (e *execution) stop() {
	e.q.mu.Lock()
	e.stopped = true
	e.q.unlink(e)
	e.q.mu.Unlock()
	if e.limit != nil {
		e.limit.Stop()
	}
	e.wg.Wait()
}

// leaseLost reports whether fn's context was cancelled because this
// execution lost its claim.
func (e *execution) leaseLost() bool { return e.claimLost.Load() }

// renewalQueuesLog2 sets how many renewal queues a Guard has.
const renewalQueuesLog2 = 3

// renewals is a queue of a Guard's executions by the time of their next
// renewal, served by one timer. Executions of a Guard share one Lease, so
// they come due about in the order they started and joining the queue is
// cheap. A call that ends within Lease/3 (nearly all of them) costs two
// list operations under a lock: the timer is made once per queue, and it
// is left to fire when the queue empties rather than stopped, so that the
// next call need not arm it again (it fires at most once per Lease/3 while
// calls come, and once, to no effect, after the last). It holds the queue
// only weakly, so that no timer keeps an idle Guard alive.
type renewals struct {
	clock      clock
	mu         sync.Mutex
	head, tail *execution
	t          timer     // made on first use
	at         time.Time // when t fires; zero when it is not armed
	inflight   int       // renewals started and not yet settled
}

// add queues e for renewal at due, unless e was stopped.
func (r *renewals) add(e *execution, now, due time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.stopped || e.expired {
		return
	}
	e.due, e.queued = due, true
	// Keep the queue sorted by due time; e is nearly always last.
	p := r.tail
	for p != nil && p.due.After(due) {
		p = p.prev
	}
	e.prev = p
	if p == nil {
		e.next, r.head = r.head, e
	} else {
		e.next, p.next = p.next, e
	}
	if e.next == nil {
		r.tail = e
	} else {
		e.next.prev = e
	}
	r.arm(now, due)
}

// arm makes the timer fire no later than at. r.mu is held.
func (r *renewals) arm(now, at time.Time) {
	if !r.at.IsZero() && !r.at.After(at) {
		return
	}
	r.at = at
	d := at.Sub(now)
	if r.t == nil {
		q := weak.Make(r)
		r.t = r.clock.AfterFunc(d, func() {
			if r := q.Value(); r != nil {
				r.fire()
			}
		})
		return
	}
	r.t.Reset(d)
}

// renewalDone counts a renewal as done (re-queued, or its claim lost);
// tests wait for that.
func (r *renewals) renewalDone() {
	r.mu.Lock()
	r.inflight--
	r.mu.Unlock()
}

// unlink takes e off the queue if it is there. r.mu is held.
func (r *renewals) unlink(e *execution) {
	if !e.queued {
		return
	}
	if e.prev == nil {
		r.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		r.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next, e.queued = nil, nil, false
}

// fire starts the renewals that are due, each on a goroutine of its own so
// that a slow store delays no other execution, and arms the timer for the
// next one.
func (r *renewals) fire() {
	now := r.clock.Now()
	var due []*execution
	r.mu.Lock()
	r.at = time.Time{}
	for e := r.head; e != nil && !e.due.After(now); e = r.head {
		r.unlink(e)
		e.wg.Add(1) // under r.mu, so that stop waits for it
		r.inflight++
		due = append(due, e)
	}
	if r.head != nil {
		r.arm(now, r.head.due)
	}
	r.mu.Unlock()
	for _, e := range due {
		go e.renew()
	}
}
