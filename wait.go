package idempotency

import (
	"context"
	"errors"
	"time"
)

// Polling bounds for stores that cannot notify, and for notifications that
// never come.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = 500 * time.Millisecond
)

type pollState struct{ next time.Duration }

// Watch returns a channel that is closed once the record of key may have
// changed (see [Watcher]), and the function that releases the watch. The
// channel is nil when the store cannot notify: it is no Watcher, its
// Watch failed, or it answered an error matching errors.ErrUnsupported (a
// Redis store with pub/sub off), after which the guard stops asking it.
// Callers poll the record then, as the guard does while it waits.
func (g *Guard) Watch(ctx context.Context, key string) (changed <-chan struct{}, stop func()) {
	if g.watcher == nil || g.noWatch.Load() {
		return nil, func() {}
	}
	ch, stop, err := g.watcher.Watch(ctx, key)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			g.noWatch.Store(true)
		}
		return nil, func() {}
	}
	return ch, stop
}

// wait blocks until the in-progress record rec may have changed: the store
// says so (Watcher), the lease is due to lapse, a poll is due, or the
// deadline passes. It returns an error only when ctx ends.
func (g *Guard) wait(ctx context.Context, rec Record, deadline time.Time, poll *pollState) error {
	var changed <-chan struct{}
	if ch, stop := g.Watch(ctx, rec.Key); ch != nil {
		defer stop()
		// The record may have changed between the claim and the
		// watch: look once more before sleeping.
		cur, err := g.store.Get(ctx, rec.Key)
		switch {
		case errors.Is(err, ErrNotFound):
			return ctx.Err()
		case err != nil:
			// Whether it changed is unknown: poll rather than trust
			// the watch, and rather than claim again at once, which
			// would spin for as long as reads fail.
		case cur.Token != rec.Token || cur.Status != StatusInProgress:
			return ctx.Err()
		default:
			rec, changed = cur, ch
		}
	}
	// Wake no later than the lease lapses (the executor may have died), so
	// that a lost notification cannot hold a waiter past the lease; without
	// notifications, poll with a growing interval. The lease is on the
	// store's clock: when it looks lapsed here although the store did not
	// let it be taken over, the clocks differ, and the waiter polls too
	// rather than claim again every millisecond.
	wake := time.Until(rec.LeaseUntil) + time.Millisecond
	if changed == nil || wake <= 0 {
		switch {
		case poll.next == 0:
			poll.next = minPoll
		case poll.next < maxPoll:
			poll.next = min(2*poll.next, maxPoll)
		}
		if wake <= 0 {
			wake = poll.next
		}
		wake = min(wake, poll.next)
	}
	if !deadline.IsZero() {
		wake = min(wake, time.Until(deadline))
	}
	wake = max(wake, time.Millisecond)
	t := time.NewTimer(wake)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return nil
}
