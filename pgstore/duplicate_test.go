package pgstore_test

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// TestDuplicateWritesNothing: a claim that finds a record it may not
// acquire (completed, failed, in progress, abandoned, another
// fingerprint) is a read: its transaction gets no transaction id (so it
// takes no row lock and commits nothing to the WAL) and the token sequence
// does not move. A claim that acquires does both, which shows the probes
// see writes.
func TestDuplicateWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	seq := s.Table()[:len(s.Table())-1] + `_token_seq"`
	const lease, ttl = time.Minute, time.Hour
	claim := func(key, fp string, lease, ttl time.Duration) idemtype.Token {
		t.Helper()
		cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Fingerprint: fp, Lease: lease, TTL: ttl})
		if err != nil || !cl.Acquired {
			t.Fatal(cl, err)
		}
		return cl.Record.Token
	}
	finish := func(key string, status idemtype.Status) {
		t.Helper()
		tok := claim(key, "fp", lease, ttl)
		if err := s.Complete(ctx, key, tok, idemtype.Outcome{Status: status, Value: []byte(`1`), TTL: ttl}); err != nil {
			t.Fatal(err)
		}
	}
	finish("completed", idemtype.StatusCompleted)
	finish("failed", idemtype.StatusFailed)
	claim("running", "fp", lease, ttl)
	claim("lapsed", "fp", time.Microsecond, ttl)
	claim("expired", "fp", lease, time.Microsecond)
	time.Sleep(10 * time.Millisecond) // past the microsecond lease and TTL on the server's clock too

	cases := []struct {
		name, key, fp string
		takeover      bool
		acquires      bool
	}{
		{"Completed", "completed", "fp", true, false},
		{"CompletedOtherFingerprint", "completed", "other", true, false},
		{"Failed", "failed", "fp", true, false},
		{"InProgress", "running", "fp", true, false},
		{"Abandoned", "lapsed", "fp", false, false},
		{"LapsedOtherFingerprint", "lapsed", "other", true, false},
		{"Absent", "absent", "fp", true, true},
		{"Expired", "expired", "fp", true, true},
		{"TakeOver", "lapsed", "fp", true, true},
	}
	for _, tc := range cases {
		var before, after int64
		if err := pool.QueryRow(ctx, `SELECT last_value FROM `+seq).Scan(&before); err != nil {
			t.Fatal(err)
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := s.ClaimIn(ctx, tx, idemtype.ClaimRequest{Key: tc.key, Fingerprint: tc.fp, Lease: lease, TTL: ttl, Takeover: tc.takeover})
		if err != nil || cl.Acquired != tc.acquires {
			t.Fatalf("%s: claim = %+v, %v; want acquired %v", tc.name, cl, err, tc.acquires)
		}
		var xid bool
		if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id_if_assigned() IS NOT NULL`).Scan(&xid); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT last_value FROM `+seq).Scan(&after); err != nil {
			t.Fatal(err)
		}
		if xid != tc.acquires || (after != before) != tc.acquires {
			t.Errorf("%s: transaction id assigned %v, sequence %d -> %d; want writes only when acquiring (%v)", tc.name, xid, before, after, tc.acquires)
		}
	}
}
