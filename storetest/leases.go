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
	if c.Record.Fingerprint != "A" || c.Record.Token != r.Token || !c.Abandoned {
		t.Fatalf("claim with another fingerprint after the lease lapsed = %+v, want the lapsed record, Abandoned", c)
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
	// A remembered failure is as final: it is not run again.
	f := mustAcquire(t, s, req("f", shortLease))
	complete(t, s, "f", f.Token, idemtype.StatusFailed, []byte("declined"), time.Hour)
	time.Sleep(lapse) // a settled record has no lease to lapse
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Abandoned || c.TookOver || string(c.Record.Value) != "v" {
		t.Fatalf("claim of a completed key after its lease = %+v", c)
	}
	c = mustNotAcquire(t, s, req("f", longLease))
	if c.Abandoned || c.Record.Status != idemtype.StatusFailed || string(c.Record.Value) != "declined" {
		t.Fatalf("claim of a failed key after its lease = %+v", c)
	}
}

// testCompleteRefusesUnfinishedStatus: Complete refuses an outcome whose
// status does not settle the record (idemtype.CheckOutcome) and changes
// nothing: recorded, the record would stay unsettled for ever, and a
// zero status is no state at all. The owner may then record its outcome.
func testCompleteRefusesUnfinishedStatus(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	for _, st := range []idemtype.Status{0, idemtype.StatusInProgress, idemtype.StatusFailed + 1, 255} {
		if err := s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: st, Value: []byte("x"), TTL: time.Hour}); err == nil {
			t.Fatalf("Complete with status %d: no error", st)
		}
		if g := get(t, s, "k"); g.Status != idemtype.StatusInProgress || g.Token != r.Token || len(g.Value) != 0 {
			t.Fatalf("after Complete with status %d refused: %+v, want the claim as it was", st, g)
		}
	}
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), time.Hour)
	if g := get(t, s, "k"); g.Status != idemtype.StatusCompleted || string(g.Value) != "v" {
		t.Fatalf("after a valid Complete: %+v", g)
	}
}

// testTakeoverRenewsExpiry: a takeover gives the record a new expiry from
// the takeover on. Kept at the first claim's, the record would expire
// under the new owner while it runs, and a third caller would run fn
// beside it.
func testTakeoverRenewsExpiry(t *testing.T, s idemtype.Store) {
	first := req("k", shortLease)
	first.TTL = lapse + 400*time.Millisecond
	mustAcquire(t, s, first)
	time.Sleep(lapse)
	c := claim(t, s, req("k", longLease))
	if !c.Acquired || !c.TookOver {
		t.Fatalf("claim after the lease lapsed = %+v, want a takeover", c)
	}
	time.Sleep(first.TTL - lapse + 400*time.Millisecond) // past the first claim's expiry
	if c2 := mustNotAcquire(t, s, req("k", longLease)); c2.Record.Token != c.Record.Token {
		t.Fatalf("claim past the first claim's expiry = %+v, want the takeover's record", c2)
	}
}
