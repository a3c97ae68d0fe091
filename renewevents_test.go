package idempotency_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// flakyExtend fails every other renewal, so that a lease never lapses
// however many renewals fail, and then, once lose is set, answers that
// the claim is lost.
type flakyExtend struct {
	idempotency.Store
	mu      sync.Mutex
	extends int
	lose    bool
}

func (s *flakyExtend) Extend(ctx context.Context, key string, tok idempotency.Token, lease time.Duration) error {
	s.mu.Lock()
	s.extends++
	odd, lose := s.extends%2 == 1, s.lose
	s.mu.Unlock()
	switch {
	case lose:
		return idempotency.ErrLeaseLost
	case odd:
		return errDown
	}
	return s.Store.Extend(ctx, key, tok, lease)
}

func (s *flakyExtend) failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return (s.extends + 1) / 2
}

// A renewal that keeps failing now and then keeps at most 16 of its store
// errors for the Observer (the log has every one), and its lost claim is
// observed past that bound.
func TestRenewalEventsBounded(t *testing.T) {
	t.Parallel()
	for _, lost := range []bool{false, true} {
		name := "Released"
		if lost {
			name = "LostAfterwards"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const lease = 30 * time.Second
			c := newClock()
			s := &flakyExtend{Store: newStore(t, c)}
			var mu sync.Mutex
			kinds := map[idempotency.EventKind]int{}
			g := idempotency.NewAt(s, &idempotency.Config{Lease: lease, Observer: idempotency.ObserverFunc(func(_ context.Context, e idempotency.Event) {
				mu.Lock()
				kinds[e.Kind]++
				mu.Unlock()
			})}, c)
			fnCtx, release, done := blocked(t, g, "k")
			for s.failed() < 20 {
				c.Advance(lease / 3)
				idempotency.WaitRenewals(t, g)
				if fnCtx.Err() != nil {
					t.Fatalf("fn stopped after %d failed renewals: %v", s.failed(), context.Cause(fnCtx))
				}
			}
			if lost {
				s.mu.Lock()
				s.lose = true
				s.mu.Unlock()
				for fnCtx.Err() == nil {
					c.Advance(lease / 3)
					idempotency.WaitRenewals(t, g)
				}
			}
			close(release)
			receive(t, done, "outcome")
			mu.Lock()
			defer mu.Unlock()
			if kinds[idempotency.EventStoreError] != 16 {
				t.Fatalf("%d store errors observed after %d failed renewals, want the first 16", kinds[idempotency.EventStoreError], s.failed())
			}
			if want := map[bool]int{false: 0, true: 1}[lost]; kinds[idempotency.EventLeaseLost] != want {
				t.Fatalf("%d EventLeaseLost observed, want %d", kinds[idempotency.EventLeaseLost], want)
			}
		})
	}
}
