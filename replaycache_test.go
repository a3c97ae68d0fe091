package idempotency_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
)

// Replayed results are the callers' own: mutating one cannot change what
// the next duplicate gets, and a key run again replays its new result.
// Over a store that keeps records in memory they are kept in each record's
// memo, and over one that does not (a record without a memo), in the
// guard's replay cache: both are checked.
func TestReplaysAreIndependent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) idempotency.Store
	}{
		{"Memo", func(t *testing.T) idempotency.Store { return newStore(t, nil) }},
		{"ReplayCache", func(t *testing.T) idempotency.Store { return noMemoStore{newStore(t, nil)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			replaysAreIndependent(t, newGuard(t, tc.store(t), nil))
		})
	}
}

// noMemoStore hands out its records without their memo, as a store that
// does not keep records in memory does.
type noMemoStore struct{ idempotency.Store }

func (s noMemoStore) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	c, err := s.Store.Claim(ctx, r)
	c.Record.Memo = nil
	return c, err
}

func (s noMemoStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	rec, err := s.Store.Get(ctx, key)
	rec.Memo = nil
	return rec, err
}

func replaysAreIndependent(t *testing.T, g *idempotency.Guard) {
	ctx := context.Background()
	mk := func(context.Context) ([]int, error) { return []int{1, 2, 3}, nil }
	_, _ = idempotency.Do(ctx, g, "slice", mk)
	a, _ := idempotency.Do(ctx, g, "slice", mk)
	a[0] = 99
	if b, _ := idempotency.Do(ctx, g, "slice", mk); b[0] != 1 {
		t.Fatalf("a caller's mutation reached another caller: %v", b)
	}
	// A struct is shared only if nothing in it can be mutated through.
	type order struct {
		At    time.Time
		Items []int
	}
	mkOrder := func(context.Context) (order, error) { return order{Items: []int{1, 2, 3}}, nil }
	_, _ = idempotency.Do(ctx, g, "struct", mkOrder)
	o, _ := idempotency.Do(ctx, g, "struct", mkOrder)
	o.Items[0] = 99
	if p, _ := idempotency.Do(ctx, g, "struct", mkOrder); p.Items[0] != 1 {
		t.Fatalf("a caller's mutation reached another caller through a struct's slice: %v", p)
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

// A record of a store that keeps records in memory remembers its decoded
// result: duplicates spread over more keys than the guard's replay cache
// holds decode each outcome once, and an outcome that changes under the
// same record (a lapsed claim taken over) is decoded afresh.
func TestReplayMemoPerRecord(t *testing.T) {
	t.Parallel()
	type receipt struct {
		ID     string
		Amount int
	}
	ctx := context.Background()
	codec := &countingCodec{}
	g := newGuard(t, nil, &idempotency.Config{Codec: codec})
	const keys = 3000 // more than the replay cache's slots
	run := func(k int) (receipt, error) {
		return idempotency.Do(ctx, g, "memo:"+strconv.Itoa(k), func(context.Context) (receipt, error) {
			return receipt{"r", k}, nil
		})
	}
	for k := range keys {
		if _, err := run(k); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		for k := range keys {
			if r, err := run(k); err != nil || r.Amount != k {
				t.Fatalf("replay of key %d = %+v, %v", k, r, err)
			}
		}
	}
	if got := codec.unmarshal.Load(); got != keys {
		t.Fatalf("%d decodes for %d keys replayed 3 times each, want one per key", got, keys)
	}

	// A lapsed claim taken over keeps its record (and memo) in memstore:
	// the new outcome is what duplicates get.
	clk := newClock()
	s := memstore.New(&memstore.Options{SweepInterval: -1, Now: clk.Now})
	t.Cleanup(func() { _ = s.Close() })
	g2 := newGuard(t, s, nil)
	claim := func() idempotency.Token {
		t.Helper()
		c, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "k", Lease: time.Second, TTL: time.Hour, Takeover: true})
		if err != nil || !c.Acquired {
			t.Fatalf("claim: %+v, %v", c, err)
		}
		return c.Record.Token
	}
	claim()
	clk.Advance(2 * time.Second)
	b, _ := json.Marshal(receipt{"r", 2})
	if err := s.Complete(ctx, "k", claim(), idempotency.Outcome{Status: idempotency.StatusCompleted, Value: b, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, err := idempotency.Do(ctx, g2, "k", func(context.Context) (receipt, error) {
			t.Error("ran again")
			return receipt{}, nil
		})
		if err != nil || r.Amount != 2 {
			t.Fatalf("replay = %+v, %v; want amount 2", r, err)
		}
	}
}

// keyMemoStore gives every record of a key the same Memo, across
// outcomes, as a store may that keeps one slot per key.
type keyMemoStore struct {
	idempotency.Store
	mu    sync.Mutex
	memos map[string]*idemtype.Memo
}

func (s *keyMemoStore) memo(key string) *idemtype.Memo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.memos[key] == nil {
		s.memos[key] = new(idemtype.Memo)
	}
	return s.memos[key]
}

func (s *keyMemoStore) Claim(ctx context.Context, r idempotency.ClaimRequest) (idempotency.Claim, error) {
	c, err := s.Store.Claim(ctx, r)
	c.Record.Memo = s.memo(r.Key)
	return c, err
}

// A memo that outlives an outcome never answers for the next one, even
// when the store gives the new execution the old token.
func TestReplayMemoOutlivesOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := &oneTokenStore{Store: newStore(t, nil), tok: map[string]idempotency.Token{}}
	g := newGuard(t, &keyMemoStore{Store: inner, memos: map[string]*idemtype.Memo{}}, nil)
	n := 0
	fn := func(context.Context) (int, error) { n++; return n, nil }
	for want := 1; want <= 3; want++ {
		for range 2 {
			if v, err := idempotency.Do(ctx, g, "k", fn); err != nil || v != want {
				t.Fatalf("Do = %d, %v; want %d", v, err, want)
			}
		}
		if err := g.Forget(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
}
