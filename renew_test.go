package idempotency_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/idempotency-go/idempotency"
)

// extendLog wraps a store and fails the test if a lease is renewed after
// its execution recorded an outcome.
type extendLog struct {
	idempotency.Store
	t       *testing.T
	mu      sync.Mutex
	settled map[string]bool
	extends map[string]int
}

func (s *extendLog) Extend(ctx context.Context, key string, tok idempotency.Token, lease time.Duration) error {
	s.mu.Lock()
	if s.settled[key] {
		s.t.Errorf("%s: lease renewed after its outcome was recorded", key)
	}
	s.extends[key]++
	s.mu.Unlock()
	return s.Store.Extend(ctx, key, tok, lease)
}

func (s *extendLog) Complete(ctx context.Context, key string, tok idempotency.Token, out idempotency.Outcome) error {
	s.mu.Lock()
	s.settled[key] = true
	s.mu.Unlock()
	return s.Store.Complete(ctx, key, tok, out)
}

// Many executions of one guard, starting and ending at different times
// among a stream of calls that end at once, each keep their lease for as
// long as they run, and none is renewed once it has ended.
func TestRenewalsOfManyExecutions(t *testing.T) {
	t.Parallel()
	const lease = 300 * time.Millisecond
	s := &extendLog{Store: newStore(t, nil), t: t, settled: map[string]bool{}, extends: map[string]int{}}
	g := newGuard(t, s, &idempotency.Config{Lease: lease})
	ctx := context.Background()

	stopShort := make(chan struct{})
	var short sync.WaitGroup
	var shortCalls atomic.Int64
	short.Add(1)
	go func() {
		defer short.Done()
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
			shortCalls.Add(1)
		}
	}()

	var long sync.WaitGroup
	for i := range 12 {
		key := fmt.Sprint("long-", i)
		run := time.Duration(i%4+1) * 250 * time.Millisecond // 250ms to 1s: 0 to 9 renewals
		long.Add(1)
		go func() {
			defer long.Done()
			time.Sleep(time.Duration(i) * 37 * time.Millisecond) // start at odd times
			_, err := idempotency.Do(ctx, g, key, func(ctx context.Context) (int, error) {
				deadline := time.Now().Add(run)
				for time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
					rec, err := g.Lookup(ctx, key)
					switch {
					case err != nil:
						return 0, err
					case ctx.Err() != nil:
						return 0, fmt.Errorf("lease lost while running: %w", context.Cause(ctx))
					case !rec.LeaseUntil.After(time.Now()):
						return 0, fmt.Errorf("lease lapsed while running (until %v)", rec.LeaseUntil)
					}
				}
				return i, nil
			})
			if err != nil {
				t.Errorf("%s: %v", key, err)
			}
		}()
	}
	long.Wait()
	close(stopShort)
	short.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range 12 {
		key := fmt.Sprint("long-", i)
		if run := time.Duration(i%4+1) * 250 * time.Millisecond; run > lease && s.extends[key] == 0 {
			t.Errorf("%s ran %v with a %v lease and was never renewed", key, run, lease)
		}
	}
	if shortCalls.Load() == 0 {
		t.Error("no short call completed")
	}
}

// A lease is renewed every Lease/3 while fn runs: about 9 renewals over
// 3 leases. Renewing every Lease/2 would make 5; a delay would make fewer.
func TestRenewalCadence(t *testing.T) {
	t.Parallel()
	const lease = 300 * time.Millisecond
	s := &extendLog{Store: newStore(t, nil), t: t, settled: map[string]bool{}, extends: map[string]int{}}
	g := newGuard(t, s, &idempotency.Config{Lease: lease})
	if _, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (int, error) {
		time.Sleep(3*lease + lease/6) // mid-way between the 9th and 10th renewal
		return 1, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Timers fire late on a busy machine, and each renewal is timed from
	// the last: allow one or two fewer.
	if n := s.extends["k"]; n < 7 || n > 9 {
		t.Fatalf("%d renewals while fn ran 3.5 leases, want 9 (Lease/3)", n)
	}
}

// A Guard whose calls have ended holds no timer that keeps it reachable:
// guards made and dropped (one per request, say) are collected at once.
func TestIdleGuardIsCollected(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	wp := func() weak.Pointer[idempotency.Guard] {
		g := idempotency.New(s, nil)
		if _, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
		return weak.Make(g)
	}()
	for i := 0; i < 20 && wp.Value() != nil; i++ {
		runtime.GC()
	}
	if wp.Value() != nil {
		t.Fatal("an idle Guard is still reachable")
	}
}
