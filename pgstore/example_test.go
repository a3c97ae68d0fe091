package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A payment booked exactly once: the ledger row and the idempotency
// record commit in one transaction, so a retry after a crash, a timeout
// or a duplicate request books nothing twice and returns the same id.
func ExampleDoTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(ctx, pool, nil) // applies the schema
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	g := idempotency.New(store, nil)

	id, err := pgstore.DoTx(ctx, g, "payment:order-1042", func(ctx context.Context, tx pgx.Tx) (int64, error) {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO ledger (account, cents) VALUES ($1, $2) RETURNING id`, "acct-7", 1999).Scan(&id)
		return id, err
	}, idempotency.WithFingerprint("acct-7:1999"))
	if err != nil {
		log.Fatal(err)
	}
	log.Println("ledger row", id)
}

// The Store alone, for effects outside the database: a first call costs
// two statements, a duplicate one.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(ctx, pool, &pgstore.Options{Table: "idempotency_records"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	g := idempotency.New(store, &idempotency.Config{OnDuplicate: idempotency.Wait})
	receipt, err := idempotency.Do(ctx, g, "email:welcome:user-42", func(ctx context.Context) (string, error) {
		return "sent", nil // send the e-mail here
	})
	log.Println(receipt, err)
}

// A handler behind idemhttp whose ledger row and stored response commit
// in one transaction: the client sees 201 only once both committed, and
// a retry after a crash books once.
func ExampleJoinTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(ctx, pool, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	g := idempotency.New(store, nil)

	mw := idemhttp.New(g, &idemhttp.Config{Join: pgstore.JoinTx})
	book := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tx, ok := pgstore.TxFromRequest(r) // false without an Idempotency-Key
		if !ok {
			http.Error(w, "an Idempotency-Key is required", http.StatusBadRequest)
			return
		}
		var id int64
		err := tx.QueryRow(r.Context(), `INSERT INTO ledger (account, cents) VALUES ($1, $2) RETURNING id`, "acct-7", 1999).Scan(&id)
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable) // released: the insert rolls back
			return
		}
		w.Header().Set("Location", fmt.Sprint("/payments/", id))
		w.WriteHeader(http.StatusCreated) // recorded, and committed with the row
	})
	log.Fatal(http.ListenAndServe(":8080", mw(book)))
}
