package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/pgstore"
	_ "github.com/jackc/pgx/v5/stdlib" // or any PostgreSQL driver for database/sql
)

// A payment booked exactly once through database/sql: the ledger row and
// the idempotency record commit in one *sql.Tx.
func ExampleDoTxSQL() {
	ctx := context.Background()
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := pgstore.NewDB(ctx, db, nil) // applies the schema
	if err != nil {
		log.Fatal(err)
	}
	g := idempotency.New(store, nil)

	id, err := pgstore.DoTxSQL(ctx, g, "payment:order-1042", func(ctx context.Context, tx *sql.Tx) (int64, error) {
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO ledger (account, cents) VALUES ($1, $2) RETURNING id`, "acct-7", 1999).Scan(&id)
		return id, err // never tx.Commit: DoTxSQL commits with the record
	}, idempotency.WithFingerprint("acct-7:1999"))
	if err != nil {
		log.Fatal(err)
	}
	log.Println("ledger row", id)
}

// What NewDB and DoTxSQL refuse before anything reaches the database.
func ExampleNewDB_errors() {
	ctx := context.Background()
	_, err := pgstore.NewDB(ctx, nil, nil)
	fmt.Println(err)

	db, err := sql.Open("pgx", "postgres://127.0.0.1:1/app") // sql.Open connects lazily
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	_, err = pgstore.NewDB(ctx, db, &pgstore.Options{Table: "Billing.Records"})
	fmt.Println(err)

	// DoTxSQL needs a guard built on a DBStore; fn does not run.
	mem := memstore.New(nil)
	defer mem.Close()
	_, err = pgstore.DoTxSQL(ctx, idempotency.New(mem, nil), "k", func(context.Context, *sql.Tx) (int, error) {
		panic("not run")
	})
	fmt.Println(errors.Is(err, pgstore.ErrWrongStore))
	// Output:
	// idempotency: pgstore: nil *sql.DB
	// idempotency: pgstore: invalid Options.Table "Billing.Records": want lower-case letters, digits and underscores, at most 48 per part
	// true
}
