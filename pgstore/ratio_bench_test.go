package pgstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testbench"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// BenchmarkVsRaw measures calls through the guard side by side with raw
// pgx making the fewest statements that do the same work, on a table of
// the store's shape (first call: INSERT as the claim, then UPDATE with the
// outcome; duplicate: one SELECT of the record's row by primary key;
// DoTx: a transaction holding the record's INSERT, the ledger row and the
// record's UPDATE), at 1 and 16 goroutines on one pool. Each case
// alternates the raw calls and the guard's and reports x-baseline: the
// guard's time per call over raw's, measured under the same load.
//
//	go test -run '^$' -bench BenchmarkVsRaw -benchmem ./pgstore
func BenchmarkVsRaw(b *testing.B) {
	pool := newPool(b, dsn)
	s := newStore(b, pool, nil)
	g := idempotency.New(s, &idempotency.Config{Lease: time.Minute, TTL: time.Hour})
	book := ledger(b, pool)
	ctx := context.Background()
	raw := s.Table()[:len(s.Table())-1] + `_raw"`
	if _, err := pool.Exec(ctx, `CREATE TABLE `+raw+` (LIKE `+s.Table()+` INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	const dupKeys = 1024
	value := []byte(`{"id":"ch_1","amount":4200}`)
	work := func(context.Context) (string, error) { return "ch_1", nil }
	for i := range dupKeys {
		if _, err := idempotency.Do(ctx, g, "dup:"+strconv.Itoa(i), work); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	fresh := func(prefix string) string { return prefix + strconv.FormatInt(seq.Add(1), 10) }
	const (
		insertSQL = `INSERT INTO TABLE (key_hash, key, fingerprint, status, token, lease_until, expires_at, created_at, updated_at)
	VALUES ($1, $2, '', 1, $3, now() + interval '1 minute', now() + interval '1 hour', now(), now())`
		updateSQL = `UPDATE TABLE SET status = 2, value = $2, updated_at = now(), expires_at = now() + interval '1 hour' WHERE key_hash = $1`
	)
	insert, update := strings.ReplaceAll(insertSQL, "TABLE", raw), strings.ReplaceAll(updateSQL, "TABLE", raw)
	selectSQL := `SELECT key, fingerprint, status, token, value, lease_until, expires_at, created_at, updated_at FROM ` + s.Table() + ` WHERE key_hash = $1`
	cases := []struct {
		name       string
		raw, guard testbench.Op
	}{
		{"first",
			func(ctx context.Context, _ int) error {
				k := fresh("raw:")
				if _, err := pool.Exec(ctx, insert, pgstore.HashKey(k), []byte(k), seq.Load()); err != nil {
					return err
				}
				_, err := pool.Exec(ctx, update, pgstore.HashKey(k), value)
				return err
			},
			func(ctx context.Context, _ int) error {
				_, err := idempotency.Do(ctx, g, fresh("new:"), work)
				return err
			}},
		{"duplicate",
			func(ctx context.Context, i int) error {
				var (
					k, fp, v                 []byte
					status                   int16
					token                    int64
					lease, exp, created, upd pgtype.Timestamptz
				)
				return pool.QueryRow(ctx, selectSQL, pgstore.HashKey("dup:"+strconv.Itoa(i%dupKeys))).
					Scan(&k, &fp, &status, &token, &v, &lease, &exp, &created, &upd)
			},
			func(ctx context.Context, i int) error {
				_, err := idempotency.Do(ctx, g, "dup:"+strconv.Itoa(i%dupKeys), work)
				return err
			}},
		{"DoTx",
			func(ctx context.Context, _ int) error {
				k := fresh("rawtx:")
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, insert, pgstore.HashKey(k), []byte(k), seq.Load()); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `INSERT INTO `+book+` (key, cents) VALUES ($1, 1)`, k); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, update, pgstore.HashKey(k), value)
					return err
				})
			},
			func(ctx context.Context, _ int) error {
				k := fresh("tx:")
				_, err := pgstore.DoTx(ctx, g, k, func(ctx context.Context, tx pgx.Tx) (string, error) {
					_, err := tx.Exec(ctx, `INSERT INTO `+book+` (key, cents) VALUES ($1, 1)`, k)
					return "ch_1", err
				})
				return err
			}},
	}
	for _, tc := range cases {
		for _, par := range []int{1, 16} {
			b.Run(tc.name+"/g="+strconv.Itoa(par), func(b *testing.B) { testbench.Paired(b, par, tc.raw, tc.guard) })
		}
	}
}
