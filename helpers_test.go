package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// clock is a hand-moved clock, for memstore and for the renewal of leases
// (idempotency.NewAt).
type clock = idempotency.FakeClock

func newClock() *clock { return idempotency.NewFakeClock() }

// newStore returns a fresh memstore closed at the end of the test.
func newStore(t *testing.T, c *clock) *memstore.Store {
	t.Helper()
	var o memstore.Options
	if c != nil {
		o.Now = c.Now
	}
	s := memstore.New(&o)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newGuard returns a guard over s (nil: a fresh memstore). Its logs are
// discarded unless cfg gives a Logger: tests that fail stores on purpose
// would fill the output with the errors the default logger reports.
func newGuard(t *testing.T, s idempotency.Store, cfg *idempotency.Config) *idempotency.Guard {
	t.Helper()
	if s == nil {
		s = newStore(t, nil)
	}
	var c idempotency.Config
	if cfg != nil {
		c = *cfg
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return idempotency.New(s, &c)
}

// faultyStore wraps a store and fails chosen operations, to see what the
// guard does when its store breaks.
type faultyStore struct {
	idempotency.Store
	mu                               sync.Mutex
	claim, complete, release, extend error
}

var errDown = errors.New("store down")

func (f *faultyStore) fault(p *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *p
}

func (f *faultyStore) set(p *error, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*p = err
}

func (f *faultyStore) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	if err := f.fault(&f.claim); err != nil {
		return idempotency.Claim{}, err
	}
	return f.Store.Claim(ctx, r)
}

func (f *faultyStore) Complete(ctx context.Context, key string, tok idempotency.Token, out idempotency.Outcome) error {
	if err := f.fault(&f.complete); err != nil {
		return err
	}
	return f.Store.Complete(ctx, key, tok, out)
}

func (f *faultyStore) Release(ctx context.Context, key string, tok idempotency.Token) error {
	if err := f.fault(&f.release); err != nil {
		return err
	}
	return f.Store.Release(ctx, key, tok)
}

func (f *faultyStore) Extend(ctx context.Context, key string, tok idempotency.Token, lease time.Duration) error {
	if err := f.fault(&f.extend); err != nil {
		return err
	}
	return f.Store.Extend(ctx, key, tok, lease)
}

// counter counts real side effects.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[key]++
	return c.n[key]
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func wantErr(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %v does not match %v", err, target)
		}
	}
}
