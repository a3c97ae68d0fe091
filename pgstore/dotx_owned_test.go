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
)

// TestDoTxRefusesEndingStatements: every way fn can send a statement that
// would end DoTx's transaction gets ErrTxOwned, nothing is sent, and the
// call goes on: on success both of fn's writes commit with the record,
// on failure neither does, and the key is free.
func TestDoTxRefusesEndingStatements(t *testing.T) {
	t.Parallel()
	exec := func(sql string) func(context.Context, pgx.Tx) error {
		return func(ctx context.Context, tx pgx.Tx) error { _, err := tx.Exec(ctx, sql); return err }
	}
	ways := []struct {
		name string
		end  func(context.Context, pgx.Tx) error
	}{
		{"Commit", func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) }},
		{"Rollback", func(ctx context.Context, tx pgx.Tx) error { return tx.Rollback(ctx) }},
		{"ExecCommit", exec("COMMIT")},
		{"ExecRollback", exec("rollback")},
		{"ExecEnd", exec("END")},
		{"ExecAbort", exec("ABORT")},
		{"ExecCommitAndChain", exec("COMMIT AND CHAIN")},
		{"ExecRollbackAndChain", exec("ROLLBACK AND CHAIN")},
		{"ExecPrepareTransaction", exec("PREPARE TRANSACTION 'dotx'")},
		{"ExecCommitPrepared", exec("COMMIT PREPARED 'dotx'")},
		{"ExecMultiStatement", exec("SELECT 1; COMMIT; SELECT 2")},
		{"ExecAfterComment", exec("/* ; */ -- x\nROLLBACK")},
		{"ExecAfterDollarQuote", exec("SELECT $$ ' $$; END")},
		{"ExecWithArgs", func(ctx context.Context, tx pgx.Tx) error { _, err := tx.Exec(ctx, "COMMIT", 1); return err }},
		{"Query", func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "SELECT 1; COMMIT")
			if err == nil {
				rows.Close()
				return rows.Err()
			}
			return err
		}},
		{"QueryRow", func(ctx context.Context, tx pgx.Tx) error { var n int; return tx.QueryRow(ctx, "ROLLBACK").Scan(&n) }},
		{"SendBatch", func(ctx context.Context, tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue("SELECT 1")
			b.Queue("COMMIT")
			return tx.SendBatch(ctx, b).Close()
		}},
		{"Prepare", func(ctx context.Context, tx pgx.Tx) error { _, err := tx.Prepare(ctx, "end_it", "COMMIT"); return err }},
		{"SavepointExec", func(ctx context.Context, tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			defer sp.Rollback(ctx)
			_, err = sp.Exec(ctx, "COMMIT")
			return err
		}},
		{"NestedSavepointBatch", func(ctx context.Context, tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			sp2, err := sp.Begin(ctx)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			b.Queue("ROLLBACK AND CHAIN")
			err = sp2.SendBatch(ctx, b).Close()
			if cerr := sp2.Commit(ctx); cerr != nil {
				return cerr
			}
			if cerr := sp.Commit(ctx); cerr != nil {
				return cerr
			}
			return err
		}},
	}
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	for _, w := range ways {
		for _, fails := range []bool{false, true} {
			name := w.name + "/Succeeds"
			if fails {
				name = w.name + "/Fails"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := testCtx(t)
				key := name
				var runs atomic.Int64
				fn := func(ctx context.Context, tx pgx.Tx) (int64, error) {
					id, err := insert(table, key, 1, &runs)(ctx, tx)
					if err != nil {
						return 0, err
					}
					if err := w.end(ctx, tx); !errors.Is(err, pgstore.ErrTxOwned) {
						return 0, fmt.Errorf("ending the transaction = %v; want ErrTxOwned", err)
					}
					if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (key, cents) VALUES ($1, 2)`, key); err != nil {
						return 0, fmt.Errorf("the transaction did not go on: %w", err)
					}
					if fails {
						return 0, errDeclined
					}
					return id, nil
				}
				id, err := pgstore.DoTx(ctx, g, key, fn)
				if fails {
					if err != errDeclined {
						t.Fatalf("DoTx = %v; want fn's error", err)
					}
					if n := ledgerRows(t, pool, table, key); n != 0 {
						t.Fatalf("failed call left %d ledger rows", n)
					}
					if _, err := s.Get(ctx, key); !errors.Is(err, idempotency.ErrNotFound) {
						t.Fatalf("record after a released failure: %v; want none", err)
					}
					return
				}
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
}

// TestDoTxDetectsEndedTransaction: fn ends the transaction through
// tx.Conn(), which DoTx cannot intercept. DoTx notices (the connection is
// idle, the transaction id changed, or its claim committed), rolls back
// whatever is still open, records the call so that fn never runs again,
// and says so with ErrTxEnded. The ledger shows exactly what committed.
func TestDoTxDetectsEndedTransaction(t *testing.T) {
	t.Parallel()
	type outcome int
	const (
		succeeds outcome = iota
		failsReleased
		failsRemembered
	)
	ways := []struct {
		sql string
		// rows committed: fn writes one row before the statement and one
		// after.
		rows int
		// a failed call whose claim vanished with fn's writes (ROLLBACK
		// AND CHAIN): nothing committed, so nothing to detect.
		failureUnseen bool
	}{
		{"COMMIT", 2, false},
		{"END", 2, false},
		{"ROLLBACK", 1, false},
		{"ABORT", 1, false},
		{"COMMIT AND CHAIN", 1, false},
		{"ROLLBACK AND CHAIN", 0, true},
	}
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	table := ledger(t, pool)
	for _, w := range ways {
		for _, o := range []outcome{succeeds, failsReleased, failsRemembered} {
			name := w.sql + []string{"/Succeeds", "/FailsReleased", "/FailsRemembered"}[o]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := testCtx(t)
				cfg := &idempotency.Config{KnownErrors: []error{errDeclined}}
				if o == failsRemembered {
					cfg.OnFailure = idempotency.Remember
				}
				g := idempotency.New(s, cfg)
				key := name
				var runs atomic.Int64
				fn := func(ctx context.Context, tx pgx.Tx) (int64, error) {
					id, err := insert(table, key, 1, &runs)(ctx, tx)
					if err != nil {
						return 0, err
					}
					if _, err := tx.Conn().Exec(ctx, w.sql); err != nil {
						return 0, err
					}
					if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (key, cents) VALUES ($1, 2)`, key); err != nil {
						return 0, err
					}
					if o != succeeds {
						return 0, errDeclined
					}
					return id, nil
				}
				id, err := pgstore.DoTx(ctx, g, key, fn)
				if n := ledgerRows(t, pool, table, key); n != w.rows {
					t.Fatalf("ledger has %d rows; want %d", n, w.rows)
				}
				if o != succeeds && w.failureUnseen {
					if err != errDeclined {
						t.Fatalf("DoTx = %v; want fn's error alone", err)
					}
					_, err := pgstore.DoTx(ctx, g, key, fn)
					switch {
					case o == failsReleased && (err != errDeclined || runs.Load() != 2):
						t.Fatalf("retry = %v, fn ran %d times; want it to run again", err, runs.Load())
					case o == failsRemembered && (!errors.Is(err, idempotency.ErrFailed) || runs.Load() != 1):
						t.Fatalf("retry = %v, fn ran %d times; want the remembered failure", err, runs.Load())
					}
					return
				}
				if !errors.Is(err, pgstore.ErrTxEnded) || (o != succeeds) != errors.Is(err, errDeclined) {
					t.Fatalf("DoTx = %d, %v; want ErrTxEnded (with fn's error if it failed)", id, err)
				}
				again, err := pgstore.DoTx(ctx, g, key, fn)
				if runs.Load() != 1 {
					t.Fatalf("fn ran %d times; want once", runs.Load())
				}
				switch o {
				case succeeds:
					if err != nil || again != id {
						t.Fatalf("retry = %d, %v; want the recorded %d", again, err, id)
					}
				case failsReleased:
					if !errors.Is(err, idempotency.ErrResultUnavailable) {
						t.Fatalf("retry = %v; want ErrResultUnavailable", err)
					}
				case failsRemembered:
					if !errors.Is(err, idempotency.ErrFailed) || !errors.Is(err, errDeclined) {
						t.Fatalf("retry = %v; want the remembered failure", err)
					}
				}
			})
		}
	}
}
