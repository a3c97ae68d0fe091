package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// beginNamedCases end the transaction after a routine body in which BEGIN
// is a name (it is not a reserved word), not a block: counting it as one
// made the scanner take the body's END for the close of that block and
// the END after the body (a COMMIT) for the body's close.
var beginNamedCases = []struct {
	name string
	sql  string
	ends bool
}{
	{"ColumnLabelAs", "CREATE FUNCTION pg_temp.f1() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS begin; END; END", true},
	{"ColumnLabelBare", "CREATE FUNCTION pg_temp.f2() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 begin; END; END", true},
	{"ColumnLabelEndOfText", "CREATE FUNCTION pg_temp.f3() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS begin; END; END WORK", true},
	{"ColumnLabelThenAbort", "CREATE PROCEDURE pg_temp.p4() LANGUAGE sql BEGIN ATOMIC SELECT 1 AS begin; END; ABORT; SELECT 1", true},
	{"TwoLabels", "CREATE OR REPLACE FUNCTION pg_temp.f5() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS begin, 2 AS \"x\"; SELECT 3 begin; END; END", true},
	{"TypeNamedBegin", "CREATE DOMAIN pg_temp.begin AS int; CREATE FUNCTION pg_temp.f6() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1::pg_temp.begin; END; END", true},
	// Still let through: bodies with BEGIN as a name, CASE, and a
	// routine created inside a body (its BEGIN ATOMIC opens a block).
	{"LabelOnly", "CREATE FUNCTION pg_temp.f7() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS begin; END", false},
	{"LabelAndCase", "CREATE FUNCTION pg_temp.f8() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END AS begin; END; SELECT 2", false},
	{"NestedRoutine", "CREATE PROCEDURE pg_temp.p9() LANGUAGE sql BEGIN ATOMIC CREATE FUNCTION pg_temp.g10() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; END", false},
}

// TestEndsTxBeginAsName: the scanner finds the transaction end after such
// a body, and the server agrees on every case.
func TestEndsTxBeginAsName(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, tc := range beginNamedCases {
		if got := pgstore.EndsTx(tc.sql); got != tc.ends {
			t.Errorf("%s: EndsTx(%q) = %v; want %v", tc.name, tc.sql, got, tc.ends)
		}
		ended := serverEnds(t, ctx, conn, tc.sql, "on") || serverEnds(t, ctx, conn, tc.sql, "off")
		if ended != tc.ends {
			t.Errorf("%s: the server ended the transaction: %v; the case says %v", tc.name, ended, tc.ends)
		}
	}
}

// endRewriter is a pgx.QueryRewriter that turns any statement into sql.
type endRewriter struct {
	sql   string
	calls *atomic.Int64
}

func (r endRewriter) RewriteQuery(_ context.Context, _ *pgx.Conn, _ string, args []any) (string, []any, error) {
	r.calls.Add(1)
	return r.sql, args, nil
}

// TestDoTxRefusesRewrittenEnd: a statement that ends the transaction only
// once a pgx.QueryRewriter (the first argument, or after other options)
// has rewritten it, or that hides behind BEGIN used as a name, is refused
// with ErrTxOwned and not sent: fn's writes commit with their record or
// not at all. The rewriter runs once; one that keeps the transaction works.
func TestDoTxRefusesRewrittenEnd(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	commit := endRewriter{"COMMIT", &calls}
	ways := []struct {
		name string
		end  func(context.Context, pgx.Tx) error
	}{
		{"ExecRewriter", func(ctx context.Context, tx pgx.Tx) error { _, err := tx.Exec(ctx, "SELECT 1", commit); return err }},
		{"ExecModeThenRewriter", func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol, commit)
			return err
		}},
		{"QueryRewriter", func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "SELECT 1", pgx.QueryResultFormats{pgx.TextFormatCode}, commit)
			if err == nil {
				rows.Close()
				err = rows.Err()
			}
			return err
		}},
		{"QueryRowRewriter", func(ctx context.Context, tx pgx.Tx) error {
			var n int
			return tx.QueryRow(ctx, "SELECT 1", endRewriter{"END", &calls}).Scan(&n)
		}},
		{"BatchRewriter", func(ctx context.Context, tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue("SELECT 1")
			b.Queue("SELECT 2", endRewriter{"ROLLBACK AND CHAIN", &calls})
			return tx.SendBatch(ctx, b).Close()
		}},
		{"SavepointRewriter", func(ctx context.Context, tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			defer sp.Rollback(ctx)
			_, err = sp.Exec(ctx, "SELECT 1", commit)
			return err
		}},
		{"BeginAsName", func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, beginNamedCases[0].sql)
			return err
		}},
	}
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			key := w.name
			var runs atomic.Int64
			fn := func(ctx context.Context, tx pgx.Tx) (int64, error) {
				id, err := insert(table, key, 1, &runs)(ctx, tx)
				if err != nil {
					return 0, err
				}
				if err := w.end(ctx, tx); !errors.Is(err, pgstore.ErrTxOwned) {
					return 0, fmt.Errorf("ending the transaction = %v; want ErrTxOwned", err)
				}
				// The transaction goes on: a named-argument statement
				// (rewritten by pgx.NamedArgs through the same path) works.
				if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (key, cents) VALUES (@key, 2)`, pgx.NamedArgs{"key": key}); err != nil {
					return 0, fmt.Errorf("the transaction did not go on: %w", err)
				}
				return id, nil
			}
			id, err := pgstore.DoTx(ctx, g, key, fn)
			if err != nil {
				t.Fatalf("DoTx = %v", err)
			}
			if n := ledgerRows(t, pool, table, key); n != 2 {
				t.Fatalf("ledger has %d rows; want both writes", n)
			}
			again, err := pgstore.DoTx(ctx, g, key, fn)
			if err != nil || again != id || runs.Load() != 1 {
				t.Fatalf("retry = %d, %v, fn ran %d times; want the stored %d, once", again, err, runs.Load(), id)
			}
		})
	}
}

// TestDoTxRewriterRunsOnce: DoTx's check runs a caller's rewriter and
// hands pgx its result, so a rewriter with effects runs once per
// statement, and what it returns is what is sent.
func TestDoTxRewriterRunsOnce(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pool := newPool(t, dsn)
	g := idempotency.New(newStore(t, pool, nil), nil)
	var calls atomic.Int64
	got, err := pgstore.DoTx(ctx, g, "once", func(ctx context.Context, tx pgx.Tx) (int, error) {
		var n int
		err := tx.QueryRow(ctx, "SELECT 0", endRewriter{"SELECT 41 + $1::int", &calls}, 1).Scan(&n)
		return n, err
	})
	if err != nil || got != 42 || calls.Load() != 1 {
		t.Fatalf("DoTx = %d, %v, rewriter ran %d times; want 42, nil, once", got, err, calls.Load())
	}
}

// TestDoTxRefusesPreparedEnd: pgx runs a statement prepared on the
// connection when the text sent is its name. A name whose statement would
// end the transaction (prepared when the connection was made, as pools'
// AfterConnect hooks do) is refused with ErrTxOwned and not sent, through
// Exec, Query, QueryRow and SendBatch; names of other statements run.
func TestDoTxRefusesPreparedEnd(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		for name, sql := range map[string]string{"finish": "COMMIT", "give_up": "ROLLBACK AND CHAIN", "one": "SELECT 1"} {
			if _, err := c.Prepare(ctx, name, sql); err != nil {
				return err
			}
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	ways := []struct {
		name string
		end  func(context.Context, pgx.Tx) error
	}{
		{"Exec", func(ctx context.Context, tx pgx.Tx) error { _, err := tx.Exec(ctx, "finish"); return err }},
		{"Query", func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "give_up")
			if err == nil {
				rows.Close()
				err = rows.Err()
			}
			return err
		}},
		{"QueryRow", func(ctx context.Context, tx pgx.Tx) error { var n int; return tx.QueryRow(ctx, "finish").Scan(&n) }},
		{"SendBatch", func(ctx context.Context, tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue("one")
			b.Queue("finish")
			return tx.SendBatch(ctx, b).Close()
		}},
		{"SavepointExec", func(ctx context.Context, tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			defer sp.Rollback(ctx)
			_, err = sp.Exec(ctx, "give_up")
			return err
		}},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			key := "prepared-" + w.name
			var runs atomic.Int64
			fn := func(ctx context.Context, tx pgx.Tx) (int64, error) {
				id, err := insert(table, key, 1, &runs)(ctx, tx)
				if err != nil {
					return 0, err
				}
				if err := w.end(ctx, tx); !errors.Is(err, pgstore.ErrTxOwned) {
					return 0, fmt.Errorf("ending the transaction = %v; want ErrTxOwned", err)
				}
				var one int
				if err := tx.QueryRow(ctx, "one").Scan(&one); err != nil || one != 1 {
					return 0, fmt.Errorf("a harmless prepared statement = %d, %v", one, err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (key, cents) VALUES ($1, 2)`, key); err != nil {
					return 0, fmt.Errorf("the transaction did not go on: %w", err)
				}
				return id, nil
			}
			id, err := pgstore.DoTx(ctx, g, key, fn)
			if err != nil {
				t.Fatalf("DoTx = %v", err)
			}
			if n := ledgerRows(t, pool, table, key); n != 2 {
				t.Fatalf("ledger has %d rows; want both writes", n)
			}
			again, err := pgstore.DoTx(ctx, g, key, fn)
			if err != nil || again != id || runs.Load() != 1 {
				t.Fatalf("retry = %d, %v, fn ran %d times; want the stored %d, once", again, err, runs.Load(), id)
			}
		})
	}
}
