package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
)

// runSQLChild is the child of TestDoTxSQLKilledMidTransaction: it books
// key "held" through DoTxSQL, says so, and stays inside the transaction
// until killed.
func runSQLChild() int {
	ctx := context.Background()
	db, err := sql.Open("pgx", os.Getenv("PGSTORE_TEST_DSN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer db.Close()
	s, err := pgstore.NewDB(ctx, db, &pgstore.Options{Table: os.Getenv("PGSTORE_TEST_TABLE"), ManualMigrate: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	g := idempotency.New(s, nil)
	_, err = pgstore.DoTxSQL(ctx, g, "held", func(ctx context.Context, tx *sql.Tx) (int64, error) {
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO `+os.Getenv("PGSTORE_TEST_LEDGER")+` (key, cents) VALUES ('held', 1) RETURNING id`).Scan(&id); err != nil {
			return 0, err
		}
		fmt.Println("inside")
		select {}
	})
	fmt.Fprintln(os.Stderr, "hold returned:", err)
	return 2
}

// TestDoTxSQLKilledMidTransaction: a process SIGKILLed inside fn leaves
// neither its booking nor a record, and the next call runs fn once.
func TestDoTxSQLKilledMidTransaction(t *testing.T) {
	t.Parallel()
	f := newSQLFixture(t)
	p := child(t, "sqlhold", childEnvFor(dsn, strings.Trim(f.s.Table(), `"`), f.table)...)
	p.WaitLine(t, "inside", time.Minute)
	// The child's booking is written, uncommitted, and its row lock held.
	p.Kill(t)
	if n, rec, err := f.look("held"); n != 0 || !errors.Is(err, idemtype.ErrNotFound) {
		t.Fatalf("after the kill: %d ledger rows, record %+v, %v; want neither", n, rec, err)
	}
	// The server aborts the dead client's transaction as it notices the
	// closed socket; the next call polls the locked row until then.
	ctx := testCtx(t)
	g := idempotency.New(f.s, &idempotency.Config{OnDuplicate: idempotency.Wait})
	var runs atomic.Int64
	id, err := pgstore.DoTxSQL(ctx, g, "held", sqlInsert(f.table, "held", 1, &runs))
	if err != nil {
		t.Fatalf("DoTxSQL after the kill: %v", err)
	}
	if again, err := pgstore.DoTxSQL(ctx, g, "held", sqlInsert(f.table, "held", 1, &runs)); err != nil || again != id {
		t.Fatalf("second DoTxSQL after the kill = %d, %v; want %d", again, err, id)
	}
	if n, _, _ := f.look("held"); runs.Load() != 1 || n != 1 {
		t.Fatalf("after the kill fn ran %d times, ledger has %d rows; want 1 and 1", runs.Load(), n)
	}
	if id != 2 {
		t.Fatalf("ledger id = %d; want 2 (the killed child's insert used id 1 and rolled back)", id)
	}
}
