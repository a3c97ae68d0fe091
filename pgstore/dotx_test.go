package pgstore_test

import (
	"context"
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
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ledger creates a ledger table without any unique constraint, so that a
// doubled effect shows as a doubled row, and returns its name.
func ledger(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := fmt.Sprintf("ledger_%d", tables.Add(1))
	if _, err := pool.Exec(context.Background(), `CREATE TABLE `+name+` (id bigserial, key text NOT NULL, cents bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return name
}

func ledgerRows(t testing.TB, pool *pgxpool.Pool, table, key string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE key = $1`, key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// insert is a DoTx function that books cents under key and returns the
// row's id.
func insert(table, key string, cents int64, runs *atomic.Int64) func(context.Context, pgx.Tx) (int64, error) {
	return func(ctx context.Context, tx pgx.Tx) (int64, error) {
		runs.Add(1)
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO `+table+` (key, cents) VALUES ($1, $2) RETURNING id`, key, cents).Scan(&id)
		return id, err
	}
}

func TestDoTxCommitsEffectAndRecordTogether(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	ctx := testCtx(t)
	var runs atomic.Int64
	id, err := pgstore.DoTx(ctx, g, "pay-1", insert(table, "pay-1", 500, &runs))
	if err != nil {
		t.Fatalf("first DoTx: %v", err)
	}
	rec, err := s.Get(ctx, "pay-1")
	if err != nil || rec.Status != idempotency.StatusCompleted || string(rec.Value) != fmt.Sprint(id) {
		t.Fatalf("record after DoTx = %+v, %v; want completed with value %d", rec, err, id)
	}
	for range 3 {
		again, err := pgstore.DoTx(ctx, g, "pay-1", insert(table, "pay-1", 500, &runs))
		if err != nil || again != id {
			t.Fatalf("duplicate DoTx = %d, %v; want the stored %d", again, err, id)
		}
	}
	// A plain Do on the same key replays the same record.
	if v, err := idempotency.Do(ctx, g, "pay-1", func(context.Context) (int64, error) { runs.Add(1); return -1, nil }); err != nil || v != id {
		t.Fatalf("Do after DoTx = %d, %v; want %d", v, err, id)
	}
	if runs.Load() != 1 || ledgerRows(t, pool, table, "pay-1") != 1 {
		t.Fatalf("fn ran %d times, ledger has %d rows; want 1 and 1", runs.Load(), ledgerRows(t, pool, table, "pay-1"))
	}
}

var errDeclined = errors.New("card declined")

func TestDoTxFailureRollsBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		policy   idempotency.FailurePolicy
		remember bool
	}{
		{"Release", idempotency.Release, false},
		{"Remember", idempotency.Remember, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool := newPool(t, dsn)
			s := newStore(t, pool, nil)
			g := idempotency.New(s, &idempotency.Config{OnFailure: tc.policy, KnownErrors: []error{errDeclined}})
			table := ledger(t, pool)
			ctx := testCtx(t)
			var runs atomic.Int64
			_, err := pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (int64, error) {
				if _, err := insert(table, "k", 1, &runs)(ctx, tx); err != nil {
					return 0, err
				}
				return 0, errDeclined
			})
			if err != errDeclined {
				t.Fatalf("DoTx = %v; want fn's error unchanged", err)
			}
			if n := ledgerRows(t, pool, table, "k"); n != 0 {
				t.Fatalf("failed call left %d ledger rows", n)
			}
			rec, err := s.Get(ctx, "k")
			if !tc.remember {
				if !errors.Is(err, idempotency.ErrNotFound) {
					t.Fatalf("record after a released failure = %+v, %v; want none", rec, err)
				}
				if _, err := pgstore.DoTx(ctx, g, "k", insert(table, "k", 1, &runs)); err != nil {
					t.Fatalf("retry after failure: %v", err)
				}
				if runs.Load() != 2 || ledgerRows(t, pool, table, "k") != 1 {
					t.Fatalf("retry: fn ran %d times, %d ledger rows; want 2 and 1", runs.Load(), ledgerRows(t, pool, table, "k"))
				}
				return
			}
			if err != nil || rec.Status != idempotency.StatusFailed {
				t.Fatalf("record after a remembered failure = %+v, %v", rec, err)
			}
			_, err = pgstore.DoTx(ctx, g, "k", insert(table, "k", 1, &runs))
			if !errors.Is(err, idempotency.ErrFailed) || !errors.Is(err, errDeclined) {
				t.Fatalf("call after a remembered failure = %v; want ErrFailed and errDeclined", err)
			}
			if runs.Load() != 1 || ledgerRows(t, pool, table, "k") != 0 {
				t.Fatalf("fn ran %d times, %d ledger rows; want 1 and 0", runs.Load(), ledgerRows(t, pool, table, "k"))
			}
		})
	}
}

// TestDoTxFailureKeepsTheConnection: fn's error rolls the transaction back
// on its connection, which goes back to the pool for the next call (pgx
// closes a connection whose rollback could not be sent): on a pool of one
// connection, every call runs on the same server process.
func TestDoTxFailureKeepsTheConnection(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	g := idempotency.New(newStore(t, pool, nil), nil)
	ctx := testCtx(t)
	errFn := errors.New("fn failed")
	var pids []int
	for _, fail := range []bool{true, true, false} {
		_, err := pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (int, error) {
			var pid int
			if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				return 0, err
			}
			pids = append(pids, pid)
			if fail {
				return 0, errFn
			}
			return pid, nil
		})
		if fail != errors.Is(err, errFn) || !fail && err != nil {
			t.Fatalf("DoTx (fn failing: %v) = %v", fail, err)
		}
	}
	if len(pids) != 3 || pids[0] != pids[1] || pids[1] != pids[2] {
		t.Fatalf("the calls ran on server processes %v; want one connection throughout", pids)
	}
}

func TestDoTxPanicRollsBack(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	ctx := testCtx(t)
	var runs atomic.Int64
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v; want the panic to go on", p)
			}
		}()
		_, _ = pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (int64, error) {
			_, _ = insert(table, "k", 1, &runs)(ctx, tx)
			panic("boom")
		})
	}()
	if n := ledgerRows(t, pool, table, "k"); n != 0 {
		t.Fatalf("panicking call left %d ledger rows", n)
	}
	if _, err := pgstore.DoTx(ctx, g, "k", insert(table, "k", 1, &runs)); err != nil {
		t.Fatalf("call after the panic: %v", err)
	}
	if ledgerRows(t, pool, table, "k") != 1 {
		t.Fatal("call after the panic did not book")
	}
	// Every connection went back to the pool: no transaction left open.
	waitIdle(t, pool)
}

// waitIdle fails unless every acquired connection returns to the pool.
func waitIdle(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for range 100 {
		if pool.Stat().AcquiredConns() == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d connections still acquired", pool.Stat().AcquiredConns())
}

func TestDoTxNeedsPgStore(t *testing.T) {
	t.Parallel()
	m := memstore.New(nil)
	defer m.Close()
	ran := false
	_, err := pgstore.DoTx(context.Background(), idempotency.New(m, nil), "k", func(context.Context, pgx.Tx) (int, error) {
		ran = true
		return 1, nil
	})
	if !errors.Is(err, pgstore.ErrWrongStore) || ran {
		t.Fatalf("DoTx on a memstore guard = %v (fn ran: %v); want ErrWrongStore, fn not run", err, ran)
	}
	if _, err := pgstore.DoTx(context.Background(), nil, "k", func(context.Context, pgx.Tx) (int, error) { ran = true; return 1, nil }); !errors.Is(err, pgstore.ErrWrongStore) || ran {
		t.Fatalf("DoTx with a nil guard = %v", err)
	}
}

func TestDoTxInvalidKey(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	g := idempotency.New(newStore(t, pool, nil), nil)
	ran := false
	_, err := pgstore.DoTx(testCtx(t), g, "", func(context.Context, pgx.Tx) (int, error) { ran = true; return 1, nil })
	if !errors.Is(err, idempotency.ErrInvalidKey) || ran {
		t.Fatalf("DoTx with an empty key = %v (fn ran: %v)", err, ran)
	}
	waitIdle(t, pool)
}

// TestDoTxDuplicates runs a duplicate while the first call's transaction
// is open, under each duplicate policy.
func TestDoTxDuplicates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cfg     idempotency.Config
		want    error // nil: the first call's value
		wantToo error
	}{
		{"Wait", idempotency.Config{OnDuplicate: idempotency.Wait}, nil, nil},
		{"ReturnStoredInTime", idempotency.Config{WaitTimeout: time.Minute}, nil, nil},
		{"ReturnStoredTimesOut", idempotency.Config{WaitTimeout: 300 * time.Millisecond}, idempotency.ErrInProgress, nil},
		{"WaitUntilContextEnds", idempotency.Config{OnDuplicate: idempotency.Wait}, idempotency.ErrInProgress, context.DeadlineExceeded},
		{"ReturnStoredNoWait", idempotency.Config{WaitTimeout: -1}, idempotency.ErrInProgress, nil},
		{"Reject", idempotency.Config{OnDuplicate: idempotency.Reject}, idempotency.ErrDuplicate, idempotency.ErrInProgress},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool := newPool(t, dsn)
			// A short LockWait makes waiting duplicates go around the
			// notify-and-claim-again loop several times.
			s := newStore(t, pool, &pgstore.Options{LockWait: 50 * time.Millisecond})
			// Contention is a conflict, not a store failure.
			var storeErrors atomic.Int64
			cfg := tc.cfg
			cfg.Observer = idempotency.ObserverFunc(func(_ context.Context, e idempotency.Event) {
				if e.Kind == idempotency.EventStoreError {
					t.Logf("store error event: %v", e.Err)
					storeErrors.Add(1)
				}
			})
			g := idempotency.New(s, &cfg)
			table := ledger(t, pool)
			ctx := testCtx(t)
			inside, release := make(chan struct{}), make(chan struct{})
			var runs atomic.Int64
			type result struct {
				id  int64
				err error
			}
			first := make(chan result, 1)
			go func() {
				id, err := pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (int64, error) {
					id, err := insert(table, "k", 1, &runs)(ctx, tx)
					close(inside)
					<-release
					return id, err
				})
				first <- result{id, err}
			}()
			recv(t, "inside", inside)
			second := make(chan result, 1)
			go func() {
				ctx := ctx
				if tc.name == "WaitUntilContextEnds" {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
					defer cancel()
				}
				id, err := pgstore.DoTx(ctx, g, "k", insert(table, "k", 1, &runs))
				second <- result{id, err}
			}()
			var got result
			if tc.want != nil {
				got = recv(t, "second", second) // decided while the first still runs
				close(release)
			} else {
				time.Sleep(400 * time.Millisecond) // let the duplicate block and time out on the lock a few times
				close(release)
				got = recv(t, "second", second)
			}
			f := recv(t, "first", first)
			if f.err != nil {
				t.Fatalf("first call: %v", f.err)
			}
			switch {
			case tc.want == nil && (got.err != nil || got.id != f.id):
				t.Fatalf("duplicate = %d, %v; want the first call's %d", got.id, got.err, f.id)
			case tc.want != nil && !errors.Is(got.err, tc.want):
				t.Fatalf("duplicate = %d, %v; want %v", got.id, got.err, tc.want)
			case tc.wantToo != nil && !errors.Is(got.err, tc.wantToo):
				t.Fatalf("duplicate = %v; want it to match %v too", got.err, tc.wantToo)
			}
			if runs.Load() != 1 || ledgerRows(t, pool, table, "k") != 1 {
				t.Fatalf("fn ran %d times, %d ledger rows; want 1 and 1", runs.Load(), ledgerRows(t, pool, table, "k"))
			}
			if n := storeErrors.Load(); n != 0 {
				t.Fatalf("%d store error events", n)
			}
			waitIdle(t, pool)
		})
	}
}

// TestDoTxManyConcurrent: many goroutines, few keys, one effect per key.
func TestDoTxManyConcurrent(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, &pgstore.Options{LockWait: 100 * time.Millisecond})
	g := idempotency.New(s, &idempotency.Config{OnDuplicate: idempotency.Wait})
	table := ledger(t, pool)
	ctx := testCtx(t)
	const workers, keys = 12, 20
	var runs atomic.Int64
	ids := make([]sync.Map, 1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := fmt.Sprint("key-", (i+w)%keys)
				id, err := pgstore.DoTx(ctx, g, k, insert(table, k, 1, &runs))
				if err != nil {
					t.Errorf("DoTx(%s): %v", k, err)
					return
				}
				if prev, loaded := ids[0].LoadOrStore(k, id); loaded && prev != id {
					t.Errorf("key %s: ids %d and %d", k, prev, id)
				}
			}
		}()
	}
	wg.Wait()
	var n, distinct int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT key) FROM `+table).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != keys || distinct != keys || runs.Load() != keys {
		t.Fatalf("ledger has %d rows for %d keys, fn ran %d times; want %d each", n, distinct, runs.Load(), keys)
	}
}

// TestDoTxForcesSynchronousCommit: a session that turned synchronous
// commit off still commits DoTx durably.
func TestDoTxForcesSynchronousCommit(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	g := idempotency.New(newStore(t, pool, nil), nil)
	ctx := testCtx(t)
	var session string
	if err := pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&session); err != nil || session != "off" {
		t.Fatalf("session synchronous_commit = %q, %v; want off", session, err)
	}
	got, err := pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (string, error) {
		var v string
		err := tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v)
		return v, err
	})
	if err != nil || got != "on" {
		t.Fatalf("synchronous_commit inside DoTx = %q, %v; want on", got, err)
	}
}

// TestPlainDoWaitsForDoTx: a Do on a key whose DoTx transaction is open
// blocks on the row, then replays the committed outcome.
func TestPlainDoWaitsForDoTx(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	ctx := testCtx(t)
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (string, error) {
			close(inside)
			<-release
			return "tx", nil
		})
		done <- err
	}()
	recv(t, "inside", inside)
	got := make(chan string, 1)
	go func() {
		v, err := idempotency.Do(ctx, g, "k", func(context.Context) (string, error) { return "plain", nil })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	time.Sleep(200 * time.Millisecond)
	close(release)
	if err := recv(t, "done", done); err != nil {
		t.Fatal(err)
	}
	if v := recv(t, "got", got); v != "tx" {
		t.Fatalf("plain Do during DoTx got %q; want the transaction's %q", v, "tx")
	}
}

// TestDoTxWaitsForPlainDo: a DoTx duplicate of a plain call still running
// (its record committed, in progress) marks the record watched like any
// waiter, so that the completion notifies it: it gets the stored result
// without polling (PollInterval an hour) long before the lease (a minute)
// would lapse, and fn does not run.
func TestDoTxWaitsForPlainDo(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, &pgstore.Options{PollInterval: time.Hour})
	g := idempotency.New(s, &idempotency.Config{OnDuplicate: idempotency.Wait, Lease: time.Minute})
	ctx := testCtx(t)
	cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !cl.Acquired {
		t.Fatal(cl, err)
	}
	type result struct {
		v   string
		err error
	}
	got := make(chan result, 1)
	var runs atomic.Int64
	go func() {
		v, err := pgstore.DoTx(ctx, g, "k", func(context.Context, pgx.Tx) (string, error) {
			runs.Add(1)
			return "dotx", nil
		})
		got <- result{v, err}
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var watched bool
		if err := pool.QueryRow(ctx, `SELECT waiters FROM `+s.Table()+` WHERE key = 'k'::bytea`).Scan(&watched); err != nil {
			t.Fatal(err)
		}
		if watched {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the DoTx duplicate did not mark the running call's record watched within 20 s: its completion would not notify it")
		}
	}
	if err := s.Complete(ctx, "k", cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(`"plain"`), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, "the DoTx duplicate's result (no polling, lease a minute: only the notification wakes it)", got); r.err != nil || r.v != "plain" || runs.Load() != 0 {
		t.Fatalf("DoTx duplicate = %q, %v, fn ran %d times; want the plain call's %q, fn not run", r.v, r.err, runs.Load(), "plain")
	}
}

// TestDoTxOwnsTheTransaction: fn cannot end the transaction early (its
// effect would commit without the record); savepoints work.
func TestDoTxOwnsTheTransaction(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	ctx := testCtx(t)
	var runs atomic.Int64
	_, err := pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (int64, error) {
		id, err := insert(table, "k", 1, &runs)(ctx, tx)
		if err != nil {
			return 0, err
		}
		if err := tx.Commit(ctx); !errors.Is(err, pgstore.ErrTxOwned) {
			return 0, fmt.Errorf("Commit inside fn = %v; want ErrTxOwned", err)
		}
		if err := tx.Rollback(ctx); !errors.Is(err, pgstore.ErrTxOwned) {
			return 0, fmt.Errorf("Rollback inside fn = %v; want ErrTxOwned", err)
		}
		// A savepoint rolled back undoes only its own writes.
		sp, err := tx.Begin(ctx)
		if err != nil {
			return 0, err
		}
		if _, err := insert(table, "k", 1, &runs)(ctx, sp); err != nil {
			return 0, err
		}
		if err := sp.Rollback(ctx); err != nil {
			return 0, err
		}
		return id, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := ledgerRows(t, pool, table, "k"); n != 1 {
		t.Fatalf("ledger has %d rows; want 1", n)
	}
	if rec, err := s.Get(ctx, "k"); err != nil || rec.Status != idempotency.StatusCompleted {
		t.Fatalf("record = %+v, %v", rec, err)
	}
}

// TestDoTxKeepsCallersLockTimeout: the claim's short lock timeout does not
// leak into fn: fn may wait for a row lock as long as the session allows.
func TestDoTxKeepsCallersLockTimeout(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	g := idempotency.New(newStore(t, pool, &pgstore.Options{LockWait: 10 * time.Millisecond}), nil)
	ctx := testCtx(t)
	accounts := fmt.Sprintf("accounts_%d", tables.Add(1))
	if _, err := pool.Exec(ctx, `CREATE TABLE `+accounts+` (id int PRIMARY KEY, cents bigint NOT NULL); INSERT INTO `+accounts+` VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	// Another transaction holds the account row for a while.
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT * FROM `+accounts+` WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = holder.Commit(context.Background())
	}()
	got, err := pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (string, error) {
		var lt string
		if err := tx.QueryRow(ctx, `SHOW lock_timeout`).Scan(&lt); err != nil {
			return "", err
		}
		_, err := tx.Exec(ctx, `UPDATE `+accounts+` SET cents = cents + 100 WHERE id = 1`)
		return lt, err
	})
	if err != nil || got != "0" {
		t.Fatalf("DoTx waiting on a row lock = lock_timeout %q, %v; want the session's 0 and success", got, err)
	}
}
