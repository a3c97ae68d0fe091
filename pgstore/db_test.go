package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/idempotency-go/idempotency/storetest"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// newSQLDB returns a database/sql handle on dsn through pgx's stdlib
// driver, closed in cleanup.
func newSQLDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	return db
}

// newDBStore returns a DBStore on its own fresh table of the shared
// database.
func newDBStore(t testing.TB, db *sql.DB, opts *pgstore.Options) *pgstore.DBStore {
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
	s, err := pgstore.NewDB(ctx, db, &o)
	if err != nil {
		t.Fatalf("NewDB: %v", err)
	}
	return s
}

func TestDBConformance(t *testing.T) {
	t.Parallel()
	db := newSQLDB(t, dsn)
	storetest.Run(t, func(t *testing.T) idemtype.Store { return newDBStore(t, db, nil) })
}

// TestDBSharesTableWithStore: both entry points use one schema and one
// set of statements, so a record written through either is the other's.
func TestDBSharesTableWithStore(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pool := newPool(t, dsn)
	ps := newStore(t, pool, nil)
	ds := newDBStore(t, newSQLDB(t, dsn), &pgstore.Options{Table: strings.Trim(ps.Table(), `"`), ManualMigrate: true})
	pg, dg := idempotency.New(ps, nil), idempotency.New(ds, nil)
	runs := 0
	fn := func(context.Context) (string, error) { runs++; return fmt.Sprint("run ", runs), nil }
	for i, g := range []*idempotency.Guard{pg, dg, pg, dg} {
		v, err := idempotency.Do(ctx, g, "shared", fn)
		if err != nil || v != "run 1" {
			t.Fatalf("call %d = %q, %v; want the first run's result", i, v, err)
		}
	}
	c, err := ds.Claim(ctx, idemtype.ClaimRequest{Key: "other", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !c.Acquired {
		t.Fatalf("DBStore claim = %+v, %v", c, err)
	}
	if err := ps.Complete(ctx, "other", c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(`"x"`), TTL: time.Hour}); err != nil {
		t.Fatalf("Store completes the DBStore's claim: %v", err)
	}
	if rec, err := ds.Get(ctx, "other"); err != nil || rec.Status != idemtype.StatusCompleted || string(rec.Value) != `"x"` {
		t.Fatalf("DBStore reads %+v, %v", rec, err)
	}
}

// TestDBErrorLabels: as TestErrorLabels, through database/sql: every
// operation names itself and the key, and keeps the driver's error.
func TestDBErrorLabels(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	db := newSQLDB(t, dsn)
	s := newDBStore(t, db, nil)
	g := idempotency.New(s, nil)
	if _, err := db.ExecContext(ctx, `DROP TABLE `+s.Table()); err != nil {
		t.Fatal(err)
	}
	checkLabels(t, labelCases(ctx, s, g, func() error {
		_, err := pgstore.DoTxSQL(ctx, g, "k", func(context.Context, *sql.Tx) (int, error) { return 1, nil })
		return err
	}))
}

// TestNewDBSchema: NewDB migrates as New does, and with ManualMigrate
// refuses a database without the schema.
func TestNewDBSchema(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	db := newSQLDB(t, dsn)
	table := fmt.Sprintf("records_%d", tables.Add(1))
	if _, err := pgstore.NewDB(ctx, db, &pgstore.Options{Table: table, ManualMigrate: true}); !errors.Is(err, pgstore.ErrSchema) {
		t.Fatalf("NewDB(ManualMigrate) on an empty database = %v; want ErrSchema", err)
	}
	s := newDBStore(t, db, &pgstore.Options{Table: table})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if _, err := db.ExecContext(ctx, `DROP INDEX `+table+`_expires_idx`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.NewDB(ctx, db, &pgstore.Options{Table: table, ManualMigrate: true}); !errors.Is(err, pgstore.ErrSchema) || !strings.Contains(err.Error(), "index") {
		t.Fatalf("NewDB(ManualMigrate) without the index = %v; want ErrSchema naming it", err)
	}
	if _, err := pgstore.NewDB(ctx, db, &pgstore.Options{Table: table}); err != nil {
		t.Fatalf("NewDB recreating the index: %v", err)
	}
	if _, err := pgstore.NewDB(ctx, db, &pgstore.Options{Table: table, ManualMigrate: true}); err != nil {
		t.Fatalf("NewDB(ManualMigrate) after the repair: %v", err)
	}
}
