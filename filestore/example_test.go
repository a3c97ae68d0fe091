//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
)

// Every process of the host that opens the same directory shares the
// records: a second run of this program, or another worker, replays the
// stored result instead of charging again.
func Example() {
	dir, err := os.MkdirTemp("", "idem")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := filestore.New(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	g := idempotency.New(store, nil)

	charge := func(ctx context.Context) (string, error) {
		fmt.Println("charging order 42")
		return "receipt-42", nil
	}
	for range 2 {
		receipt, err := idempotency.Do(context.Background(), g, "charge:order-42", charge)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(receipt)
	}
	// Output:
	// charging order 42
	// receipt-42
	// receipt-42
}
