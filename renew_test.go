package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/idempotency-go/idempotency"
)

// Renewal tests run on a hand-moved clock shared by the guard's renewals
// and the store, so that a renewal happens at an exact instant and a lease
// lapses at an exact instant, however loaded the machine is.

// extendLog wraps a store, counts renewals and fails the test if a lease
// is renewed after its execution recorded an outcome.
type extendLog struct {
	idempotency.Store
	t *testing.T
	// maxWait, if set, is the longest a renewal may wait for the store:
	// a renewal stuck on a store that does not answer must give up while
	// the lease still holds.
	maxWait time.Duration
	mu      sync.Mutex
	settled map[string]bool
	extends map[string]int
}

func newExtendLog(t *testing.T, s idempotency.Store) *extendLog {
	return &extendLog{Store: s, t: t, settled: map[string]bool{}, extends: map[string]int{}}
}

func (s *extendLog) Extend(ctx context.Context, key string, tok idempotency.Token, lease time.Duration) error {
	s.mu.Lock()
	if s.settled[key] {
		s.t.Errorf("%s: lease renewed after its outcome was recorded", key)
	}
	s.extends[key]++
	s.mu.Unlock()
	if d, ok := ctx.Deadline(); s.maxWait > 0 && (!ok || time.Until(d) > s.maxWait) {
		s.t.Errorf("%s: renewal waits for the store until %v, more than %v", key, d, s.maxWait)
	}
	return s.Store.Extend(ctx, key, tok, lease)
}

func (s *extendLog) Complete(ctx context.Context, key string, tok idempotency.Token, out idempotency.Outcome) error {
	s.mu.Lock()
	s.settled[key] = true
	s.mu.Unlock()
	return s.Store.Complete(ctx, key, tok, out)
}

func (s *extendLog) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extends[key]
}

// blocked starts Do on key with a fn that runs until release is closed;
// it returns fn's context once fn runs and Do's error on done.
func blocked(t *testing.T, g *idempotency.Guard, key string) (fnCtx context.Context, release chan struct{}, done chan error) {
	t.Helper()
	return blockedWith(t, g, key, nil)
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20s", what)
		panic("unreachable")
	}
}

// A lease is renewed every Lease/3 while fn runs, each renewal moving it a
// whole Lease past the renewal and waiting for the store at most Lease/3,
// so that a duplicate never finds it lapsed; once fn has returned it is
// never renewed again.
func TestRenewalCadence(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	c := newClock()
	s := newExtendLog(t, newStore(t, c))
	s.maxWait = lease / 3
	g := idempotency.NewAt(s, &idempotency.Config{Lease: lease, WaitTimeout: -1}, c)
	_, release, done := blocked(t, g, "k")
	for i := 1; i <= 9; i++ {
		if n := c.Advance(lease/3 - time.Millisecond); n != 0 {
			t.Fatalf("renewal %d: %d timers fired before Lease/3", i, n)
		}
		idempotency.WaitRenewals(t, g)
		if n := s.count("k"); n != i-1 {
			t.Fatalf("%d renewals before Lease/3 had passed %d times", n, i)
		}
		c.Advance(time.Millisecond)
		idempotency.WaitRenewals(t, g)
		if n := s.count("k"); n != i {
			t.Fatalf("%d renewals after Lease/3 passed %d times", n, i)
		}
		rec, err := g.Lookup(context.Background(), "k")
		if err != nil || !rec.LeaseUntil.Equal(c.Now().Add(lease)) {
			t.Fatalf("renewal %d: lease until %v, %v; want %v", i, rec.LeaseUntil, err, c.Now().Add(lease))
		}
		_, err = idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
			t.Error("took over a renewed lease")
			return 0, nil
		})
		wantErr(t, err, idempotency.ErrInProgress)
	}
	close(release)
	if err := receive(t, done, "outcome"); err != nil {
		t.Fatal(err)
	}
	if idempotency.RenewalsArmed(g) {
		t.Fatal("a renewal is still armed after fn returned")
	}
	c.Advance(2 * lease)
	idempotency.WaitRenewals(t, g)
	if n := s.count("k"); n != 9 {
		t.Fatalf("%d renewals, want 9: renewed after fn returned", n)
	}
}

// Many executions of one guard, starting and ending at different times
// among a stream of calls that end at once, each keep their lease for as
// long as they run, and none is renewed once it has ended.
func TestRenewalsOfManyExecutions(t *testing.T) {
	t.Parallel()
	const lease, step = 3 * time.Second, 37 * time.Millisecond
	c := newClock()
	s := newExtendLog(t, newStore(t, c))
	g := idempotency.NewAt(s, &idempotency.Config{Lease: lease}, c)
	ctx := context.Background()

	stopShort := make(chan struct{})
	shortDone := make(chan int)
	go func() {
		n := 0
		defer func() { shortDone <- n }()
		for i := 0; ; i++ {
			select {
			case <-stopShort:
				return
			default:
			}
			if _, err := idempotency.Do(ctx, g, fmt.Sprint("short-", i), func(context.Context) (int, error) { return i, nil }); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()

	type long struct {
		key        string
		start, end time.Time
		release    chan struct{}
		done       chan error
	}
	var longs []*long
	t0 := c.Now()
	for i := range 12 {
		// Start at odd times; run 1 to 4 leases: 2 to 11 renewals.
		l := &long{key: fmt.Sprint("long-", i), start: t0.Add(time.Duration(i) * step)}
		l.end = l.start.Add(time.Duration(i%4+1) * lease)
		longs = append(longs, l)
	}
	running := 0
	for done := 0; done < len(longs); {
		now := c.Now()
		for _, l := range longs {
			switch {
			case l.release == nil && !now.Before(l.start):
				_, l.release, l.done = blocked(t, g, l.key)
				running++
			case l.release != nil && l.done != nil && !now.Before(l.end):
				close(l.release)
				if err := receive(t, l.done, l.key+" outcome"); err != nil {
					t.Fatalf("%s: %v", l.key, err)
				}
				l.done = nil
				running--
				done++
			case l.done != nil:
				rec, err := g.Lookup(ctx, l.key)
				if err != nil || !rec.LeaseUntil.After(now) {
					t.Fatalf("%s: lease until %v at %v (%v): lapsed while running", l.key, rec.LeaseUntil, now, err)
				}
			}
		}
		c.Advance(step)
		idempotency.WaitRenewals(t, g)
	}
	close(stopShort)
	if n := <-shortDone; n == 0 {
		t.Error("no short call completed")
	}
	for _, l := range longs {
		// Renewed at every Lease/3 of its run, give or take the step.
		want := int(l.end.Sub(l.start)/(lease/3)) - 1
		if n := s.count(l.key); n < want {
			t.Errorf("%s ran %v and was renewed %d times, want at least %d", l.key, l.end.Sub(l.start), n, want)
		}
	}
	if idempotency.RenewalsArmed(g) {
		t.Fatal("a renewal is still armed after every call returned")
	}
}

// A Guard whose calls have ended has no renewal due, whatever the calls
// did, and nothing keeps it reachable: guards made and dropped (one per
// request, say) are collected.
func TestIdleGuardIsCollected(t *testing.T) {
	t.Parallel()
	calls := map[string]func(t *testing.T, g *idempotency.Guard){
		"Succeeded": func(t *testing.T, g *idempotency.Guard) {
			_, _ = idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 1, nil })
		},
		"Failed": func(t *testing.T, g *idempotency.Guard) {
			_, _ = idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 0, errDown })
		},
		"Panicked": func(t *testing.T, g *idempotency.Guard) {
			defer func() { _ = recover() }()
			_, _ = idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { panic("boom") })
		},
		"Replayed": func(t *testing.T, g *idempotency.Guard) {
			for range 2 {
				_, _ = idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 1, nil })
			}
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, nil)
			wp := func() weak.Pointer[idempotency.Guard] {
				// A renewal timer left pending fires an hour on: only a
				// timer that holds the Guard weakly lets it go sooner.
				g := idempotency.New(s, &idempotency.Config{Lease: 3 * time.Hour})
				call(t, g)
				if idempotency.RenewalsArmed(g) {
					t.Fatal("a renewal timer is armed after the calls ended")
				}
				return weak.Make(g)
			}()
			// Reachability is decided by the collector, which may need
			// more than one cycle (a stopped timer leaves the runtime's
			// heap lazily): collect until it is gone, up to a bound that
			// only a real reference exceeds.
			deadline := time.Now().Add(20 * time.Second)
			for wp.Value() != nil {
				if time.Now().After(deadline) {
					t.Fatal("an idle Guard is still reachable after 20s of collections")
				}
				runtime.GC()
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// slowThenDown is a store whose first renewal is slow but succeeds and
// whose later renewals fail. The slow reply moves the clock.
type slowThenDown struct {
	idempotency.Store
	c       *clock
	mu      sync.Mutex
	extends int
	sent    time.Time // when the successful renewal was sent
}

func (s *slowThenDown) Extend(ctx context.Context, key string, tok idempotency.Token, lease time.Duration) error {
	s.mu.Lock()
	s.extends++
	first := s.extends == 1
	if first {
		s.sent = s.c.Now()
	}
	s.mu.Unlock()
	if !first {
		return errDown
	}
	err := s.Store.Extend(ctx, key, tok, lease)
	s.c.Advance(lease * 3 / 10) // the reply is slow
	return err
}

// With its store unreachable, an execution stops exactly when its lease
// may have lapsed in the store: a lease after the last renewal was sent,
// not a lease after its slow reply came, nor at the next renewal after
// that.
func TestRenewalFailureStopsAtLapse(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	c := newClock()
	s := &slowThenDown{Store: newStore(t, c), c: c}
	g := idempotency.NewAt(s, &idempotency.Config{Lease: lease}, c)
	start := c.Now()
	fnCtx, release, done := blocked(t, g, "k")
	defer func() {
		close(release)
		receive(t, done, "outcome")
	}()
	for {
		c.Advance(time.Second)
		idempotency.WaitRenewals(t, g)
		s.mu.Lock()
		sent := s.sent
		s.mu.Unlock()
		now := c.Now()
		switch stopped := fnCtx.Err() != nil; {
		case stopped && sent.IsZero():
			t.Fatal("fn stopped before its lease was ever renewed")
		case stopped && now.Before(sent.Add(lease)):
			t.Fatalf("fn stopped at %v, before its lease lapsed at %v", now.Sub(start), sent.Add(lease).Sub(start))
		case stopped:
			if !now.Equal(sent.Add(lease)) {
				t.Fatalf("fn stopped at %v, %v after its lease lapsed in the store", now.Sub(start), now.Sub(sent.Add(lease)))
			}
			if cause := context.Cause(fnCtx); !errors.Is(cause, idempotency.ErrLeaseLost) {
				t.Fatalf("cause %v, want ErrLeaseLost", cause)
			}
			return
		case now.Sub(start) > 3*lease:
			t.Fatalf("fn still running %v in, with its store down", now.Sub(start))
		}
	}
}

// A queue's timer is left pending when its last execution ends. Firing
// with nothing due, it arms itself again for the executions that joined
// since, which are renewed on time.
func TestRenewalAfterIdleTimer(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	c := newClock()
	s := newExtendLog(t, newStore(t, c))
	g := newGuardAt(t, s, &idempotency.Config{Lease: lease}, c)
	// Every queue's timer left pending, due a Lease/3 from now.
	for i := range 64 {
		if _, err := idempotency.Do(context.Background(), g, fmt.Sprint("short", i), func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(lease / 6)
	_, release, done := blocked(t, g, "long")
	c.Advance(lease / 6) // the pending timers fire: nothing is due
	idempotency.WaitRenewals(t, g)
	if n := s.count("long"); n != 0 {
		t.Fatalf("%d renewals a Lease/6 into the call, want 0", n)
	}
	c.Advance(lease/6 - time.Nanosecond)
	idempotency.WaitRenewals(t, g)
	if n := s.count("long"); n != 0 {
		t.Fatalf("%d renewals just before a Lease/3 into the call, want 0", n)
	}
	c.Advance(time.Nanosecond)
	idempotency.WaitRenewals(t, g)
	if n := s.count("long"); n != 1 {
		t.Fatalf("%d renewals a Lease/3 into the call, want 1", n)
	}
	close(release)
	if err := receive(t, done, "outcome"); err != nil {
		t.Fatal(err)
	}
}
