//go:build unix

package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkPostgres: a first call and a duplicate through the guard on a
// local PostgreSQL (pgstore with defaults), against raw pgx making the
// fewest statements that do the same work on a table keyed like the
// store's (first: INSERT as the claim, then UPDATE with the outcome;
// duplicate: one SELECT by primary key; DoTx: a transaction holding that
// INSERT, a ledger row and the UPDATE, against pgstore.DoTx booking the
// same ledger row), at 1 and 16 goroutines on one pool. The paired cases
// alternate raw and guard calls and report x-baseline, the guard's time
// per call over raw's under the same load.
func BenchmarkPostgres(b *testing.B) {
	srv := testserver.StartPostgres(b, nil)
	cpu := processTreeCPU(srv.Pid)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(srv.DSN("", ""))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	s, err := pgstore.New(ctx, pool, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	g := idempotency.New(s, nil)
	if _, err := pool.Exec(ctx, `CREATE TABLE raw_records (
		key text PRIMARY KEY, status smallint NOT NULL, value bytea, expires_at timestamptz NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE ledger (id bigserial PRIMARY KEY, key text NOT NULL, cents bigint NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	value := []byte(`{"id":"ch_1","amount":4200}`)
	rawFirst := func(q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	}, k string, book bool) error {
		if _, err := q.Exec(ctx, `INSERT INTO raw_records VALUES ($1, 0, NULL, now() + $2::interval)`, k, 30*time.Second); err != nil {
			return err
		}
		if book {
			if _, err := q.Exec(ctx, `INSERT INTO ledger (key, cents) VALUES ($1, 4200)`, k); err != nil {
				return err
			}
		}
		_, err := q.Exec(ctx, `UPDATE raw_records SET status = 1, value = $2, expires_at = now() + $3::interval WHERE key = $1`, k, value, 24*time.Hour)
		return err
	}
	for i := range dupKeys {
		k := "dup:" + strconv.Itoa(i)
		if _, err := idempotency.Do(ctx, g, k, work); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO raw_records VALUES ($1, 1, $2, now() + interval '24 hours')`, k, value); err != nil {
			b.Fatal(err)
		}
	}
	cases := []struct {
		name       string
		raw, guard func(i int) error
	}{
		{"first",
			func(int) error { return rawFirst(pool, "new:"+strconv.FormatInt(firstSeq.Add(1), 10), false) },
			func(int) error {
				_, err := idempotency.Do(ctx, g, "new:"+strconv.FormatInt(firstSeq.Add(1), 10), work)
				return err
			}},
		{"duplicate",
			func(i int) error {
				var (
					status int16
					v      []byte
					exp    time.Time
				)
				return pool.QueryRow(ctx, `SELECT status, value, expires_at FROM raw_records WHERE key = $1`, "dup:"+strconv.Itoa(i%dupKeys)).Scan(&status, &v, &exp)
			},
			func(i int) error {
				_, err := idempotency.Do(ctx, g, "dup:"+strconv.Itoa(i%dupKeys), work)
				return err
			}},
	}
	cases = append(cases, struct {
		name       string
		raw, guard func(i int) error
	}{"DoTx",
		func(int) error {
			k := "tx:" + strconv.FormatInt(firstSeq.Add(1), 10)
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return rawFirst(tx, k, true) })
		},
		func(int) error {
			k := "tx:" + strconv.FormatInt(firstSeq.Add(1), 10)
			_, err := pgstore.DoTx(ctx, g, k, func(ctx context.Context, tx pgx.Tx) (string, error) {
				_, err := tx.Exec(ctx, `INSERT INTO ledger (key, cents) VALUES ($1, 4200)`, k)
				return "ch_1", err
			})
			return err
		}})
	for _, tc := range cases {
		for _, par := range []int{1, 16} {
			prefix := tc.name + "/g=" + strconv.Itoa(par)
			b.Run(prefix+"/raw", func(b *testing.B) { inParallel(b, par, tc.raw, cpu) })
			b.Run(prefix+"/guard", func(b *testing.B) { inParallel(b, par, tc.guard, cpu) })
			b.Run(prefix+"/paired", func(b *testing.B) { paired(b, par, tc.raw, tc.guard) })
		}
	}
}
