package idempotency_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// Replayed results are the callers' own: mutating one cannot change what
// the next duplicate gets, and a key run again replays its new result.
func TestReplaysAreIndependent(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	ctx := context.Background()
	mk := func(context.Context) ([]int, error) { return []int{1, 2, 3}, nil }
	_, _ = idempotency.Do(ctx, g, "slice", mk)
	a, _ := idempotency.Do(ctx, g, "slice", mk)
	a[0] = 99
	if b, _ := idempotency.Do(ctx, g, "slice", mk); b[0] != 1 {
		t.Fatalf("a caller's mutation reached another caller: %v", b)
	}

	type receipt struct {
		ID     string
		Amount int
	}
	n := 0
	fn := func(context.Context) (receipt, error) { n++; return receipt{"r", n}, nil }
	for range 3 {
		if r, _ := idempotency.Do(ctx, g, "k", fn); r.Amount != 1 {
			t.Fatalf("replay = %+v, want the first result", r)
		}
	}
	if err := g.Forget(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r, _ := idempotency.Do(ctx, g, "k", fn); r.Amount != 2 {
			t.Fatalf("replay after the key ran again = %+v, want the new result", r)
		}
	}
	// The same key read as another type decodes afresh.
	if _, err := idempotency.Do(ctx, g, "k", func(context.Context) (struct{ ID string }, error) {
		t.Error("ran again")
		return struct{ ID string }{}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// oneTokenStore issues token 1 for every claim, as a store may that counts
// tokens per record and forgets the count with the record.
type oneTokenStore struct {
	idempotency.Store
	mu  sync.Mutex
	tok map[string]idempotency.Token // the inner store's token of each key
}

func (s *oneTokenStore) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	c, err := s.Store.Claim(ctx, r)
	if err == nil && c.Acquired {
		s.mu.Lock()
		s.tok[r.Key] = c.Record.Token
		s.mu.Unlock()
	}
	c.Record.Token = 1
	return c, err
}

func (s *oneTokenStore) inner(key string) idempotency.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok[key]
}

func (s *oneTokenStore) Complete(ctx context.Context, key string, _ idempotency.Token, out idempotency.Outcome) error {
	return s.Store.Complete(ctx, key, s.inner(key), out)
}

func (s *oneTokenStore) Release(ctx context.Context, key string, _ idempotency.Token) error {
	return s.Store.Release(ctx, key, s.inner(key))
}

func (s *oneTokenStore) Extend(ctx context.Context, key string, _ idempotency.Token, lease time.Duration) error {
	return s.Store.Extend(ctx, key, s.inner(key), lease)
}

// A key forgotten and run again replays its new result, even from a store
// that gives the new execution the token of the forgotten one.
func TestReplayAfterTokenReuse(t *testing.T) {
	t.Parallel()
	s := &oneTokenStore{Store: newStore(t, nil), tok: map[string]idempotency.Token{}}
	g := newGuard(t, s, nil)
	ctx := context.Background()
	n := 0
	fn := func(context.Context) (int, error) { n++; return n, nil }
	for range 2 {
		if v, err := idempotency.Do(ctx, g, "k", fn); err != nil || v != 1 {
			t.Fatalf("Do = %d, %v; want 1", v, err)
		}
	}
	if err := g.Forget(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v, err := idempotency.Do(ctx, g, "k", fn); err != nil || v != 2 {
			t.Fatalf("after Forget, Do = %d, %v; want the new result 2", v, err)
		}
	}
}
