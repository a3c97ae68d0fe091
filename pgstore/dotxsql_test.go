package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5/pgconn"
)

// sqlInsert is a DoTxSQL function that books cents under key and returns
// the row's id.
func sqlInsert(table, key string, cents int64, runs *atomic.Int64) func(context.Context, *sql.Tx) (int64, error) {
	return func(ctx context.Context, tx *sql.Tx) (int64, error) {
		runs.Add(1)
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO `+table+` (key, cents) VALUES ($1, $2) RETURNING id`, key, cents).Scan(&id)
		return id, err
	}
}

// sqlFixture is a DBStore with a ledger table, and a pgx pool to look at
// both.
type sqlFixture struct {
	db    *sql.DB
	s     *pgstore.DBStore
	table string
	look  func(key string) (ledgerRows int, rec idemtype.Record, recErr error)
}

func newSQLFixture(t *testing.T) sqlFixture {
	t.Helper()
	pool := newPool(t, dsn)
	db := newSQLDB(t, dsn)
	f := sqlFixture{db: db, s: newDBStore(t, db, nil), table: ledger(t, pool)}
	f.look = func(key string) (int, idemtype.Record, error) {
		rec, err := f.s.Get(context.Background(), key)
		return ledgerRows(t, pool, f.table, key), rec, err
	}
	return f
}

func TestDoTxSQLCommitsEffectAndRecordTogether(t *testing.T) {
	t.Parallel()
	f := newSQLFixture(t)
	g := idempotency.New(f.s, nil)
	ctx := testCtx(t)
	var runs atomic.Int64
	id, err := pgstore.DoTxSQL(ctx, g, "pay-1", sqlInsert(f.table, "pay-1", 500, &runs))
	if err != nil {
		t.Fatalf("first DoTxSQL: %v", err)
	}
	n, rec, err := f.look("pay-1")
	if n != 1 || err != nil || rec.Status != idemtype.StatusCompleted || string(rec.Value) != fmt.Sprint(id) {
		t.Fatalf("after DoTxSQL: %d ledger rows, record %+v, %v; want 1 row and completed with value %d", n, rec, err, id)
	}
	for range 3 {
		again, err := pgstore.DoTxSQL(ctx, g, "pay-1", sqlInsert(f.table, "pay-1", 500, &runs))
		if err != nil || again != id {
			t.Fatalf("replay = %d, %v; want %d", again, err, id)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("fn ran %d times; want 1", runs.Load())
	}
	if n, _, _ := f.look("pay-1"); n != 1 {
		t.Fatalf("ledger has %d rows; want 1", n)
	}
}

// TestDoTxSQLRollsBack: whatever ends fn without a result (an error, a
// panic) or keeps its result from committing (ctx ends) leaves neither
// its writes nor a record, unless the failure is remembered, and then
// only the failure.
func TestDoTxSQLRollsBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		cfg      *idempotency.Config
		fn       func(ctx context.Context, tx *sql.Tx, book func() error) (int64, error)
		wantErr  error
		wantCode string // SQLSTATE of the driver's error, when not wantErr
		panics   bool
		wantRec  idemtype.Status // 0: no record
		retryRun bool            // the next call runs fn
	}{
		{
			name: "HandlerError",
			fn: func(_ context.Context, _ *sql.Tx, book func() error) (int64, error) {
				return 0, errors.Join(book(), errDeclined)
			},
			wantErr:  errDeclined,
			retryRun: true,
		},
		{
			name:     "Panic",
			fn:       func(_ context.Context, _ *sql.Tx, book func() error) (int64, error) { _ = book(); panic("boom") },
			panics:   true,
			retryRun: true,
		},
		{
			name: "RememberedFailure",
			cfg:  &idempotency.Config{OnFailure: idempotency.Remember},
			fn: func(_ context.Context, _ *sql.Tx, book func() error) (int64, error) {
				return 0, errors.Join(book(), errDeclined)
			},
			wantErr: errDeclined,
			wantRec: idemtype.StatusFailed,
		},
		{
			name: "HandlerErrorAfterFailedStatement",
			fn: func(ctx context.Context, tx *sql.Tx, book func() error) (int64, error) {
				_ = book()
				_, err := tx.ExecContext(ctx, `SELECT 1/0`)
				return 0, err
			},
			wantCode: "22012", // division_by_zero, from the driver
			retryRun: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newSQLFixture(t)
			g := idempotency.New(f.s, tc.cfg)
			ctx := testCtx(t)
			var runs atomic.Int64
			fn := func(ctx context.Context, tx *sql.Tx) (int64, error) {
				runs.Add(1)
				return tc.fn(ctx, tx, func() error {
					_, err := tx.ExecContext(ctx, `INSERT INTO `+f.table+` (key, cents) VALUES ('k', 1)`)
					return err
				})
			}
			var err error
			func() {
				defer func() {
					if r := recover(); (r != nil) != tc.panics {
						t.Fatalf("recovered %v; want a panic: %v", r, tc.panics)
					}
				}()
				_, err = pgstore.DoTxSQL(ctx, g, "k", fn)
			}()
			switch {
			case tc.panics:
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("DoTxSQL = %v; want %v", err, tc.wantErr)
			case tc.wantCode != "":
				if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != tc.wantCode {
					t.Fatalf("DoTxSQL = %v; want SQLSTATE %s", err, tc.wantCode)
				}
			}
			n, rec, recErr := f.look("k")
			if n != 0 {
				t.Fatalf("ledger has %d rows after the rollback; want 0", n)
			}
			switch {
			case tc.wantRec == 0 && !errors.Is(recErr, idemtype.ErrNotFound):
				t.Fatalf("record = %+v, %v; want none", rec, recErr)
			case tc.wantRec != 0 && (recErr != nil || rec.Status != tc.wantRec):
				t.Fatalf("record = %+v, %v; want status %v", rec, recErr, tc.wantRec)
			}
			var retry atomic.Int64
			_, err = pgstore.DoTxSQL(ctx, g, "k", sqlInsert(f.table, "k", 1, &retry))
			if tc.retryRun != (retry.Load() == 1) || tc.retryRun != (err == nil) {
				t.Fatalf("retry ran fn %d times, %v; want it to run: %v", retry.Load(), err, tc.retryRun)
			}
			if n, _, _ := f.look("k"); n != int(retry.Load()) {
				t.Fatalf("ledger has %d rows after the retry; want %d", n, retry.Load())
			}
		})
	}
}

// TestDoTxSQLContextEnds: database/sql rolls the transaction back when
// ctx ends while fn runs: fn's result comes back with ErrNotRecorded and
// nothing committed, so the retry runs fn.
func TestDoTxSQLContextEnds(t *testing.T) {
	t.Parallel()
	f := newSQLFixture(t)
	g := idempotency.New(f.s, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	var runs atomic.Int64
	v, err := pgstore.DoTxSQL(ctx, g, "k", func(ctx context.Context, tx *sql.Tx) (int64, error) {
		id, err := sqlInsert(f.table, "k", 1, &runs)(ctx, tx)
		cancel()
		return id, err
	})
	if !errors.Is(err, idempotency.ErrNotRecorded) || v != 0 {
		t.Fatalf("DoTxSQL = %d, %v; want 0 and ErrNotRecorded", v, err)
	}
	if n, rec, err := f.look("k"); n != 0 || !errors.Is(err, idemtype.ErrNotFound) {
		t.Fatalf("after the cancel: %d ledger rows, record %+v, %v; want none", n, rec, err)
	}
	if _, err := pgstore.DoTxSQL(testCtx(t), g, "k", sqlInsert(f.table, "k", 1, &runs)); err != nil || runs.Load() != 2 {
		t.Fatalf("retry = %v after %d runs; want success, fn run again", err, runs.Load())
	}
}

func TestDoTxSQLWrongStore(t *testing.T) {
	t.Parallel()
	ran := false
	fn := func(context.Context, *sql.Tx) (int, error) { ran = true; return 1, nil }
	m := memstore.New(nil)
	defer m.Close()
	for _, g := range []*idempotency.Guard{nil, idempotency.New(m, nil), idempotency.New(newStore(t, newPool(t, dsn), nil), nil)} {
		if _, err := pgstore.DoTxSQL(context.Background(), g, "k", fn); !errors.Is(err, pgstore.ErrWrongStore) || ran {
			t.Fatalf("DoTxSQL on %v = %v (fn ran: %v); want ErrWrongStore, fn not run", g, err, ran)
		}
	}
}

// TestDoTxSQLFnEndsTx: fn ending the transaction itself is noticed at the
// end, whichever way it did: the call is recorded so that fn does not run
// again, and the error matches ErrTxEnded (with fn's error, if any).
func TestDoTxSQLFnEndsTx(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		end     func(ctx context.Context, tx *sql.Tx) error
		fnErr   error
		rows    int // ledger rows left: whether the end committed the booking
		replay  error
		wantRec idemtype.Status
	}{
		{"Commit", func(_ context.Context, tx *sql.Tx) error { return tx.Commit() }, nil, 1, nil, idemtype.StatusCompleted},
		{"Rollback", func(_ context.Context, tx *sql.Tx) error { return tx.Rollback() }, nil, 0, nil, idemtype.StatusCompleted},
		{"COMMIT", execStmt("COMMIT"), nil, 1, nil, idemtype.StatusCompleted},
		{"ROLLBACK", execStmt("ROLLBACK"), nil, 0, nil, idemtype.StatusCompleted},
		{"COMMIT AND CHAIN", execStmt("COMMIT AND CHAIN"), nil, 1, nil, idemtype.StatusCompleted},
		{"CommitThenError", func(_ context.Context, tx *sql.Tx) error { return tx.Commit() }, errDeclined, 1, idempotency.ErrResultUnavailable, idemtype.StatusCompleted},
		{"COMMIT AND CHAIN then error", execStmt("COMMIT AND CHAIN"), errDeclined, 1, idempotency.ErrResultUnavailable, idemtype.StatusCompleted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newSQLFixture(t)
			g := idempotency.New(f.s, nil)
			ctx := testCtx(t)
			var runs atomic.Int64
			fn := func(ctx context.Context, tx *sql.Tx) (int64, error) {
				id, err := sqlInsert(f.table, "k", 1, &runs)(ctx, tx)
				if err != nil {
					return 0, err
				}
				if err := tc.end(ctx, tx); err != nil {
					return 0, err
				}
				return id, tc.fnErr
			}
			_, err := pgstore.DoTxSQL(ctx, g, "k", fn)
			if !errors.Is(err, pgstore.ErrTxEnded) || (tc.fnErr != nil) != errors.Is(err, tc.fnErr) {
				t.Fatalf("DoTxSQL = %v; want ErrTxEnded (and fn's error: %v)", err, tc.fnErr)
			}
			n, rec, recErr := f.look("k")
			if n != tc.rows || recErr != nil || rec.Status != tc.wantRec {
				t.Fatalf("after the call: %d ledger rows, record %+v, %v; want %d rows and status %v", n, rec, recErr, tc.rows, tc.wantRec)
			}
			_, err = pgstore.DoTxSQL(ctx, g, "k", fn)
			if runs.Load() != 1 || !errors.Is(err, tc.replay) {
				t.Fatalf("retry = %v after %d runs; want fn run once and %v", err, runs.Load(), tc.replay)
			}
		})
	}
}

func execStmt(stmt string) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, stmt)
		return err
	}
}

// TestDoTxSQLConcurrentDuplicates: duplicates arriving while the first
// call's transaction runs block on its row, then get its result: one
// ledger row, one run.
func TestDoTxSQLConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	const callers = 8
	f := newSQLFixture(t)
	g := idempotency.New(f.s, &idempotency.Config{OnDuplicate: idempotency.Wait})
	ctx := testCtx(t)
	var runs atomic.Int64
	inside := make(chan struct{})
	proceed := make(chan struct{})
	fn := func(ctx context.Context, tx *sql.Tx) (int64, error) {
		id, err := sqlInsert(f.table, "k", 1, &runs)(ctx, tx)
		if runs.Load() == 1 {
			close(inside)
			<-proceed
		}
		return id, err
	}
	ids := make([]int64, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ids[0], errs[0] = pgstore.DoTxSQL(ctx, g, "k", fn)
	}()
	recv(t, "inside", inside) // the first call holds the row: every other one finds it locked
	for i := 1; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = pgstore.DoTxSQL(ctx, g, "k", fn)
		}()
	}
	// Under Reject, a duplicate is told at once that the call runs.
	rg := idempotency.New(f.s, &idempotency.Config{OnDuplicate: idempotency.Reject})
	if _, err := pgstore.DoTxSQL(ctx, rg, "k", fn); !errors.Is(err, idempotency.ErrInProgress) || !errors.Is(err, idempotency.ErrDuplicate) {
		t.Errorf("a rejected duplicate = %v; want ErrInProgress and ErrDuplicate", err)
	}
	close(proceed)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("caller %d = %d, %v; want %d", i, ids[i], errs[i], ids[0])
		}
	}
	if n, _, _ := f.look("k"); n != 1 || runs.Load() != 1 {
		t.Fatalf("ledger has %d rows after %d runs; want 1 and 1", n, runs.Load())
	}
}

// TestDoTxSQLNested: inside fn, a guarded call on another key is a call
// of its own; one on the held key, or its Delete, fails at once with
// ErrNested instead of waiting on the row lock.
func TestDoTxSQLNested(t *testing.T) {
	t.Parallel()
	f := newSQLFixture(t)
	g := idempotency.New(f.s, &idempotency.Config{OnDuplicate: idempotency.Wait})
	ctx := testCtx(t)
	var runs atomic.Int64
	v, err := pgstore.DoTxSQL(ctx, g, "outer", func(ctx context.Context, tx *sql.Tx) (int64, error) {
		if _, err := pgstore.DoTxSQL(ctx, g, "inner", sqlInsert(f.table, "inner", 1, &runs)); err != nil {
			return 0, fmt.Errorf("inner call: %w", err)
		}
		// Bounded: without the check, these would wait on the row lock.
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := idempotency.Do(bctx, g, "outer", func(context.Context) (int, error) { return 1, nil })
		if !errors.Is(err, pgstore.ErrNested) || !errors.Is(err, idempotency.ErrStore) {
			return 0, fmt.Errorf("Do on the held key = %v; want ErrNested and ErrStore", err)
		}
		if err := f.s.Delete(bctx, "outer"); !errors.Is(err, pgstore.ErrNested) {
			return 0, fmt.Errorf("Delete of the held key = %v; want ErrNested", err)
		}
		return sqlInsert(f.table, "outer", 1, &runs)(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, rec, err := f.look("outer"); n != 1 || err != nil || string(rec.Value) != fmt.Sprint(v) {
		t.Fatalf("outer: %d ledger rows, record %+v, %v", n, rec, err)
	}
	if n, rec, err := f.look("inner"); n != 1 || err != nil || rec.Status != idemtype.StatusCompleted {
		t.Fatalf("inner: %d ledger rows, record %+v, %v", n, rec, err)
	}
}
