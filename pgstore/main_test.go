package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"
)

// One server for the package: each test gets its own tables (distinct
// Options.Table) or its own database; tests that crash a server start
// their own.
var (
	server *testserver.Postgres
	dsn    string // a database owned by an unprivileged role
)

// childEnv makes the test binary act as a child process of a crash test
// instead of running the suite.
const childEnv = "PGSTORE_TEST_CHILD"

func TestMain(m *testing.M) {
	testchild.Child(childEnv, runChild)
	if isFuzzWorker() {
		os.Exit(m.Run()) // fuzz targets need no server
	}
	var err error
	server, err = testserver.NewPostgres(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgstore tests:", err)
		if testserver.Skippable(err) {
			os.Exit(0) // no PostgreSQL here, and none required: skip
		}
		os.Exit(1)
	}
	if dsn, err = server.NewDB(); err != nil {
		server.Stop()
		fmt.Fprintln(os.Stderr, "pgstore tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func isFuzzWorker() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzzworker") {
			return true
		}
	}
	return false
}

var tables atomic.Int64

// newPool returns a pool on dsn, closed in cleanup.
func newPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newStore returns a store on its own fresh table of the shared database.
func newStore(t testing.TB, pool *pgxpool.Pool, opts *pgstore.Options) *pgstore.Store {
	t.Helper()
	var o pgstore.Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = fmt.Sprintf("records_%d", tables.Add(1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.New(ctx, pool, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recv receives from ch within 20 s, or fails the test saying what it
// waited for: no wait of a test goes unbounded, whatever the code does.
func recv[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: nothing received within 20 s", what)
		var zero T
		return zero
	}
}
