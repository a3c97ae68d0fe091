package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// A full store refuses new keys and the guard does not run fn; keys it
// holds are still answered.
func ExampleOptions_maxRecords() {
	s := memstore.New(&memstore.Options{MaxRecords: 1})
	defer s.Close()
	g := idempotency.New(s, nil)
	ctx := context.Background()
	charge := func(id string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return "charged " + id, nil }
	}

	v, err := idempotency.Do(ctx, g, "order-1", charge("order-1"))
	fmt.Println(v, err)
	_, err = idempotency.Do(ctx, g, "order-2", charge("order-2"))
	fmt.Println(errors.Is(err, idempotency.ErrStore), errors.Is(err, memstore.ErrFull))
	v, err = idempotency.Do(ctx, g, "order-1", charge("order-1"))
	fmt.Println(v, err)
	// Output:
	// charged order-1 <nil>
	// true true
	// charged order-1 <nil>
}
