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

// The record map is rebuilt once it holds under a quarter of its peak, and
// only when that peak is at least 256 records.
func TestRecordMapRebuiltUnderAQuarterOfItsPeak(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		fill       int // records before the removals; the first removal sets the peak
		rebuiltAt  int // records left when the map is rebuilt (0: never)
		peakBefore int
	}{
		{name: "Peak256", fill: 257, rebuiltAt: 63, peakBefore: 256},
		{name: "Peak255", fill: 256, rebuiltAt: 0, peakBefore: 255},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := oneShard(t)
			tokens := make([]idemtype.Token, c.fill)
			for i := range c.fill {
				tokens[i] = claim(t, s, fmt.Sprint("k", i))
			}
			for i := c.fill - 1; i >= 0; i-- {
				if err := s.Release(ctx, fmt.Sprint("k", i), tokens[i]); err != nil {
					t.Fatal(err)
				}
				want := c.peakBefore
				if i <= c.rebuiltAt && c.rebuiltAt > 0 {
					want = c.rebuiltAt // rebuilt: the peak starts again from its size
				}
				if got := memstore.RecordsPeak(s); got != want {
					t.Fatalf("%d records left: peak %d, want %d", i, got, want)
				}
			}
		})
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
