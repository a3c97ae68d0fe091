package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// runChild is the test binary acting as a child process of a crash test
// (childEnv set): it connects to PGSTORE_TEST_DSN and works on the records
// table PGSTORE_TEST_TABLE and the ledger PGSTORE_TEST_LEDGER.
func runChild(mode string) int {
	if mode == "sqlhold" {
		return runSQLChild()
	}
	if b, ok := strings.CutPrefix(mode, "joinhold-"); ok {
		return runJoinChild(b)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("PGSTORE_TEST_DSN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer pool.Close()
	s, err := pgstore.New(ctx, pool, &pgstore.Options{Table: os.Getenv("PGSTORE_TEST_TABLE"), LockWait: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	g := idempotency.New(s, &idempotency.Config{WaitTimeout: time.Second})
	table := os.Getenv("PGSTORE_TEST_LEDGER")
	book := func(key string, hold func()) func(context.Context, pgx.Tx) (int64, error) {
		return func(ctx context.Context, tx pgx.Tx) (int64, error) {
			var id int64
			err := tx.QueryRow(ctx, `INSERT INTO `+table+` (key, cents) VALUES ($1, 1) RETURNING id`, key).Scan(&id)
			hold()
			return id, err
		}
	}
	switch mode {
	case "hold":
		// Book, say so, and stay inside the transaction until killed.
		_, err := pgstore.DoTx(ctx, g, "held", book("held", func() {
			fmt.Println("inside")
			select {}
		}))
		fmt.Fprintln(os.Stderr, "hold returned:", err)
		return 2
	case "ledger":
		n, _ := strconv.Atoi(os.Getenv("PGSTORE_TEST_KEYS"))
		pending := make([]string, n)
		for i := range pending {
			pending[i] = fmt.Sprint("key-", i)
		}
		rand.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
		for len(pending) > 0 {
			var next []string
			for _, k := range pending {
				_, err := pgstore.DoTx(ctx, g, k, book(k, func() { time.Sleep(time.Duration(100+rand.IntN(100)) * time.Millisecond) }))
				switch {
				case err == nil:
				case errors.Is(err, idempotency.ErrInProgress):
					next = append(next, k) // held by a stopped or slow sibling: come back later
				default:
					fmt.Fprintf(os.Stderr, "DoTx(%s): %v\n", k, err)
					return 2
				}
			}
			pending = next
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown child mode", mode)
	return 2
}

// child starts a child process in mode; its stderr goes to the test log.
func child(t *testing.T, mode string, env ...string) *testchild.Proc {
	t.Helper()
	cmd := testchild.Command("", append([]string{childEnv + "=" + mode}, env...)...)
	cmd.Stderr = &lockedWriter{t: t}
	return testchild.Start(t, cmd)
}

// lockedWriter logs a child's stderr.
type lockedWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Logf("child: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

func childEnvFor(dsn, records, ledgerTable string) []string {
	return []string{"PGSTORE_TEST_DSN=" + dsn, "PGSTORE_TEST_TABLE=" + records, "PGSTORE_TEST_LEDGER=" + ledgerTable}
}

// TestDoTxKilledMidTransaction: a process killed inside fn leaves neither
// its effect nor a record, and the next call runs fn once.
func TestDoTxKilledMidTransaction(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	table := ledger(t, pool)
	p := child(t, "hold", childEnvFor(dsn, strings.Trim(s.Table(), `"`), table)...)
	p.WaitLine(t, "inside", time.Minute)
	// The child's booking is written, uncommitted, and its row lock held.
	p.Kill(t)
	ctx := testCtx(t)
	// The server aborts the dead client's transaction as it notices the
	// closed socket; the next DoTx waits on the row lock until then.
	g := idempotency.New(s, &idempotency.Config{OnDuplicate: idempotency.Wait})
	var runs atomic.Int64
	if _, err := pgstore.DoTx(ctx, g, "held", insert(table, "held", 1, &runs)); err != nil {
		t.Fatalf("DoTx after the kill: %v", err)
	}
	if _, err := pgstore.DoTx(ctx, g, "held", insert(table, "held", 1, &runs)); err != nil {
		t.Fatalf("second DoTx after the kill: %v", err)
	}
	if runs.Load() != 1 || ledgerRows(t, pool, table, "held") != 1 {
		t.Fatalf("after the kill fn ran %d times, ledger has %d rows; want 1 and 1", runs.Load(), ledgerRows(t, pool, table, "held"))
	}
	var maxID int64
	if err := pool.QueryRow(ctx, `SELECT max(id) FROM `+table).Scan(&maxID); err != nil || maxID != 2 {
		t.Fatalf("ledger max id = %d, %v; want 2 (the killed child's insert used id 1 and rolled back)", maxID, err)
	}
}

// TestDoTxLedgerUnderKills: 8 processes book 100 keys into a ledger
// through DoTx while some are SIGKILLed (some after a SIGSTOP that leaves
// their row locks held for a while) and replaced: every key is booked
// exactly once, and each record holds the id of its key's ledger row.
func TestDoTxLedgerUnderKills(t *testing.T) {
	t.Parallel()
	const procs, keys, kills = 8, 100, 12
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	table := ledger(t, pool)
	env := append(childEnvFor(dsn, strings.Trim(s.Table(), `"`), table), fmt.Sprint("PGSTORE_TEST_KEYS=", keys))

	start := func() *testchild.Proc { return child(t, "ledger", env...) }
	running := make([]*testchild.Proc, procs)
	for i := range running {
		running[i] = start()
	}
	// reap checks the children that exited by themselves, which must be
	// successes, and returns the ones still running.
	reap := func() []int {
		var alive []int
		for i, p := range running {
			select {
			case <-p.Done():
				if err := p.Err(); err != nil {
					t.Fatalf("child exited: %v", err)
				}
			default:
				alive = append(alive, i)
			}
		}
		return alive
	}
	killed := 0
	for killed < kills {
		time.Sleep(time.Duration(60+rand.IntN(80)) * time.Millisecond)
		alive := reap()
		if len(alive) == 0 {
			break // all done before all kills: the gap check below decides
		}
		i := alive[rand.IntN(len(alive))]
		p := running[i]
		if killed%3 == 0 {
			// Stopped inside its transaction, it keeps the row locked:
			// siblings wait for it, then give up on that key for a while.
			p.Signal(t, syscall.SIGSTOP)
			time.Sleep(300 * time.Millisecond)
		}
		p.Kill(t)
		killed++
		running[i] = start()
	}
	for _, p := range running {
		p.Wait(t, 3*time.Minute)
	}
	ctx := testCtx(t)
	var rows, distinct int
	var maxID int64
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT key), max(id) FROM `+table).Scan(&rows, &distinct, &maxID); err != nil {
		t.Fatal(err)
	}
	if rows != keys || distinct != keys {
		t.Fatalf("ledger has %d rows for %d keys; want exactly %d", rows, distinct, keys)
	}
	// Ids of rolled-back bookings are never reused: the gap counts the
	// kills that landed inside a transaction.
	t.Logf("%d kills, %d of them inside a transaction", killed, maxID-int64(rows))
	if maxID == int64(rows) {
		t.Fatal("no kill landed inside a transaction: the test proved nothing")
	}
	for i := range keys {
		k := fmt.Sprint("key-", i)
		rec, err := s.Get(ctx, k)
		if err != nil || rec.Status != idempotency.StatusCompleted {
			t.Fatalf("record of %s = %+v, %v", k, rec, err)
		}
		var id int64
		if err := pool.QueryRow(ctx, `SELECT id FROM `+table+` WHERE key = $1`, k).Scan(&id); err != nil || string(rec.Value) != fmt.Sprint(id) {
			t.Fatalf("record of %s holds %q, ledger row id %d (%v)", k, rec.Value, id, err)
		}
	}
}

// TestCompletionSurvivesServerCrash: on a server running with
// synchronous_commit off and a lazy WAL writer, a completion (and a DoTx
// commit) is still on disk when the server crashes right after it.
func TestCompletionSurvivesServerCrash(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t, &testserver.PostgresOptions{Fsync: true, Settings: map[string]string{
		"synchronous_commit": "off",
		"wal_writer_delay":   "10000",
	}})
	dsn := pg.CreateDB(t)
	ctx := testCtx(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(ctx, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	var runs atomic.Int64
	for i := range 20 {
		k := fmt.Sprint("k", i)
		if _, err := idempotency.Do(ctx, g, k, func(context.Context) (string, error) { return "v" + k, nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := pgstore.DoTx(ctx, g, "tx"+k, insert(table, "tx"+k, 1, &runs)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	pool.Close()
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	pool, err = pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err = pgstore.New(ctx, pool, &pgstore.Options{ManualMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 20 {
		k := fmt.Sprint("k", i)
		if rec, err := s.Get(ctx, k); err != nil || string(rec.Value) != `"v`+k+`"` {
			t.Fatalf("after the crash, record %s = %+v, %v", k, rec, err)
		}
		if rec, err := s.Get(ctx, "tx"+k); err != nil || rec.Status != idempotency.StatusCompleted {
			t.Fatalf("after the crash, DoTx record tx%s = %+v, %v", k, rec, err)
		}
		if n := ledgerRows(t, pool, table, "tx"+k); n != 1 {
			t.Fatalf("after the crash, ledger has %d rows for tx%s", n, k)
		}
	}
}
