package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
)

// TestSchemaWentAway: an object dropped after migration, though the
// version table says the schema is current. ManualMigrate refuses, naming
// what is missing; Migrate (and New) recreates it, and the store works:
// tokens still grow, records kept where their table survived.
func TestSchemaWentAway(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		drop    string // SQL, {t} replaced by the records table's name
		missing string // what ManualMigrate names; empty: nothing
		kept    bool   // the records survive
		bad     bool   // refused even by Migrate
	}{
		{"Table", `DROP TABLE {t}`, `table "{t}"`, false, false},
		{"Sequence", `DROP SEQUENCE "{t}_token_seq"`, `sequence "{t}_token_seq"`, true, false},
		{"Index", `DROP INDEX "{t}_expires_idx"`, `index "{t}_expires_idx"`, true, false},
		{"TableAndSequence", `DROP TABLE {t}; DROP SEQUENCE "{t}_token_seq"`, `sequence "{t}_token_seq", table "{t}"`, false, false},
		{"VersionTable", `DROP TABLE "{t}_schema"`, "", true, false},
		{"Column", `ALTER TABLE {t} DROP COLUMN waiters`, "lacks the store's columns", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			pool := newPool(t, dsn)
			s := newStore(t, pool, nil)
			table := strings.Trim(s.Table(), `"`)
			g := idempotency.New(s, nil)
			if _, err := idempotency.Do(ctx, g, "before", func(context.Context) (int, error) { return 1, nil }); err != nil {
				t.Fatal(err)
			}
			// Tokens issued to records no longer in the table: a later
			// claim of that key must still get a larger one.
			var last idemtype.Token
			for range 10 {
				cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "churn", Lease: time.Minute, TTL: time.Hour})
				if err != nil || !cl.Acquired {
					t.Fatal(cl, err)
				}
				last = cl.Record.Token
				if err := s.Release(ctx, "churn", last); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			if _, err := pool.Exec(ctx, strings.ReplaceAll(tc.drop, "{t}", table)); err != nil {
				t.Fatal(err)
			}

			_, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table, ManualMigrate: true})
			want := strings.ReplaceAll(tc.missing, "{t}", table)
			switch {
			case tc.name == "VersionTable":
				if !errors.Is(err, pgstore.ErrSchema) || !strings.Contains(err.Error(), "version 0") {
					t.Fatalf("ManualMigrate without a version table = %v; want ErrSchema, version 0", err)
				}
			case !errors.Is(err, pgstore.ErrSchema) || !strings.Contains(err.Error(), want):
				t.Fatalf("ManualMigrate = %v; want ErrSchema naming %s", err, want)
			}

			s2, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table})
			if tc.bad {
				if !errors.Is(err, pgstore.ErrSchema) || !strings.Contains(err.Error(), want) {
					t.Fatalf("Migrate = %v; want ErrSchema naming %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Migrate after the drop: %v", err)
			}
			defer s2.Close()
			if _, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table, ManualMigrate: true}); err != nil {
				t.Fatalf("ManualMigrate after Migrate: %v", err)
			}
			g2 := idempotency.New(s2, nil)
			v, err := idempotency.Do(ctx, g2, "before", func(context.Context) (int, error) { return 2, nil })
			if err != nil || tc.kept && v != 1 || !tc.kept && v != 2 {
				t.Fatalf("Do on the earlier key = %d, %v; kept records %v", v, err, tc.kept)
			}
			cl, err := s2.Claim(ctx, idemtype.ClaimRequest{Key: "churn", Lease: time.Minute, TTL: time.Hour})
			if err != nil || !cl.Acquired || cl.Record.Token <= last {
				t.Fatalf("claim after repair = %+v, %v; want a token above %d", cl, err, last)
			}
			if n, err := s2.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("Sweep after repair = %d, %v", n, err)
			}
		})
	}
}
