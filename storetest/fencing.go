package storetest

// Fencing: only the token that owns an in-progress record may change it,
// and tokens grow across releases, deletes and expiry.

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func testStaleToken(t *testing.T, s idemtype.Store) {
	old := mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	cur := mustAcquire(t, s, req("k", longLease))
	c := ctx(t)
	wantLeaseLost(t, "Complete with a stale token", s.Complete(c, "k", old.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("stale"), TTL: time.Hour}))
	wantLeaseLost(t, "Extend with a stale token", s.Extend(c, "k", old.Token, longLease))
	wantLeaseLost(t, "Release with a stale token", s.Release(c, "k", old.Token))
	g := get(t, s, "k")
	if g.Token != cur.Token || g.Status != idemtype.StatusInProgress || len(g.Value) != 0 {
		t.Fatalf("record after stale writes = %+v, want the new owner's in-progress record", g)
	}
	complete(t, s, "k", cur.Token, idemtype.StatusCompleted, []byte("new"), time.Hour)
	wantLeaseLost(t, "Complete with a stale token after completion", s.Complete(c, "k", old.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("stale")}))
	// A completed record belongs to nobody: even its own token cannot
	// write it again.
	wantLeaseLost(t, "second Complete", s.Complete(c, "k", cur.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("again")}))
	wantLeaseLost(t, "Release after Complete", s.Release(c, "k", cur.Token))
	wantLeaseLost(t, "Extend after Complete", s.Extend(c, "k", cur.Token, longLease))
	if g := get(t, s, "k"); string(g.Value) != "new" || g.Status != idemtype.StatusCompleted {
		t.Fatalf("record = %+v, want the new owner's value", g)
	}
}

func testUnknownKey(t *testing.T, s idemtype.Store) {
	c := ctx(t)
	wantLeaseLost(t, "Complete of a missing key", s.Complete(c, "missing", 1, idemtype.Outcome{Status: idemtype.StatusCompleted}))
	wantLeaseLost(t, "Extend of a missing key", s.Extend(c, "missing", 1, longLease))
	wantLeaseLost(t, "Release of a missing key", s.Release(c, "missing", 1))
	wantNotFound(t, s, "missing")
	r := mustAcquire(t, s, req("k", longLease))
	wantLeaseLost(t, "Complete with a made-up token", s.Complete(c, "k", r.Token+1000, idemtype.Outcome{Status: idemtype.StatusCompleted}))
}

func testRelease(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	if err := s.Release(ctx(t), "k", r.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantNotFound(t, s, "k")
	r2 := mustAcquire(t, s, req("k", longLease))
	if r2.Token <= r.Token {
		t.Fatalf("token after release %d, want larger than %d", r2.Token, r.Token)
	}
	wantLeaseLost(t, "Release twice", s.Release(ctx(t), "k", r.Token))
}

func testGetDelete(t *testing.T, s idemtype.Store) {
	wantNotFound(t, s, "k")
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), time.Hour)
	g := get(t, s, "k")
	if g.Key != "k" || g.Status != idemtype.StatusCompleted || string(g.Value) != "v" || g.Token != r.Token ||
		g.CreatedAt.IsZero() || g.UpdatedAt.Before(g.CreatedAt) {
		t.Fatalf("Get = %+v", g)
	}
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "k")
	mustAcquire(t, s, req("k", longLease))
}

func testDeleteFences(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantLeaseLost(t, "Complete after Delete", s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
	wantNotFound(t, s, "k")
	r2 := mustAcquire(t, s, req("k", longLease))
	wantLeaseLost(t, "Complete by the deleted owner", s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
	if r2.Token <= r.Token {
		t.Fatalf("token after delete %d, want larger than %d", r2.Token, r.Token)
	}
}
