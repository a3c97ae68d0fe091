package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// A shard rebuilds its containers on the rules shrink.go and shard.go
// state, no sooner (a rebuild at every removal would make removals cost
// O(n)) and no later (memory would not follow live records).

func oneShard(t *testing.T) *memstore.Store {
	t.Helper()
	clk := storetest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func claim(t *testing.T, s *memstore.Store, key string) idemtype.Token {
	t.Helper()
	c, err := s.Claim(context.Background(), idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour})
	if err != nil || !c.Acquired {
		t.Fatalf("Claim(%s) = %+v, %v", key, c, err)
	}
	return c.Record.Token
}

// A map of records or of watches is rebuilt once it holds under a quarter
// of its peak, and only when that peak is at least 256 entries.
func TestMapsRebuiltUnderAQuarterOfTheirPeak(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		watches    bool // the map of watches, else of records
		fill       int  // entries before the removals; the first removal sets the peak
		rebuiltAt  int  // entries left when the map is rebuilt (0: never)
		peakBefore int
	}{
		{name: "Records", fill: 257, rebuiltAt: 63, peakBefore: 256},
		{name: "RecordsUnder256", fill: 256, peakBefore: 255},
		{name: "Watches", watches: true, fill: 257, rebuiltAt: 63, peakBefore: 256},
		{name: "WatchesUnder256", watches: true, fill: 256, peakBefore: 255},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := oneShard(t)
			remove := make([]func(), c.fill)
			for i := range c.fill {
				k := fmt.Sprint("k", i)
				if c.watches {
					_, stop, err := s.Watch(ctx, k)
					if err != nil {
						t.Fatal(err)
					}
					remove[i] = stop
					continue
				}
				tok := claim(t, s, k)
				remove[i] = func() {
					if err := s.Release(ctx, k, tok); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := c.fill - 1; i >= 0; i-- {
				remove[i]()
				want := c.peakBefore
				if i <= c.rebuiltAt && c.rebuiltAt > 0 {
					want = c.rebuiltAt // rebuilt: the peak starts again from its size
				}
				got, watches := memstore.Peaks(s)
				if c.watches {
					got = watches
				}
				if got != want {
					t.Fatalf("%d entries left: peak %d, want %d", i, got, want)
				}
			}
		})
	}
}

// The expiry heap's slice is copied into one of twice its length once its
// length falls under a quarter of its capacity, when that capacity is at
// least 256.
func TestExpiryHeapCapacityFollowsItsLength(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	n := 0
	// From a capacity of 1024 or more the heap is rebuilt more than once.
	// (Which capacities occur, and so whether one is exactly 256 or a
	// multiple of 4, depends on how the runtime grows slices.)
	for ; memstore.ExpiryCap(s) < 1024; n++ {
		k := fmt.Sprint("k", n)
		c, err := s.Claim(context.Background(), idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: time.Duration(n+1) * time.Minute})
		if err != nil || !c.Acquired {
			t.Fatalf("Claim(%s) = %+v, %v", k, c, err)
		}
	}
	want, rebuilds := memstore.ExpiryCap(s), 0
	for n > 0 {
		clk.Advance(time.Minute) // the next record expires
		if got, err := s.Sweep(context.Background()); got != 1 || err != nil {
			t.Fatalf("Sweep = %d, %v; want 1", got, err)
		}
		n--
		if want >= 256 && 4*n < want {
			want, rebuilds = 2*n, rebuilds+1
		}
		if got := memstore.ExpiryCap(s); got != want {
			t.Fatalf("%d entries left: capacity %d, want %d", n, got, want)
		}
	}
	if rebuilds < 2 {
		t.Fatalf("the heap was rebuilt %d times, want 2 or more", rebuilds)
	}
}

// Released records leave their expiry entries; the heap is rebuilt when
// they pass twice the live records plus 64, and not before.
func TestExpiryHeapCompactedPastTwiceTheLiveRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := oneShard(t)
	const live = 100
	for i := range live {
		claim(t, s, fmt.Sprint("live", i))
	}
	limit := 2*live + 64
	for i := range 3 * limit {
		k := fmt.Sprint("gone", i)
		tok := claim(t, s, k)
		if err := s.Release(ctx, k, tok); err != nil {
			t.Fatal(err)
		}
		// Entries after i+1 releases: the live records' and the released
		// ones' since the last rebuild, which happens when they pass the
		// limit and leaves the live records' alone.
		want := live + (i+1)%(limit-live+1)
		if got := memstore.ExpiryEntries(s); got != want {
			t.Fatalf("after %d releases: %d expiry entries, want %d", i+1, got, want)
		}
	}
}
