// Package teststore holds what the tests of the guard's adapters (HTTP,
// gRPC, NATS, Kafka, OpenTelemetry) share about stores: a guard on a fresh
// in-memory store, a store whose backend can be switched off, and a count
// of a handler's effects.
package teststore

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// Guard returns a guard on store, or, when store is nil, on a fresh
// memstore without a sweeper that t's cleanup closes.
func Guard(t testing.TB, store idempotency.Store, cfg *idempotency.Config) *idempotency.Guard {
	t.Helper()
	if store == nil {
		store = Memory(t)
	}
	return idempotency.New(store, cfg)
}

// Memory returns a fresh memstore without a sweeper that t's cleanup
// closes.
func Memory(t testing.TB) *memstore.Store {
	m := memstore.New(&memstore.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// ErrConnRefused is the error of a network store whose server is gone.
var ErrConnRefused = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

// Flaky is a store whose backend can be switched off: while Down is set,
// every Claim fails with [ErrConnRefused]; while Lossy is set, every
// Complete does.
type Flaky struct {
	idempotency.Store
	Down, Lossy atomic.Bool
}

// Down returns a Flaky over store that is down.
func Down(store idempotency.Store) *Flaky {
	f := &Flaky{Store: store}
	f.Down.Store(true)
	return f
}

// Claim implements idempotency.Store.
func (s *Flaky) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	if s.Down.Load() {
		return idempotency.Claim{}, ErrConnRefused
	}
	return s.Store.Claim(ctx, req)
}

// Complete implements idempotency.Store.
func (s *Flaky) Complete(ctx context.Context, key string, token idempotency.Token, out idempotency.Outcome) error {
	if s.Lossy.Load() {
		return ErrConnRefused
	}
	return s.Store.Complete(ctx, key, token, out)
}

// Effects counts a handler's runs per key. The zero value is ready.
type Effects struct {
	mu sync.Mutex
	n  map[string]int
}

// Add counts one run for key.
func (e *Effects) Add(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[key]++
}

// Snapshot returns the runs per key so far.
func (e *Effects) Snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.n)
}

// ExactlyOnce fails t unless every key in keys ran exactly once and no
// other key ran.
func (e *Effects) ExactlyOnce(t testing.TB, keys ...string) {
	t.Helper()
	got := e.Snapshot()
	if len(got) != len(keys) {
		t.Fatalf("effects for %d keys, want %d: %v", len(got), len(keys), got)
	}
	for _, k := range keys {
		if got[k] != 1 {
			t.Fatalf("key %s ran %d times, want 1 (all: %v)", k, got[k], got)
		}
	}
}
