package storetest

// Far-future times: the largest time.Duration, a common way to say "for
// ever", as a lease and a TTL. From today it reaches past 2262, where int64
// Unix nanoseconds end and a millisecond count rounded up overflows; a
// store that wraps such a time into the past lets a duplicate take over
// or find nothing, and fn runs again.

import (
	"math"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

const forever = time.Duration(math.MaxInt64)

// farEnough is well past any lease or expiry a test could wait out, and
// before 2262.
const farEnough = 100 * 365 * 24 * time.Hour

func testFarFuture(t *testing.T, s idemtype.Store) {
	r := idemtype.ClaimRequest{Key: "k", Lease: forever, TTL: forever, Takeover: true}
	first := mustAcquire(t, s, r)
	wantFar := func(what string, at time.Time) {
		t.Helper()
		if !at.After(time.Now().Add(farEnough)) {
			t.Fatalf("%s = %v after a lease or TTL of %v, want a century away or more", what, at, forever)
		}
	}
	wantFar("LeaseUntil", first.LeaseUntil)
	wantFar("ExpiresAt", first.ExpiresAt)
	// A lease wrapped into the past, or cut to a millisecond, has lapsed by
	// now.
	time.Sleep(20 * time.Millisecond)
	if c := mustNotAcquire(t, s, r); c.Abandoned || c.Record.Token != first.Token {
		t.Fatalf("duplicate claim under a lease of %v = %+v, want the held claim", forever, c)
	}
	if err := s.Extend(ctx(t), "k", first.Token, forever); err != nil {
		t.Fatalf("Extend(%v): %v", forever, err)
	}
	g := get(t, s, "k")
	wantFar("LeaseUntil after Extend", g.LeaseUntil)
	time.Sleep(20 * time.Millisecond)
	if c := mustNotAcquire(t, s, r); c.Abandoned || c.Record.Token != first.Token {
		t.Fatalf("duplicate claim after Extend(%v) = %+v, want the held claim", forever, c)
	}
	complete(t, s, "k", first.Token, idemtype.StatusCompleted, []byte("v"), forever)
	g = get(t, s, "k")
	if g.Status != idemtype.StatusCompleted || string(g.Value) != "v" {
		t.Fatalf("record completed with TTL %v = %+v", forever, g)
	}
	if !g.ExpiresAt.IsZero() {
		wantFar("ExpiresAt after Complete", g.ExpiresAt)
	}
	if c := mustNotAcquire(t, s, r); string(c.Record.Value) != "v" {
		t.Fatalf("duplicate claim after completion = %+v, want the stored outcome", c)
	}
}

// testFarFutureClock checks the same on the store's own clock, two
// centuries on.
func testFarFutureClock(t *testing.T, s idemtype.Store, clk *Clock) {
	r := idemtype.ClaimRequest{Key: "k", Lease: forever, TTL: forever, Takeover: true}
	first := mustAcquire(t, s, r)
	clk.Advance(2 * farEnough)
	if c := mustNotAcquire(t, s, r); c.Abandoned || c.Record.Token != first.Token {
		t.Fatalf("claim two centuries into a lease of %v = %+v, want the held claim", forever, c)
	}
	complete(t, s, "k", first.Token, idemtype.StatusCompleted, []byte("v"), forever)
	clk.Advance(farEnough / 10)
	if c := mustNotAcquire(t, s, r); string(c.Record.Value) != "v" {
		t.Fatalf("claim a decade after a completion kept %v = %+v, want the stored outcome", forever, c)
	}
}
