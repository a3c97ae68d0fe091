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
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkPostgres: a first call and a duplicate through the guard on a
// local PostgreSQL (pgstore with defaults), against raw pgx making the
// fewest statements that do the same work on a table keyed like the
// store's (first: INSERT as the claim, then UPDATE with the outcome;
// duplicate: one SELECT by primary key), at 1 and 16 goroutines on one
// pool.
func BenchmarkPostgres(b *testing.B) {
	srv := testserver.StartPostgres(b, nil)
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
	value := []byte(`{"id":"ch_1","amount":4200}`)
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
			func(int) error {
				k := "new:" + strconv.FormatInt(firstSeq.Add(1), 10)
				if _, err := pool.Exec(ctx, `INSERT INTO raw_records VALUES ($1, 0, NULL, now() + $2::interval)`, k, 30*time.Second); err != nil {
					return err
				}
				_, err := pool.Exec(ctx, `UPDATE raw_records SET status = 1, value = $2, expires_at = now() + $3::interval WHERE key = $1`, k, value, 24*time.Hour)
				return err
			},
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
	for _, tc := range cases {
		for _, par := range []int{1, 16} {
			prefix := tc.name + "/g=" + strconv.Itoa(par)
			b.Run(prefix+"/raw", func(b *testing.B) { inParallel(b, par, tc.raw) })
			b.Run(prefix+"/guard", func(b *testing.B) { inParallel(b, par, tc.guard) })
		}
	}
}
