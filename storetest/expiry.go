package storetest

// Expiry: records live for their TTL, or for ever.

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func testTTLExpiry(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), shortTTL)
	if g := get(t, s, "k"); g.ExpiresAt.IsZero() {
		t.Fatalf("completed record with TTL has no ExpiresAt: %+v", g)
	}
	time.Sleep(pastTTL)
	wantNotFound(t, s, "k")
	r2 := mustAcquire(t, s, req("k", longLease))
	if r2.Token <= r.Token {
		t.Fatalf("token after expiry %d, want larger than %d", r2.Token, r.Token)
	}
	wantLeaseLost(t, "Complete by the expired owner", s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
}

func testInProgressTTLExpiry(t *testing.T, s idemtype.Store) {
	r := idemtype.ClaimRequest{Key: "k", Lease: longLease, TTL: shortTTL, Takeover: false}
	first := mustAcquire(t, s, r)
	time.Sleep(pastTTL)
	second := mustAcquire(t, s, r)
	if second.Token <= first.Token {
		t.Fatalf("token after in-progress expiry %d, want larger than %d", second.Token, first.Token)
	}
	wantLeaseLost(t, "Complete by the expired owner", s.Complete(ctx(t), "k", first.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
}

func testNoExpiry(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, idemtype.ClaimRequest{Key: "k", Lease: longLease, TTL: -1})
	if !r.ExpiresAt.IsZero() {
		t.Fatalf("claim with TTL -1 has ExpiresAt %v", r.ExpiresAt)
	}
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), -1)
	if g := get(t, s, "k"); !g.ExpiresAt.IsZero() || string(g.Value) != "v" {
		t.Fatalf("record kept forever = %+v", g)
	}
}
