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

// A map whose keys differ but encode alike (integers of other types,
// pointers to equal values) is still one value: its key must not depend on
// the map's iteration order.
func TestKeyMapWithKeysEncodingAlike(t *testing.T) {
	t.Parallel()
	one, two := 1, 1
	for name, arg := range map[string]any{
		"IntegerTypes": map[any]string{int8(1): "a", uint(1): "b", int64(1): "c"},
		"Pointers":     map[*int]string{&one: "a", &two: "b"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			first := key(t, arg)
			for range 100 {
				if k := key(t, arg); k != first {
					t.Fatalf("one map, keys %s and %s", first, k)
				}
			}
		})
	}
}

type hiddenAny struct{ v any }

type hiddenTimes struct{ m map[string]time.Time }

type hiddenArray struct{ b [3]byte }

// Times are instants wherever they sit, unexported fields included: the
// monotonic reading and the zone do not change the key.
func TestKeyTimeInUnexportedFields(t *testing.T) {
	t.Parallel()
	now := time.Now() // carries a monotonic reading
	other := now.Round(0).In(time.FixedZone("X", 3600))
	if a, b := key(t, hiddenAny{now}), key(t, hiddenAny{other}); a != b {
		t.Fatalf("one instant in an unexported interface field, keys %s and %s", a, b)
	}
	if a, b := key(t, hiddenTimes{map[string]time.Time{"t": now}}), key(t, hiddenTimes{map[string]time.Time{"t": other}}); a != b {
		t.Fatalf("one instant in an unexported map, keys %s and %s", a, b)
	}
	if a, b := key(t, hiddenAny{now}), key(t, hiddenAny{now.Add(time.Nanosecond)}); a == b {
		t.Fatal("different instants share a key")
	}
}

func TestKeyUnexportedByteArray(t *testing.T) {
	t.Parallel()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Key panicked: %v", p)
		}
	}()
	if a, b := key(t, hiddenArray{[3]byte{1, 2, 3}}), key(t, hiddenArray{[3]byte{1, 2, 4}}); a == b {
		t.Fatal("different arrays share a key")
	}
	if a, b := key(t, hiddenAny{[3]byte{1, 2, 3}}), key(t, hiddenAny{[]byte{1, 2, 3}}); a != b {
		t.Fatalf("byte array and slice in an unexported field, keys %s and %s", a, b)
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

type panickyResult struct{ N int }

func (panickyResult) MarshalJSON() ([]byte, error) { panic("broken MarshalJSON") }

// A result whose encoding panics is a result that cannot be encoded: fn
// ran, so it must never run again, and the caller keeps its value.
func TestResultEncodingPanics(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, &idempotency.Config{Lease: 30 * time.Millisecond})
	var runs atomic.Int32
	fn := func(context.Context) (panickyResult, error) {
		runs.Add(1)
		return panickyResult{7}, nil
	}
	var v panickyResult
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("Do panicked: %v", p)
			}
		}()
		v, err = idempotency.Do(context.Background(), g, "k", fn)
	}()
	if err != nil || v.N != 7 {
		t.Fatalf("first call = %+v, %v; want its value", v, err)
	}
	time.Sleep(100 * time.Millisecond) // past the lease
	_, err = idempotency.Do(context.Background(), g, "k", fn)
	wantErr(t, err, idempotency.ErrResultUnavailable)
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times", n)
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

func (s *getFailing) count() int64   { return s.claims.Load() }
func (s *claimCounter) count() int64 { return s.claims.Load() }
func (s *pollCounter) count() int64  { return s.claims.Load() }

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

// Under Reject, a key whose execution was abandoned (NoTakeover, lease
// lapsed) says so: it is not a call in progress.
func TestRejectAbandoned(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore(t, c)
	g := newGuard(t, s, &idempotency.Config{Lease: time.Minute, NoTakeover: true, OnDuplicate: idempotency.Reject})
	if _, err := s.Claim(context.Background(), idempotency.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Minute)
	_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
		t.Error("fn ran under NoTakeover after a lapsed lease")
		return 0, nil
	})
	wantErr(t, err, idempotency.ErrDuplicate, idempotency.ErrAbandoned)
	if errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("abandoned key reported in progress: %v", err)
	}
}

type dag struct{ L, R *dag }

// A value whose nodes are shared would take exponential time to walk;
// Key refuses it instead.
func TestKeySharedNodesBounded(t *testing.T) {
	t.Parallel()
	d := &dag{}
	for range 40 {
		d = &dag{L: d, R: d}
	}
	if _, err := idempotency.Key("f", d); !errors.Is(err, idempotency.ErrInvalidKey) {
		t.Fatalf("Key of a 2^40-node walk = %v, want ErrInvalidKey", err)
	}
}

type uncomparableErr struct{ parts []string }

func (e uncomparableErr) Error() string { return "uncomparable" }

func TestFailedErrorUncomparableKnownError(t *testing.T) {
	t.Parallel()
	known := uncomparableErr{parts: []string{"x"}}
	g := newGuard(t, nil, &idempotency.Config{OnFailure: idempotency.Remember, KnownErrors: []error{known}})
	fn := func(context.Context) (int, error) { return 0, known }
	_, _ = idempotency.Do(context.Background(), g, "k", fn)
	_, err := idempotency.Do(context.Background(), g, "k", fn)
	if errors.Is(err, uncomparableErr{}) { // must not panic
		t.Fatal("matched a different uncomparable error")
	}
	wantErr(t, err, idempotency.ErrFailed)
}
