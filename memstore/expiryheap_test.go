package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// One shard's expiry heap, through every shape a heap takes (one entry, a
// node with a left child only, entries moved later by a completion), must
// expire each record exactly when it comes due and no other: a sweep minute
// by minute removes, each time, the records whose expiry has come.
func TestExpiryHeapExpiresInOrder(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clk := storetest.NewClock(start)
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()

	const n = 31
	expires := map[string]time.Time{}
	for i := range n {
		k := fmt.Sprint("k", i)
		ttl := time.Duration(i*17%n+1) * time.Minute // 1..31 minutes, scrambled
		c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: 30 * time.Second, TTL: ttl})
		if err != nil || !c.Acquired {
			t.Fatalf("Claim(%s) = %+v, %v", k, c, err)
		}
		expires[k] = start.Add(ttl)
		if i%3 == 0 {
			// Completed with a longer TTL: the record's expiry moves
			// later than its heap entry, which must then move too.
			out := idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: ttl + 20*time.Minute}
			if err := s.Complete(ctx, k, c.Record.Token, out); err != nil {
				t.Fatalf("Complete(%s): %v", k, err)
			}
			expires[k] = start.Add(ttl + 20*time.Minute)
		}
	}

	for minute := 1; len(expires) > 0; minute++ {
		if minute > 60 {
			t.Fatalf("%d records outlived their expiry: %v", len(expires), expires)
		}
		clk.Advance(time.Minute)
		now := clk.Now()
		var due []string
		for k, at := range expires {
			if !now.Before(at) {
				due = append(due, k)
				delete(expires, k)
			}
		}
		got, err := s.Sweep(ctx)
		if err != nil || got != len(due) {
			t.Fatalf("minute %d: Sweep = %d, %v; want %d records removed", minute, got, err, len(due))
		}
		for _, k := range due {
			if _, err := s.Get(ctx, k); !errors.Is(err, idemtype.ErrNotFound) {
				t.Fatalf("minute %d: Get(%s) after its expiry = %v, want ErrNotFound", minute, k, err)
			}
		}
		if l := s.Len(); l != len(expires) {
			t.Fatalf("minute %d: Len = %d, want %d", minute, l, len(expires))
		}
		next := time.Unix(0, memstore.NextDue(s))
		for k, at := range expires {
			if _, err := s.Get(ctx, k); err != nil {
				t.Fatalf("minute %d: Get(%s) due at %v: %v", minute, k, at, err)
			}
			if next.After(at) {
				t.Fatalf("minute %d: next expiry entry at %v, after %s's expiry at %v", minute, next, k, at)
			}
		}
		if !next.After(now) {
			t.Fatalf("minute %d: next expiry entry at %v, not after now (%v)", minute, next, now)
		}
	}
}

// A write that keeps or moves a record's expiry later pushes no entry: the
// one it has comes due first. Only an earlier expiry is pushed.
func TestExpiryEntryPushedOnlyForAnEarlierExpiry(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		ttl     time.Duration // of the completion, at the instant of the claim (TTL an hour)
		entries int
	}{
		{name: "Same", ttl: time.Hour, entries: 1},
		{name: "Later", ttl: 2 * time.Hour, entries: 1},
		{name: "Earlier", ttl: time.Minute, entries: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := oneShard(t)
			tok := claim(t, s, "k") // TTL an hour
			if err := s.Complete(ctx, "k", tok, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: c.ttl}); err != nil {
				t.Fatal(err)
			}
			if n := memstore.ExpiryEntries(s); n != c.entries {
				t.Fatalf("%d expiry entries, want %d", n, c.entries)
			}
		})
	}
}
