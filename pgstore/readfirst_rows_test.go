package pgstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
)

// TestReadFirstRows: whatever row a key holds (odd statuses, another key's
// row, infinite times, a row forgotten after it completed, a lapsed claim,
// another fingerprint), a claim reading first answers as the claim
// statement alone does: the same record, the key acquired by both, or
// ErrCorrupt from both; through pgx and through database/sql.
func TestReadFirstRows(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	ctx := testCtx(t)
	first := newStore(t, pool, &pgstore.Options{ReadFirst: idemtype.ReadFirstAlways})
	table := first.Table()[1 : len(first.Table())-1]
	never := newStore(t, pool, &pgstore.Options{Table: table, ReadFirst: idemtype.ReadFirstNever})
	firstDB := newDBStore(t, newSQLDB(t, dsn), &pgstore.Options{Table: table, ReadFirst: idemtype.ReadFirstAlways})
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	finish := func(t *testing.T, st idemtype.Status, fp string) {
		t.Helper()
		r := req
		r.Fingerprint = fp
		cl, err := never.Claim(ctx, r)
		if err != nil || !cl.Acquired {
			t.Fatalf("Claim = %+v, %v", cl, err)
		}
		if err := never.Complete(ctx, "k", cl.Record.Token, idemtype.Outcome{Status: st, Value: []byte("v"), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(t *testing.T, sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, `UPDATE `+first.Table()+` SET `+sql+` WHERE key_hash = sha256('k')`); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
	}{
		{"completed", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp") }},
		{"failed", func(t *testing.T) { finish(t, idemtype.StatusFailed, "fp") }},
		{"completed, another fingerprint", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "other") }},
		{"completed, deleted", func(t *testing.T) {
			finish(t, idemtype.StatusCompleted, "fp")
			if err := never.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}},
		{"completed, deleted, claimed again", func(t *testing.T) {
			finish(t, idemtype.StatusCompleted, "fp")
			if err := never.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if _, err := never.Claim(ctx, req); err != nil {
				t.Fatal(err)
			}
		}},
		{"in progress, lapsed", func(t *testing.T) {
			finish(t, idemtype.StatusCompleted, "fp")
			exec(t, `status = 1, lease_until = statement_timestamp() - interval '1 s'`)
		}},
		{"status 0", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `status = 0`) }},
		{"status 4", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `status = 4`) }},
		{"status -2", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `status = -2`) }},
		{"status 4, expired", func(t *testing.T) {
			finish(t, idemtype.StatusCompleted, "fp")
			exec(t, `status = 4, expires_at = statement_timestamp()`)
		}},
		{"another key's row", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `key = 'j'`) }},
		{"another key's row, expired", func(t *testing.T) {
			finish(t, idemtype.StatusCompleted, "fp")
			exec(t, `key = 'j', expires_at = statement_timestamp()`)
		}},
		{"expires at infinity", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `expires_at = 'infinity'`) }},
		{"expires at -infinity", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `expires_at = '-infinity'`) }},
		{"created at infinity", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `created_at = 'infinity'`) }},
		{"value NULL", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `value = NULL`) }},
		{"token 0", func(t *testing.T) { finish(t, idemtype.StatusCompleted, "fp"); exec(t, `token = 0`) }},
		{"expired a minute ago", func(t *testing.T) {
			finish(t, idemtype.StatusCompleted, "fp")
			exec(t, `expires_at = statement_timestamp() - interval '1 minute'`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: both stores share the key.
			setup := func() {
				t.Helper()
				if _, err := pool.Exec(ctx, `DELETE FROM `+first.Table()); err != nil {
					t.Fatal(err)
				}
				tc.setup(t)
			}
			for _, first := range []idemtype.Store{first, firstDB} {
				setup()
				want, wantErr := never.Claim(ctx, req)
				if wantErr != nil || want.Acquired {
					// The claim statement wrote: answer the read-first
					// claim on the setup made again.
					setup()
				}
				got, err := first.Claim(ctx, req)
				switch {
				case errors.Is(wantErr, idemtype.ErrCorrupt) && errors.Is(err, idemtype.ErrCorrupt):
				case wantErr != nil || err != nil:
					t.Fatalf("%T reading first: %v; claim statement alone: %v", first, err, wantErr)
				case got.Acquired != want.Acquired || got.TookOver != want.TookOver || got.Abandoned != want.Abandoned:
					t.Fatalf("%T reading first = %+v\nclaim alone  = %+v", first, got, want)
				case !got.Acquired && !sameRecord(got.Record, want.Record):
					t.Fatalf("%T reading first = %+v\nclaim alone  = %+v", first, got.Record, want.Record)
				}
			}
		})
	}
}
