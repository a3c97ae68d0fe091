// Command quickstart is the create-invoice story: a payment function
// guarded so that retries and concurrent duplicates charge the card once.
// It prints how many charges really happened and exits non-zero if that
// is wrong.
package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idempotency-go/idempotency"
)

type Invoice struct {
	Customer string
	Amount   int // cents
}

type Receipt struct {
	ID     string
	Amount int
}

var charges atomic.Int64 // the side effect we must not repeat

func chargeCard(ctx context.Context, inv Invoice) (Receipt, error) {
	n := charges.Add(1)
	time.Sleep(20 * time.Millisecond) // the payment provider is slow
	return Receipt{ID: fmt.Sprintf("ch_%d", n), Amount: inv.Amount}, nil
}

func main() {
	ctx := context.Background()
	g := idempotency.New(nil, &idempotency.Config{TTL: time.Hour}) // in-memory store
	defer g.Close()

	// The key is derived from the function's name and its argument.
	createInvoice := idempotency.Wrap(g, "create-invoice", chargeCard)

	inv := Invoice{Customer: "alice", Amount: 4200}
	first, err := createInvoice(ctx, inv)
	check(err)
	fmt.Printf("first call:   receipt %s, charges so far %d\n", first.ID, charges.Load())

	retry, err := createInvoice(ctx, inv) // a client retry after a timeout
	check(err)
	fmt.Printf("retry:        receipt %s, charges so far %d\n", retry.ID, charges.Load())

	// 50 concurrent duplicates of a new invoice: one runs, 49 wait for it.
	dup := Invoice{Customer: "bob", Amount: 990}
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := createInvoice(ctx, dup)
			check(err)
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			fail("concurrent duplicates got different receipts: %s and %s", ids[0], id)
		}
	}
	fmt.Printf("50 duplicates: receipt %s, charges so far %d\n", ids[0], charges.Load())

	other, err := createInvoice(ctx, Invoice{Customer: "alice", Amount: 100})
	check(err)
	fmt.Printf("other amount: receipt %s, charges so far %d\n", other.ID, charges.Load())

	if first.ID != retry.ID {
		fail("the retry got receipt %s, want %s", retry.ID, first.ID)
	}
	if n := charges.Load(); n != 3 {
		fail("%d charges for 3 distinct invoices", n)
	}
	fmt.Println("OK: 3 distinct invoices, 3 charges")
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}
