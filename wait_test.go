package idempotency_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// pollingStore hides Watch: waiters must poll.
type pollingStore struct{ idempotency.Store }

func TestWaitersWokenWithoutPolling(t *testing.T) {
	t.Parallel()
	s := &countingStore{Store: newStore(t, nil)}
	g := newGuard(t, s, nil)
	_, release, done := running(t, g, "k", 7)
	const waiters = 20
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
				t.Error("a waiter ran fn")
				return 0, nil
			})
			if err != nil || v != 7 {
				t.Errorf("waiter got %d, %v", v, err)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // the first call runs on
	before := s.reads.Load()
	close(release)
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Each waiter claims, watches, reads once, sleeps until woken, then
	// claims again: no reads while the first call runs.
	if reads := s.reads.Load(); before > 2*waiters+1 || reads > 3*waiters+1 {
		t.Fatalf("%d reads while waiting, %d in all, for %d waiters: waiters polled", before, reads, waiters)
	}
}

func TestWaitersPollWithoutWatcher(t *testing.T) {
	t.Parallel()
	g := newGuard(t, pollingStore{newStore(t, nil)}, nil)
	_, release, done := running(t, g, "k", 7)
	time.AfterFunc(100*time.Millisecond, func() { close(release) })
	v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 0, nil })
	if err != nil || v != 7 {
		t.Fatalf("polling waiter = %d, %v", v, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A waiter whose first call's executor died takes over when the lease
// lapses, even though nobody notifies it.
func TestWaiterTakesOverAfterLease(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	g := newGuard(t, s, &idempotency.Config{Lease: 100 * time.Millisecond})
	if _, err := s.Claim(context.Background(), idempotency.ClaimRequest{Key: "k", Lease: 100 * time.Millisecond, TTL: time.Hour, Takeover: true}); err != nil {
		t.Fatal(err)
	}
	v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 3, nil })
	if err != nil || v != 3 {
		t.Fatalf("waiter = %d, %v; want a takeover after the lease", v, err)
	}
}
