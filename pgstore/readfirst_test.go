package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/idempotency-go/idempotency/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// TestConformanceReadFirst: the conformance suite with every claim reading
// first, through pgx and through database/sql.
func TestConformanceReadFirst(t *testing.T) {
	t.Parallel()
	opts := &pgstore.Options{ReadFirst: idemtype.ReadFirstAlways}
	t.Run("pgx", func(t *testing.T) {
		t.Parallel()
		pool := newPool(t, dsn)
		storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, pool, opts) })
	})
	t.Run("database/sql", func(t *testing.T) {
		t.Parallel()
		db := newSQLDB(t, dsn)
		storetest.Run(t, func(t *testing.T) idemtype.Store { return newDBStore(t, db, opts) })
	})
}

// TestReadFirst: with ReadFirstAlways, a duplicate of a finished call is
// answered by one plain SELECT with the record the claim statement gives;
// every other state of the key goes on to the claim statement, whose
// answer stands.
func TestReadFirst(t *testing.T) {
	t.Parallel()
	pool, sent := tracedPool(t)
	ctx := testCtx(t)
	first := newStore(t, pool, &pgstore.Options{ReadFirst: idemtype.ReadFirstAlways})
	never := newStore(t, pool, &pgstore.Options{Table: first.Table()[1 : len(first.Table())-1], ReadFirst: idemtype.ReadFirstNever})
	req := func(key string) idemtype.ClaimRequest {
		return idemtype.ClaimRequest{Key: key, Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	}
	finish := func(st idemtype.Status, ttl time.Duration) func(t *testing.T, key string) {
		return func(t *testing.T, key string) {
			cl, err := first.Claim(ctx, req(key))
			if err != nil || !cl.Acquired {
				t.Fatalf("Claim = %+v, %v", cl, err)
			}
			if err := first.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: st, Value: []byte("v"), TTL: ttl}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var (
		read   = map[string]int{"SELECT": 1, trips: 1}
		claim  = map[string]int{"SELECT": 1, "WITH": 1, trips: 2}
		expire = func(t *testing.T, key string) {
			if _, err := pool.Exec(ctx, `UPDATE `+first.Table()+` SET expires_at = statement_timestamp() WHERE key = $1`, []byte(key)); err != nil {
				t.Fatal(err)
			}
		}
	)
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, key string)
		sent     map[string]int // by the read-first claim
		acquired bool
	}{
		{"completed", finish(idemtype.StatusCompleted, time.Hour), read, false},
		{"failed", finish(idemtype.StatusFailed, time.Hour), read, false},
		{"completed, never expires", finish(idemtype.StatusCompleted, 0), read, false},
		{"absent", func(*testing.T, string) {}, claim, true},
		{"in progress", func(t *testing.T, key string) {
			if _, err := first.Claim(ctx, req(key)); err != nil {
				t.Fatal(err)
			}
		}, claim, false},
		{"completed, at expires_at", func(t *testing.T, key string) {
			finish(idemtype.StatusCompleted, time.Hour)(t, key)
			expire(t, key)
		}, claim, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: sent counts the pool's every statement.
			key := tc.name
			tc.setup(t, key)
			var want idemtype.Claim
			if !tc.acquired {
				// The claim statement alone changes nothing here.
				var err error
				if want, err = never.Claim(ctx, req(key)); err != nil || want.Acquired {
					t.Fatalf("claim statement alone = %+v, %v", want, err)
				}
			}
			sent.take()
			got, err := first.Claim(ctx, req(key))
			if err != nil {
				t.Fatal(err)
			}
			if n := sent.take(); !maps.Equal(n, tc.sent) {
				t.Errorf("statements %v; want %v", n, tc.sent)
			}
			if got.Acquired != tc.acquired {
				t.Fatalf("Claim = %+v; want acquired %v", got, tc.acquired)
			}
			if !tc.acquired && !sameRecord(got.Record, want.Record) {
				t.Errorf("read first  = %+v\nclaim alone = %+v", got.Record, want.Record)
			}
		})
	}
}

func sameRecord(a, b idemtype.Record) bool {
	return a.Key == b.Key && a.Fingerprint == b.Fingerprint && a.Status == b.Status && a.Token == b.Token &&
		slices.Equal(a.Value, b.Value) && a.LeaseUntil.Equal(b.LeaseUntil) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// TestReadFirstAuto: by default a store reads first once most of its
// recent claims found a finished record, and stops once new keys come
// back.
func TestReadFirstAuto(t *testing.T) {
	t.Parallel()
	pool, sent := tracedPool(t)
	s := newStore(t, pool, nil)
	ctx := testCtx(t)
	claim := func(key string) map[string]int {
		t.Helper()
		sent.take()
		cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if cl.Acquired {
			if err := s.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
		}
		n := sent.take()
		delete(n, trips)
		delete(n, "UPDATE")
		return n
	}
	claim("dup")
	var statements int
	for range 40 {
		if n := claim("dup"); n["WITH"] == 1 {
			statements++
		}
	}
	// The estimate passes 3/4 after the 22nd duplicate
	// (idemtype.DuplicateRate).
	if statements != 22 {
		t.Errorf("duplicates answered by the claim statement: %d of 40; want 22, then reads", statements)
	}
	// Four new keys bring the estimate (0.92 after 40 duplicates) under 3/4.
	for i := range 4 {
		if got, want := claim("new"+strconv.Itoa(i)), map[string]int{"SELECT": 1, "WITH": 1}; !maps.Equal(got, want) {
			t.Errorf("new key %d: statements %v; want %v", i, got, want)
		}
	}
	if got, want := claim("new4"), map[string]int{"WITH": 1}; !maps.Equal(got, want) {
		t.Errorf("after 4 new keys: statements %v; want %v", got, want)
	}
}

// TestReadFirstOption: an unknown ReadFirst is refused by New.
func TestReadFirstOption(t *testing.T) {
	t.Parallel()
	_, err := pgstore.New(context.Background(), newPool(t, dsn), &pgstore.Options{ReadFirst: 9})
	if err == nil || errors.Is(err, context.Canceled) || err.Error() != "idempotency: pgstore: unknown Options.ReadFirst 9" {
		t.Fatalf("New = %v; want the unknown ReadFirst refused", err)
	}
}

// TestReadFirstNotInDoTx: DoTx and DoTxSQL claim in their transaction,
// never reading first: a duplicate sends the same statements whether the
// store reads first or not, while a plain duplicate of the same store is
// answered by the read.
func TestReadFirstNotInDoTx(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	fn := func(v int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { return v, nil }
	}
	for _, tc := range []struct {
		name string
		// stores returns guards on one table, reading first never and
		// always, and their statement counter.
		stores func(t *testing.T) (never, always *idempotency.Guard, sent *counter)
		doTx   func(g *idempotency.Guard, v int) (int, error)
	}{
		{"DoTx", func(t *testing.T) (*idempotency.Guard, *idempotency.Guard, *counter) {
			pool, sent := tracedPool(t)
			never := newStore(t, pool, &pgstore.Options{ReadFirst: idemtype.ReadFirstNever})
			table := never.Table()[1 : len(never.Table())-1]
			always := newStore(t, pool, &pgstore.Options{Table: table, ReadFirst: idemtype.ReadFirstAlways})
			return idempotency.New(never, nil), idempotency.New(always, nil), sent
		}, func(g *idempotency.Guard, v int) (int, error) {
			return pgstore.DoTx(ctx, g, "tx", func(context.Context, pgx.Tx) (int, error) { return v, nil })
		}},
		{"DoTxSQL", func(t *testing.T) (*idempotency.Guard, *idempotency.Guard, *counter) {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			sent := &counter{n: map[string]int{}}
			cfg.Tracer = sent
			db := stdlib.OpenDB(*cfg)
			t.Cleanup(func() { db.Close() })
			never := newDBStore(t, db, &pgstore.Options{ReadFirst: idemtype.ReadFirstNever})
			table := never.Table()[1 : len(never.Table())-1]
			always := newDBStore(t, db, &pgstore.Options{Table: table, ReadFirst: idemtype.ReadFirstAlways})
			return idempotency.New(never, nil), idempotency.New(always, nil), sent
		}, func(g *idempotency.Guard, v int) (int, error) {
			return pgstore.DoTxSQL(ctx, g, "tx", func(context.Context, *sql.Tx) (int, error) { return v, nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			never, always, sent := tc.stores(t)
			if v, err := tc.doTx(never, 1); err != nil || v != 1 {
				t.Fatalf("first call = %d, %v", v, err)
			}
			sent.take()
			if v, err := tc.doTx(never, 2); err != nil || v != 1 {
				t.Fatalf("duplicate, not reading first = %d, %v; want 1", v, err)
			}
			want := sent.take()
			if v, err := tc.doTx(always, 3); err != nil || v != 1 {
				t.Fatalf("duplicate, reading first = %d, %v; want 1", v, err)
			}
			if got := sent.take(); !maps.Equal(got, want) {
				t.Errorf("duplicate, reading first, sent %v; want %v as without", got, want)
			}
			if v, err := idempotency.Do(ctx, always, "tx", fn(4)); err != nil || v != 1 {
				t.Fatalf("plain duplicate = %d, %v; want 1", v, err)
			}
			if got, want := sent.take(), map[string]int{"SELECT": 1, trips: 1}; !maps.Equal(got, want) {
				t.Errorf("plain duplicate, reading first, sent %v; want %v", got, want)
			}
		})
	}
}
