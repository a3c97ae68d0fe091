package idempotency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
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

// cancelOnClaim cancels the caller's context as its n-th claim starts, as
// a deadline would that passes while a waiter wakes. It hides Watch, so
// waiters poll.
type cancelOnClaim struct {
	idempotency.Store
	n      int32
	claims atomic.Int32
	cancel context.CancelFunc
}

func (s *cancelOnClaim) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	if s.claims.Add(1) == s.n {
		s.cancel()
	}
	return s.Store.Claim(ctx, r)
}

// A waiter whose context ends gets ErrInProgress with the context's error,
// whether it ends during the sleep or as the waiter claims again; it is not
// a store failure.
func TestWaiterContextEndsAsItClaimsAgain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var storeErrors atomic.Int32
	s := &cancelOnClaim{Store: newStore(t, nil), n: 3, cancel: cancel}
	g := newGuard(t, s, &idempotency.Config{
		OnDuplicate: idempotency.Wait,
		Observer: idempotency.ObserverFunc(func(_ context.Context, e idempotency.Event) {
			if e.Kind == idempotency.EventStoreError {
				storeErrors.Add(1)
			}
		}),
	})
	// Claim 1 is the first call's; the waiter's claim 2 finds it running,
	// and its poll (the store cannot notify) ends in claim 3, during which
	// the context ends.
	_, release, done := running(t, g, "k", 1)
	defer func() { close(release); <-done }()
	_, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) {
		t.Error("a waiter ran fn")
		return 0, nil
	}, idempotency.WithWaitTimeout(time.Hour))
	wantErr(t, err, idempotency.ErrInProgress, context.Canceled)
	if errors.Is(err, idempotency.ErrStore) || storeErrors.Load() != 0 {
		t.Fatalf("error %v, %d store errors observed; want no store failure", err, storeErrors.Load())
	}
}

// getFailing counts claims and fails every Get; embedding *memstore.Store
// keeps its Watch.
type getFailing struct {
	*memstore.Store
	claims atomic.Int64
}

func (s *getFailing) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, r)
}

func (s *getFailing) Get(context.Context, string) (idempotency.Record, error) {
	return idempotency.Record{}, errDown
}

// claimCounter counts claims; embedding *memstore.Store keeps its Watch.
type claimCounter struct {
	*memstore.Store
	claims atomic.Int64
}

func (s *claimCounter) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, r)
}

// waitClaims has a duplicate wait 300ms on a running first call over s
// and reports how many claims s saw.
func waitClaims(t *testing.T, s interface {
	idempotency.Store
	count() int64
}) int64 {
	t.Helper()
	g := newGuard(t, s, &idempotency.Config{OnDuplicate: idempotency.Wait})
	_, release, done := running(t, g, "k", 1)
	defer func() { close(release); <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { return 0, nil })
	wantErr(t, err, idempotency.ErrInProgress)
	return s.count()
}

// pollCounter counts claims and hides Watch: waiters poll.
type pollCounter struct {
	idempotency.Store
	claims atomic.Int64
}

func (s *pollCounter) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, r)
}

func (s *getFailing) count() int64 { return s.claims.Load() }

func (s *claimCounter) count() int64 { return s.claims.Load() }

func (s *pollCounter) count() int64 { return s.claims.Load() }

// A store whose reads fail does not turn a waiter into a busy loop.
func TestWaiterBacksOffWhenGetFails(t *testing.T) {
	t.Parallel()
	if n := waitClaims(t, &getFailing{Store: newStore(t, nil)}); n > 50 {
		t.Fatalf("%d claims in 300ms: the waiter spun", n)
	}
}

// Leases are judged on the store's clock. A store clock behind the
// guard's makes a live lease look lapsed here; waiters must not spin on it.
func TestWaiterBacksOffWhenStoreClockIsBehind(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]interface {
		idempotency.Store
		count() int64
	}{
		"Watcher": &claimCounter{Store: skewedStore(t, -time.Hour)},
		"Polling": &pollCounter{Store: skewedStore(t, -time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if n := waitClaims(t, s); n > 50 {
				t.Fatalf("%d claims in 300ms: the waiter spun", n)
			}
		})
	}
}

func skewedStore(t *testing.T, skew time.Duration) *memstore.Store {
	s := memstore.New(&memstore.Options{Now: func() time.Time { return time.Now().Add(skew) }})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// unwatchable has Watch but cannot watch, as a Redis store with pub/sub
// off; it counts the calls.
type unwatchable struct {
	idempotency.Store
	calls atomic.Int64
}

func (s *unwatchable) Watch(context.Context, string) (<-chan struct{}, func(), error) {
	s.calls.Add(1)
	return nil, nil, errors.ErrUnsupported
}

// Guard.Watch is the one rule for watching (the guard's waiters and
// idemhttp's use it): a store that answers errors.ErrUnsupported is asked
// once, a store that can watch every time.
func TestGuardWatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("Unsupported", func(t *testing.T) {
		t.Parallel()
		s := &unwatchable{Store: newStore(t, nil)}
		g := newGuard(t, s, nil)
		for range 3 {
			ch, stop := g.Watch(ctx, "k")
			stop()
			if ch != nil {
				t.Fatal("Watch on a store that cannot watch returned a channel")
			}
		}
		if n := s.calls.Load(); n != 1 {
			t.Fatalf("store asked to watch %d times, want once", n)
		}
	})
	t.Run("NoWatcher", func(t *testing.T) {
		t.Parallel()
		ch, stop := newGuard(t, pollingStore{newStore(t, nil)}, nil).Watch(ctx, "k")
		stop()
		if ch != nil {
			t.Fatal("Watch on a store without Watcher returned a channel")
		}
	})
	t.Run("Watcher", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		g := newGuard(t, s, nil)
		c, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ch, stop := g.Watch(ctx, "k")
		defer stop()
		if ch == nil {
			t.Fatal("Watch on a memstore returned no channel")
		}
		if err := s.Release(ctx, "k", c.Record.Token); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("not woken within 10s of a release")
		}
	})
}
