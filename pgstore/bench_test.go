package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The benchmarks run each operation three ways on one server and one
// pool: raw pgx sending the store's own statements (the baseline), the
// Store's methods, and the guard (Do / DoTx). Each reports statements per
// call, counted by a pgx tracer. Compare ns/op and allocs/op as ratios to
// the raw/ case of the same run.

var benchKeys atomic.Int64

func benchKey(prefix string) string { return fmt.Sprint(prefix, benchKeys.Add(1)) }

func claimArgs(key string) []any {
	return []any{hashKey(key), []byte(key), []byte(""), int64(time.Minute / time.Microsecond), int64(time.Hour / time.Microsecond), true}
}

func hashKey(key string) []byte { return pgstore.HashKey(key) }

// rawClaim scans the claim statement's row the way the store does.
func rawClaim(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql, key string) (int64, error) {
	var (
		k, fp, v                 []byte
		status                   int16
		token                    int64
		lease, exp, created, upd pgtype.Timestamptz
		acq, took, lapsed        bool
	)
	err := q.QueryRow(ctx, sql, claimArgs(key)...).Scan(&k, &fp, &status, &token, &v, &lease, &exp, &created, &upd, &acq, &took, &lapsed)
	return token, err
}

func reportStatements(b *testing.B, c *counter) {
	n := c.take()
	b.ReportMetric(float64(total(n))/float64(b.N), "stmts/op")
	b.ReportMetric(float64(n[trips])/float64(b.N), "trips/op")
}

func BenchmarkFirstCall(b *testing.B) {
	pool, c := tracedPool(b)
	s := newStore(b, pool, nil)
	g := idempotency.New(s, nil)
	claimSQL, completeSQL, _ := s.Statements()
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			k := benchKey("raw-")
			tok, err := rawClaim(ctx, pool, claimSQL, k)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := pool.Exec(ctx, completeSQL, hashKey(k), []byte(k), tok, int16(2), []byte("1"), int64(time.Hour/time.Microsecond)); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			k := benchKey("store-")
			cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: time.Hour, Takeover: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Complete(ctx, k, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("1"), TTL: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
	b.Run("Do", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			if _, err := idempotency.Do(ctx, g, benchKey("do-"), func(context.Context) (int, error) { return 1, nil }); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
}

func BenchmarkDuplicateCall(b *testing.B) {
	pool, c := tracedPool(b)
	s := newStore(b, pool, nil)
	g := idempotency.New(s, nil)
	claimSQL, _, _ := s.Statements()
	ctx := context.Background()
	if _, err := idempotency.Do(ctx, g, "dup", func(context.Context) (int, error) { return 1, nil }); err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			if _, err := rawClaim(ctx, pool, claimSQL, "dup"); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			if cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "dup", Lease: time.Minute, TTL: time.Hour, Takeover: true}); err != nil || cl.Acquired {
				b.Fatal(cl, err)
			}
		}
		reportStatements(b, c)
	})
	b.Run("Do", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			if v, err := idempotency.Do(ctx, g, "dup", func(context.Context) (int, error) { return 2, nil }); err != nil || v != 1 {
				b.Fatal(v, err)
			}
		}
		reportStatements(b, c)
	})
}

// BenchmarkDoTx books a ledger row: plain is the booking alone in a
// transaction (no idempotency at all); raw adds the store's statements by
// hand; DoTx is the real thing. dup is a duplicate DoTx.
func BenchmarkDoTx(b *testing.B) {
	pool, c := tracedPool(b)
	s := newStore(b, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(b, pool)
	claimSQL, _, completeTxSQL := s.Statements()
	ctx := context.Background()
	book := func(ctx context.Context, tx pgx.Tx, k string) (int64, error) {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO `+table+` (key, cents) VALUES ($1, 1) RETURNING id`, k).Scan(&id)
		return id, err
	}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := book(ctx, tx, benchKey("plain-")); return err }); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			k := benchKey("raw-")
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				batch := &pgx.Batch{}
				batch.Queue(`SELECT set_config('idempotency.saved_lock_timeout', current_setting('lock_timeout'), true),
					set_config('lock_timeout', $1, true), set_config('synchronous_commit', 'on', true)`, "1ms")
				batch.Queue(claimSQL, claimArgs(k)...)
				batch.Queue(`SELECT set_config('lock_timeout', current_setting('idempotency.saved_lock_timeout'), true), coalesce(pg_current_xact_id_if_assigned()::text, '')`)
				br := tx.SendBatch(ctx, batch)
				if _, err := br.Exec(); err != nil {
					return err
				}
				tok, err := rawClaim(ctx, fixedRow{br.QueryRow()}, claimSQL, k)
				if err != nil {
					return err
				}
				var lt, xid string
				if err := br.QueryRow().Scan(&lt, &xid); err != nil {
					return err
				}
				if err := br.Close(); err != nil {
					return err
				}
				id, err := book(ctx, tx, k)
				if err != nil {
					return err
				}
				_, err = tx.Exec(ctx, completeTxSQL, hashKey(k), []byte(k), tok, int16(2), []byte(fmt.Sprint(id)), int64(time.Hour/time.Microsecond), xid)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
	b.Run("DoTx", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			k := benchKey("dotx-")
			if _, err := pgstore.DoTx(ctx, g, k, func(ctx context.Context, tx pgx.Tx) (int64, error) { return book(ctx, tx, k) }); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
	if _, err := pgstore.DoTx(ctx, g, "dup", func(ctx context.Context, tx pgx.Tx) (int64, error) { return book(ctx, tx, "dup") }); err != nil {
		b.Fatal(err)
	}
	b.Run("dup", func(b *testing.B) {
		b.ReportAllocs()
		c.take()
		for b.Loop() {
			if _, err := pgstore.DoTx(ctx, g, "dup", func(ctx context.Context, tx pgx.Tx) (int64, error) { return book(ctx, tx, "dup") }); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b, c)
	})
}

// fixedRow lets rawClaim scan a batch's row.
type fixedRow struct{ r pgx.Row }

func (f fixedRow) QueryRow(context.Context, string, ...any) pgx.Row { return f.r }

// BenchmarkDuplicateVsSelect: a duplicate (the key completed) against the
// least any read of the record costs, a raw pgx SELECT of its row by
// primary key, at 1 and 16 goroutines on one pool. Report the ratios of
// claim/ and Do/ to select/ at the same goroutine count.
func BenchmarkDuplicateVsSelect(b *testing.B) {
	pool := newPool(b, dsn)
	s := newStore(b, pool, nil)
	g := idempotency.New(s, nil)
	ctx := context.Background()
	if _, err := idempotency.Do(ctx, g, "dup", func(context.Context) (int, error) { return 1, nil }); err != nil {
		b.Fatal(err)
	}
	selectSQL := `SELECT key, fingerprint, status, token, value, lease_until, expires_at, created_at, updated_at FROM ` + s.Table() + ` WHERE key_hash = $1`
	digest := hashKey("dup")
	req := idemtype.ClaimRequest{Key: "dup", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	ops := []struct {
		name string
		op   func() error
	}{
		{"select", func() error {
			var (
				k, fp, v                 []byte
				status                   int16
				token                    int64
				lease, exp, created, upd pgtype.Timestamptz
			)
			return pool.QueryRow(ctx, selectSQL, digest).Scan(&k, &fp, &status, &token, &v, &lease, &exp, &created, &upd)
		}},
		{"claim", func() error {
			cl, err := s.Claim(ctx, req)
			if err == nil && cl.Acquired {
				err = fmt.Errorf("duplicate acquired: %+v", cl)
			}
			return err
		}},
		{"Do", func() error {
			v, err := idempotency.Do(ctx, g, "dup", func(context.Context) (int, error) { return 2, nil })
			if err == nil && v != 1 {
				err = fmt.Errorf("duplicate got %d", v)
			}
			return err
		}},
	}
	// Warm up: 16 connections, each with every statement prepared.
	for _, o := range ops {
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 8 {
					if err := o.op(); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
	}
	for _, n := range []int{1, 16} {
		for _, o := range ops {
			b.Run(fmt.Sprintf("%s/g=%d", o.name, n), func(b *testing.B) { inParallel(b, n, o.op) })
		}
	}
}

// inParallel runs op b.N times over g goroutines.
func inParallel(b *testing.B, g int, op func() error) {
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
