package memstore_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// Records kept for the largest time.Duration, past 2262, must not come due
// again on every write of their shard: each would cost a heap step per
// write, for ever.
func TestFarFutureRecordsStayOffTheExpiryHeap(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	ctx := context.Background()
	const forever = time.Duration(math.MaxInt64)
	for i := range 100 {
		k := fmt.Sprint("far", i)
		c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: forever})
		if err != nil || !c.Acquired {
			t.Fatalf("Claim(%s) = %+v, %v", k, c, err)
		}
		if i%2 == 0 {
			if err := s.Complete(ctx, k, c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: forever}); err != nil {
				t.Fatalf("Complete(%s): %v", k, err)
			}
		}
	}
	clk.Advance(time.Second)
	if _, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "near", Lease: time.Minute, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Sweep(ctx); n != 0 {
		t.Fatalf("Sweep removed %d records kept for %v", n, forever)
	}
	if due, want := time.Unix(0, memstore.NextDue(s)), clk.Now().Add(time.Hour); !due.Equal(want) {
		t.Fatalf("next expiry entry due at %v, want %v (the one record with a TTL of an hour)", due, want)
	}
	if n := s.Len(); n != 101 {
		t.Fatalf("Len = %d, want 101", n)
	}
}
