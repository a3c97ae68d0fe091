package storetest

// Boundaries: on a hand-moved clock, the instants where a lease lapses
// and a record expires, to the nanosecond (RunClock).

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func testLeaseHeldUntilBoundary(t *testing.T, s idemtype.Store, clk *Clock) {
	r := mustAcquire(t, s, req("k", testLease))
	if want := epoch.Add(testLease); !r.LeaseUntil.Equal(want) {
		t.Fatalf("LeaseUntil = %v, want claim time + lease = %v", r.LeaseUntil, want)
	}
	clk.Advance(testLease - ns)
	c := mustNotAcquire(t, s, req("k", testLease))
	if c.Abandoned || c.Record.Token != r.Token {
		t.Fatalf("claim 1ns before LeaseUntil = %+v, want the live claim, not abandoned", c)
	}
}

func testLeaseLapsedAtBoundary(t *testing.T, s idemtype.Store, clk *Clock) {
	r := mustAcquire(t, s, req("k", testLease))
	clk.Advance(testLease)
	c := claim(t, s, req("k", testLease))
	if !c.Acquired || !c.TookOver || c.Record.Token <= r.Token {
		t.Fatalf("claim at LeaseUntil = %+v, want a takeover: a lease has lapsed at LeaseUntil", c)
	}
	if want := epoch.Add(2 * testLease); !c.Record.LeaseUntil.Equal(want) {
		t.Fatalf("takeover LeaseUntil = %v, want %v", c.Record.LeaseUntil, want)
	}
	wantLeaseLost(t, "Complete by the owner taken over", s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
}

func testAbandonedAtBoundary(t *testing.T, s idemtype.Store, clk *Clock) {
	r := mustAcquire(t, s, req("k", testLease))
	noTake := req("k", testLease)
	noTake.Takeover = false
	clk.Advance(testLease - ns)
	if c := mustNotAcquire(t, s, noTake); c.Abandoned {
		t.Fatalf("claim 1ns before LeaseUntil reported abandoned: %+v", c)
	}
	clk.Advance(ns)
	if c := mustNotAcquire(t, s, noTake); !c.Abandoned || c.Record.Token != r.Token {
		t.Fatalf("claim without takeover at LeaseUntil = %+v, want Abandoned", c)
	}
}

func testExtendMovesBoundary(t *testing.T, s idemtype.Store, clk *Clock) {
	r := mustAcquire(t, s, req("k", testLease))
	clk.Advance(testLease - ns)
	if err := s.Extend(ctx(t), "k", r.Token, testLease); err != nil {
		t.Fatalf("Extend 1ns before LeaseUntil: %v", err)
	}
	until := epoch.Add(2*testLease - ns)
	if g := get(t, s, "k"); !g.LeaseUntil.Equal(until) {
		t.Fatalf("LeaseUntil after Extend = %v, want Extend time + lease = %v", g.LeaseUntil, until)
	}
	clk.Set(until.Add(-ns))
	mustNotAcquire(t, s, req("k", testLease))
	clk.Set(until)
	if c := claim(t, s, req("k", testLease)); !c.TookOver {
		t.Fatalf("claim at the extended LeaseUntil = %+v, want a takeover", c)
	}
}

func testLapsedOwnerMayFinish(t *testing.T, s idemtype.Store, clk *Clock) {
	r := mustAcquire(t, s, req("k", testLease))
	clk.Advance(testLease)
	// Nobody took over: the lapsed owner still owns the record.
	if err := s.Extend(ctx(t), "k", r.Token, testLease); err != nil {
		t.Fatalf("Extend at LeaseUntil by the only owner: %v", err)
	}
	clk.Advance(testLease + ns)
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("late"), testTTL)
	if g := get(t, s, "k"); string(g.Value) != "late" {
		t.Fatalf("late completion lost: %+v", g)
	}
}

func testRecordGoneAtExpiry(t *testing.T, s idemtype.Store, clk *Clock) {
	r := mustAcquire(t, s, req("k", testLease))
	clk.Advance(time.Second)
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), testTTL)
	expires := epoch.Add(time.Second + testTTL)
	if g := get(t, s, "k"); !g.ExpiresAt.Equal(expires) {
		t.Fatalf("ExpiresAt = %v, want completion time + TTL = %v", g.ExpiresAt, expires)
	}
	clk.Set(expires.Add(-ns))
	if c := mustNotAcquire(t, s, req("k", testLease)); string(c.Record.Value) != "v" {
		t.Fatalf("claim 1ns before ExpiresAt = %+v, want the stored outcome", c)
	}
	clk.Set(expires)
	wantNotFound(t, s, "k")
	if c := claim(t, s, req("k", testLease)); !c.Acquired || c.TookOver || c.Record.Token <= r.Token {
		t.Fatalf("claim at ExpiresAt = %+v, want a new claim with a larger token", c)
	}
}

func testInProgressGoneAtExpiry(t *testing.T, s idemtype.Store, clk *Clock) {
	r := req("k", time.Hour) // the lease outlives the TTL
	r.TTL, r.Takeover = testTTL, false
	first := mustAcquire(t, s, r)
	if want := epoch.Add(testTTL); !first.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want claim time + TTL = %v", first.ExpiresAt, want)
	}
	clk.Advance(testTTL - ns)
	if err := s.Extend(ctx(t), "k", first.Token, time.Hour); err != nil {
		t.Fatalf("Extend 1ns before ExpiresAt: %v", err)
	}
	clk.Advance(ns)
	wantLeaseLost(t, "Extend at ExpiresAt", s.Extend(ctx(t), "k", first.Token, time.Hour))
	wantLeaseLost(t, "Complete at ExpiresAt", s.Complete(ctx(t), "k", first.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
	if second := mustAcquire(t, s, r); second.Token <= first.Token {
		t.Fatalf("token after expiry %d, want larger than %d", second.Token, first.Token)
	}
}

func testSweepAtExpiry(t *testing.T, s idemtype.Store, clk *Clock) {
	sw, ok := s.(idemtype.Sweeper)
	if !ok {
		t.Skip("store does not implement idemtype.Sweeper")
	}
	r := mustAcquire(t, s, req("k", testLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), testTTL)
	clk.Advance(testTTL - ns)
	if n, err := sw.Sweep(ctx(t)); err != nil || n != 0 {
		t.Fatalf("Sweep 1ns before ExpiresAt = %d, %v; want 0", n, err)
	}
	get(t, s, "k")
	clk.Advance(ns)
	if n, err := sw.Sweep(ctx(t)); err != nil || n != 1 {
		t.Fatalf("Sweep at ExpiresAt = %d, %v; want 1", n, err)
	}
	wantNotFound(t, s, "k")
}
