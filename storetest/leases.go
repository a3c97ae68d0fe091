package storetest

// Leases and takeover: a claim lives for its lease, renewed by Extend;
// once it lapsed, one claim may take it over.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func testNoTakeoverBeforeLease(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Abandoned || c.Record.Token != r.Token {
		t.Fatalf("claim during a live lease = %+v", c)
	}
	// Most of a lease gone is not a lapse: a store that counted the lease
	// short (half of it, or in other units) takes over here.
	const lease = 3 * time.Second
	r = mustAcquire(t, s, req("k2", lease))
	time.Sleep(lease * 6 / 10)
	c = mustNotAcquire(t, s, req("k2", longLease))
	if c.Abandoned || c.Record.Token != r.Token {
		t.Fatalf("claim at 60%% of a lease = %+v", c)
	}
}

func testTakeoverAfterLease(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	c := claim(t, s, req("k", longLease))
	if !c.Acquired || !c.TookOver {
		t.Fatalf("claim after the lease lapsed = %+v, want a takeover", c)
	}
	if c.Record.Token <= r.Token {
		t.Fatalf("takeover token %d, want larger than %d", c.Record.Token, r.Token)
	}
	if c.Record.Status != idemtype.StatusInProgress || c.Record.LeaseUntil.Before(time.Now().Add(longLease/2)) {
		t.Fatalf("takeover record = %+v", c.Record)
	}
	mustNotAcquire(t, s, req("k", longLease))
}

func testTakeoverDisabled(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	noTake := req("k", longLease)
	noTake.Takeover = false
	c := mustNotAcquire(t, s, noTake)
	if !c.Abandoned || c.Record.Token != r.Token || c.Record.Status != idemtype.StatusInProgress {
		t.Fatalf("claim without takeover after lapse = %+v, want Abandoned with token %d", c, r.Token)
	}
	// The lapsed owner may still finish: nobody took over.
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("late"), time.Hour)
	if g := get(t, s, "k"); string(g.Value) != "late" {
		t.Fatalf("late completion by the only owner lost: %+v", g)
	}
}

func testTakeoverFingerprint(t *testing.T, s idemtype.Store) {
	a := req("k", shortLease)
	a.Fingerprint = "A"
	r := mustAcquire(t, s, a)
	time.Sleep(lapse)
	b := req("k", longLease)
	b.Fingerprint = "B"
	c := mustNotAcquire(t, s, b)
	if c.Record.Fingerprint != "A" || c.Record.Token != r.Token {
		t.Fatalf("claim with another fingerprint = %+v", c)
	}
}

func testOneTakeoverWinner(t *testing.T, s idemtype.Store) {
	mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	const n = 50
	var mu sync.Mutex
	winners := 0
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Claim(context.Background(), req("k", longLease))
			if err != nil {
				t.Error(err)
				return
			}
			if c.Acquired {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d concurrent takeovers won, want 1", winners)
	}
}

func testExtend(t *testing.T, s idemtype.Store) {
	lease := 2 * shortLease
	r := mustAcquire(t, s, req("k", lease))
	// Keep renewing past several leases: nobody may take over.
	noTake := req("k", lease)
	noTake.Takeover = false
	deadline := time.Now().Add(3 * lease)
	for time.Now().Before(deadline) {
		if err := s.Extend(ctx(t), "k", r.Token, lease); err != nil {
			t.Fatalf("Extend: %v", err)
		}
		time.Sleep(lease / 10)
		if c := mustNotAcquire(t, s, noTake); c.Abandoned || c.Record.Token != r.Token {
			t.Fatalf("renewed claim reported abandoned or replaced: %+v", c)
		}
	}
	if err := s.Extend(ctx(t), "k", r.Token, longLease); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if g := get(t, s, "k"); g.LeaseUntil.Before(time.Now().Add(longLease / 2)) {
		t.Fatalf("LeaseUntil %v after Extend(%v)", g.LeaseUntil, longLease)
	}
}

func testCompletedIsFinal(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", shortLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), time.Hour)
	time.Sleep(lapse) // a completed record has no lease to lapse
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Abandoned || c.TookOver || string(c.Record.Value) != "v" {
		t.Fatalf("claim of a completed key after its lease = %+v", c)
	}
}
