package idempotency_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// cached is a guard with a local cache, over a memstore that counts its
// round trips; the guard, the store and the cache share a hand-moved clock.
type cached struct {
	g     *idempotency.Guard
	store *countingStore
	clock *clock
	ran   atomic.Int64 // executions of fn
}

const cacheAge = time.Minute

// newCached returns a guard caching for cacheAge unless cfg says otherwise.
func newCached(t *testing.T, cfg idempotency.Config) *cached {
	t.Helper()
	c := &cached{clock: newClock()}
	c.store = &countingStore{Store: newStore(t, c.clock)}
	if cfg.LocalCache.MaxAge == 0 {
		cfg.LocalCache.MaxAge = cacheAge
	}
	c.g = newGuardAt(t, c.store, &cfg, c.clock)
	return c
}

// other is another process's guard over the same store, without a cache.
func (c *cached) other(t *testing.T) *idempotency.Guard {
	return newGuardAt(t, c.store.Store, nil, c.clock)
}

// do calls key through g and returns what it got and the round trips the
// call made.
func (c *cached) do(t *testing.T, g *idempotency.Guard, key string, opts ...idempotency.CallOption) (v, trips int, err error) {
	t.Helper()
	before := c.store.trips()
	v, err = idempotency.Do(context.Background(), g, key, func(context.Context) (int, error) {
		return int(c.ran.Add(1)), nil
	}, opts...)
	return v, c.store.trips() - before, err
}

// call is do through the cached guard, wanting v and trips round trips.
func (c *cached) call(t *testing.T, key string, v, trips int, opts ...idempotency.CallOption) {
	t.Helper()
	got, n, err := c.do(t, c.g, key, opts...)
	if err != nil || got != v || n != trips {
		t.Fatalf("Do(%q) = %d, %v with %d round trips; want %d, nil with %d", key, got, err, n, v, trips)
	}
}

func TestLocalCacheRoundTrips(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{})
	c.call(t, "k", 1, 2) // claim, complete
	for range 3 {
		c.call(t, "k", 1, 0)
	}
	c.clock.Advance(cacheAge - 1)
	c.call(t, "k", 1, 0)
	c.clock.Advance(1) // MaxAge passed: ask the store once, then cache again
	c.call(t, "k", 1, 1)
	c.call(t, "k", 1, 0)

	// An outcome recorded by another process is cached once read.
	if v, _, err := c.do(t, c.other(t), "elsewhere"); err != nil || v != 2 {
		t.Fatalf("other guard: %d, %v", v, err)
	}
	c.call(t, "elsewhere", 2, 1)
	c.call(t, "elsewhere", 2, 0)
	if got := c.ran.Load(); got != 2 {
		t.Fatalf("fn ran %d times, want 2", got)
	}
}

func TestLocalCacheOffByDefault(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{})
	g := newGuardAt(t, c.store, nil, c.clock)
	c.do(t, g, "k")
	for range 3 {
		if v, n, err := c.do(t, g, "k"); err != nil || v != 1 || n != 1 {
			t.Fatalf("uncached duplicate = %d, %v with %d round trips; want 1, nil with 1", v, err, n)
		}
	}
}

// An entry never outlives its record: whether this guard recorded the
// outcome (its TTL from Config or WithTTL) or read it from the store.
func TestLocalCacheHonoursExpiry(t *testing.T) {
	t.Parallel()
	const ttl = 10 * time.Second
	for _, tc := range []struct {
		name  string
		cfg   idempotency.Config
		opts  []idempotency.CallOption
		other bool // recorded by another guard, read from the store here
	}{
		{"Recorded", idempotency.Config{TTL: ttl, Lease: time.Second}, nil, false},
		{"RecordedWithTTL", idempotency.Config{Lease: time.Second}, []idempotency.CallOption{idempotency.WithTTL(ttl)}, false},
		{"Read", idempotency.Config{Lease: time.Second}, []idempotency.CallOption{idempotency.WithTTL(ttl)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.LocalCache.MaxAge = time.Hour
			c := newCached(t, tc.cfg)
			if tc.other {
				if _, _, err := c.do(t, newGuardAt(t, c.store.Store, &idempotency.Config{Lease: time.Second}, c.clock), "k", tc.opts...); err != nil {
					t.Fatal(err)
				}
				c.call(t, "k", 1, 1)
			} else {
				c.call(t, "k", 1, 2, tc.opts...)
			}
			c.clock.Advance(ttl - 1)
			c.call(t, "k", 1, 0)
			c.clock.Advance(1) // the record expired: fn runs again
			c.call(t, "k", 2, 2, tc.opts...)
		})
	}
}

func TestLocalCacheEvictsOldest(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Hour, MaxEntries: 3}})
	for i, k := range []string{"a", "b", "c", "d"} {
		c.call(t, k, i+1, 2)
	}
	if n := idempotency.LocalCacheLen(c.g); n != 3 {
		t.Fatalf("%d entries, want MaxEntries 3", n)
	}
	c.call(t, "b", 2, 0)
	c.call(t, "c", 3, 0)
	c.call(t, "d", 4, 0)
	c.call(t, "a", 1, 1) // evicted first; cached again, evicting b
	c.call(t, "a", 1, 0)
	c.call(t, "b", 2, 1)
	if n := idempotency.LocalCacheLen(c.g); n != 3 {
		t.Fatalf("%d entries, want MaxEntries 3", n)
	}

	// A large cache is split in shards and still bounded as a whole.
	c = newCached(t, idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Hour, MaxEntries: 1000}})
	for i := range 3000 {
		if _, _, err := c.do(t, c.g, strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := idempotency.LocalCacheLen(c.g); n != 1000 {
		t.Fatalf("%d entries after 3000 keys, want MaxEntries 1000", n)
	}
}

// A cached duplicate gets what the store would answer: another fingerprint
// is ErrKeyReused, also when the record was read from the store.
func TestLocalCacheFingerprint(t *testing.T) {
	t.Parallel()
	fp := idempotency.WithFingerprint
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "Recorded", true: "Read"}[other], func(t *testing.T) {
			t.Parallel()
			c := newCached(t, idempotency.Config{})
			if other {
				c.do(t, c.other(t), "k", fp("order-1"))
				c.call(t, "k", 1, 1, fp("order-1"))
			} else {
				c.call(t, "k", 1, 2, fp("order-1"))
			}
			for _, opts := range [][]idempotency.CallOption{{fp("order-2")}, nil} {
				_, n, err := c.do(t, c.g, "k", opts...)
				wantErr(t, err, idempotency.ErrKeyReused)
				if n != 0 {
					t.Fatalf("reused key cost %d round trips, want 0", n)
				}
			}
			c.call(t, "k", 1, 0, fp("order-1"))
		})
	}
}

func TestLocalCacheReject(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{OnDuplicate: idempotency.Reject})
	c.call(t, "k", 1, 2)
	_, n, err := c.do(t, c.g, "k")
	wantErr(t, err, idempotency.ErrDuplicate)
	if n != 0 || c.ran.Load() != 1 {
		t.Fatalf("rejected duplicate: %d round trips, fn ran %d times", n, c.ran.Load())
	}
}

// Remembered failures are final outcomes and cached; released ones are
// not outcomes at all.
func TestLocalCacheFailures(t *testing.T) {
	t.Parallel()
	errDeclined := errors.New("declined")
	for _, policy := range []idempotency.FailurePolicy{idempotency.Remember, idempotency.Release} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			c := newCached(t, idempotency.Config{OnFailure: policy, KnownErrors: []error{errDeclined}})
			fail := func() (int, error) {
				before := c.store.trips()
				_, err := idempotency.Do(context.Background(), c.g, "k", func(context.Context) (int, error) {
					c.ran.Add(1)
					return 0, errDeclined
				})
				return c.store.trips() - before, err
			}
			fail()
			n, err := fail()
			wantErr(t, err, errDeclined)
			switch policy {
			case idempotency.Remember:
				wantErr(t, err, idempotency.ErrFailed)
				if n != 0 || c.ran.Load() != 1 {
					t.Fatalf("remembered failure: %d round trips, fn ran %d times; want 0, 1", n, c.ran.Load())
				}
			case idempotency.Release:
				if n != 2 || c.ran.Load() != 2 {
					t.Fatalf("released failure: %d round trips, fn ran %d times; want 2 (claim, release), 2", n, c.ran.Load())
				}
			}
		})
	}
}

// Forget through the guard drops its entry at once; a deletion elsewhere
// is seen once the entry ages out.
func TestLocalCacheForget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCached(t, idempotency.Config{})
	c.call(t, "k", 1, 2)
	if err := c.g.Forget(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	c.call(t, "k", 2, 2)

	if err := c.store.Store.Delete(ctx, "k"); err != nil { // another process
		t.Fatal(err)
	}
	c.clock.Advance(cacheAge - 1)
	c.call(t, "k", 2, 0) // stale, as documented
	c.clock.Advance(1)
	c.call(t, "k", 3, 2)
}

// A Forget that lands while a duplicate's claim is on its way back cannot
// leave the forgotten outcome cached.
func TestLocalCacheForgetRacesRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCached(t, idempotency.Config{})
	c.do(t, c.other(t), "k")
	var once atomic.Bool
	c.store.afterClaim = func(key string) {
		if once.CompareAndSwap(false, true) {
			if err := c.g.Forget(ctx, key); err != nil {
				t.Error(err)
			}
		}
	}
	c.call(t, "k", 1, 2) // claim (read before the Forget), delete
	c.call(t, "k", 2, 2)
}

// Only final outcomes are cached: a duplicate that found the key in
// progress asks the store again next time.
func TestLocalCacheSkipsInProgress(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{})
	_, release, done := running(t, c.other(t), "k", 7)
	_, n, err := c.do(t, c.g, "k", idempotency.WithWaitTimeout(-1))
	wantErr(t, err, idempotency.ErrInProgress)
	if n != 1 {
		t.Fatalf("in-progress duplicate: %d round trips, want 1", n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.call(t, "k", 7, 1)
	c.call(t, "k", 7, 0)
}

// A store that lost its records and its token counter (a Redis restarted
// without persistence) hands out smaller tokens again: once the old entry
// aged out, the new outcome is cached in its place.
func TestLocalCacheStoreRestarted(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{})
	for _, k := range []string{"a", "b", "k"} {
		c.call(t, k, int(c.ran.Load())+1, 2)
	}
	c.store.Store = newStore(t, c.clock) // before any call goes on
	c.clock.Advance(cacheAge)
	c.call(t, "k", 4, 2)
	c.call(t, "k", 4, 0)
}

// Concurrent callers over a small cache (entries evicted all the time) still
// run each key once and all get its one result.
func TestLocalCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Hour, MaxEntries: 8}})
	var runs counter
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				k := strconv.Itoa((w + i) % 20)
				v, err := idempotency.Do(context.Background(), c.g, k, func(context.Context) (string, error) {
					runs.add(k)
					return "result of " + k, nil
				})
				if err != nil || v != "result of "+k {
					t.Errorf("Do(%s) = %q, %v", k, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for k := range 20 {
		if n := runs.get(strconv.Itoa(k)); n != 1 {
			t.Errorf("key %d ran %d times", k, n)
		}
	}
	if n := idempotency.LocalCacheLen(c.g); n > 8 {
		t.Fatalf("%d entries, want at most 8", n)
	}
}

// A cached entry keeps its decoded result (of an immutable type): over more
// keys than the replay cache holds, each key is decoded once, however often
// it is replayed.
func TestLocalCacheDecodesOnce(t *testing.T) {
	t.Parallel()
	codec := &countingCodec{}
	c := newCached(t, idempotency.Config{Codec: codec, LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Hour, MaxEntries: 5000}})
	type receipt struct {
		ID     string
		Amount int
	}
	const keys = 3000
	for round := range 3 {
		for i := range keys {
			k := strconv.Itoa(i)
			r, err := idempotency.Do(context.Background(), c.g, k, func(context.Context) (receipt, error) {
				return receipt{k, i}, nil
			})
			if err != nil || r != (receipt{k, i}) {
				t.Fatalf("round %d: Do(%s) = %+v, %v", round, k, r, err)
			}
		}
	}
	if n := codec.unmarshal.Load(); n != keys {
		t.Fatalf("%d decodes for %d keys replayed twice each, want one per key", n, keys)
	}
	// Another type reads the same entries afresh.
	if _, err := idempotency.Do(context.Background(), c.g, "0", func(context.Context) (struct{ ID string }, error) {
		t.Error("ran again")
		return struct{ ID string }{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := codec.unmarshal.Load(); n != keys+1 {
		t.Fatalf("%d decodes, want one more for another type", n)
	}
}

// TestLocalCacheKeepsItsOwnEncoding: a first call's result is encoded into
// a buffer the next call reuses; the entry the local cache makes of it
// must not share those bytes, or a duplicate of the first key would get
// the next call's result.
func TestLocalCacheKeepsItsOwnEncoding(t *testing.T) {
	t.Parallel()
	c := newCached(t, idempotency.Config{})
	ctx := context.Background()
	results := map[string]string{"k:a": "first", "k:b": "second, and longer"}
	for _, k := range []string{"k:a", "k:b"} {
		if _, err := idempotency.Do(ctx, c.g, k, func(context.Context) (string, error) { return results[k], nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"k:a", "k:b"} {
		v, err := idempotency.Do(ctx, c.g, k, func(context.Context) (string, error) {
			t.Errorf("%s ran again", k)
			return "", nil
		})
		if err != nil || v != results[k] {
			t.Fatalf("duplicate of %s = %q, %v; want %q", k, v, err, results[k])
		}
	}
}
