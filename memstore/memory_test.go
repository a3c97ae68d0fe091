package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fill(t *testing.T, s *memstore.Store, prefix string, n int, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		k := fmt.Sprint(prefix, i)
		c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: time.Hour})
		if err != nil || !c.Acquired {
			t.Fatal(c, err)
		}
		if err := s.Complete(ctx, k, c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: ttl}); err != nil {
			t.Fatal(err)
		}
	}
}

// Memory tracks live records: expired ones go as the store is written,
// without a sweep, and the rest with a sweep.
func TestExpiredRecordsDropped(t *testing.T) {
	t.Parallel()
	c := storetest.NewClock(time.Unix(1e9, 0))
	s := memstore.New(&memstore.Options{Now: c.Now, SweepInterval: -1, Shards: 4})
	defer s.Close()
	fill(t, s, "old", 1000, time.Minute)
	if n := s.Len(); n != 1000 {
		t.Fatalf("Len = %d, want 1000", n)
	}
	c.Advance(2 * time.Minute)
	fill(t, s, "new", 100, time.Hour) // writes in every shard drop the expired
	if n := s.Len(); n != 100 {
		t.Fatalf("Len after writes = %d, want the 100 live records", n)
	}
	c.Advance(2 * time.Hour)
	if n, err := s.Sweep(context.Background()); err != nil || n != 100 {
		t.Fatalf("Sweep = %d, %v; want 100", n, err)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len after sweep = %d", n)
	}
}

func TestBackgroundSweeper(t *testing.T) {
	t.Parallel()
	s := memstore.New(&memstore.Options{SweepInterval: 10 * time.Millisecond})
	defer s.Close()
	fill(t, s, "k", 10, 20*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sweeper left %d expired records", s.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClearWakesWatchers(t *testing.T) {
	t.Parallel()
	s := memstore.New(nil)
	defer s.Close()
	ctx := context.Background()
	c, _ := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
	ch, stop, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	s.Clear()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Clear did not wake a watcher")
	}
	if err := s.Complete(ctx, "k", c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}); err != idemtype.ErrLeaseLost {
		t.Fatalf("Complete after Clear = %v, want ErrLeaseLost", err)
	}
	if s.Len() != 0 {
		t.Fatal("Clear left records")
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s := memstore.New(nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// Released keys do not leave their expiry entries behind for a TTL.
func TestReleasedKeysFreeMemory(t *testing.T) {
	t.Parallel()
	s := memstore.New(&memstore.Options{Shards: 1, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	for i := range 10000 {
		k := fmt.Sprint("k", i)
		c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, k, c.Record.Token); err != nil {
			t.Fatal(err)
		}
	}
	if n := memstore.ExpiryEntries(s); n > 100 {
		t.Fatalf("%d expiry entries kept for 0 records", n)
	}
}
