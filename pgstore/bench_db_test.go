package pgstore_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
)

// BenchmarkDB compares the database/sql entry point with the pgx one on
// one server, each on its own table: a first Do, a duplicate Do, and a
// first DoTx / DoTxSQL booking a ledger row. Compare each sql/ case with
// the pgx/ case of the same run.
func BenchmarkDB(b *testing.B) {
	pool := newPool(b, dsn)
	db := newSQLDB(b, dsn)
	table := ledger(b, pool)
	pg := idempotency.New(newStore(b, pool, nil), nil)
	sg := idempotency.New(newDBStore(b, db, nil), nil)
	ctx := context.Background()
	one := func(context.Context) (int, error) { return 1, nil }
	for _, g := range []struct {
		name string
		g    *idempotency.Guard
	}{{"pgx", pg}, {"sql", sg}} {
		b.Run("Do/"+g.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := idempotency.Do(ctx, g.g, benchKey("do-"), one); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("dup/"+g.name, func(b *testing.B) {
			b.ReportAllocs()
			k := benchKey("dup-")
			for b.Loop() {
				if _, err := idempotency.Do(ctx, g.g, k, one); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	book := `INSERT INTO ` + table + ` (key, cents) VALUES ($1, 1) RETURNING id`
	b.Run("DoTx/pgx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			k := benchKey("tx-")
			if _, err := pgstore.DoTx(ctx, pg, k, func(ctx context.Context, tx pgx.Tx) (id int64, err error) {
				return id, tx.QueryRow(ctx, book, k).Scan(&id)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DoTx/sql", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			k := benchKey("tx-")
			if _, err := pgstore.DoTxSQL(ctx, sg, k, func(ctx context.Context, tx *sql.Tx) (id int64, err error) {
				return id, tx.QueryRowContext(ctx, book, k).Scan(&id)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
