package idempotency_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// invoice is the argument of the Python original's README example, which
// Wrap and WrapKeyed serve here as its decorator did there.
type invoice struct {
	Customer string
	Amount   int
}

func TestWrapFirstCallRunsDuplicatesDoNot(t *testing.T) {
	t.Parallel()
	var runs counter
	g := newGuard(t, nil, nil)
	create := idempotency.Wrap(g, "create_invoice", func(ctx context.Context, inv invoice) (string, error) {
		n := runs.add("create")
		return fmt.Sprintf("inv-%d-%s-%d", n, inv.Customer, inv.Amount), nil
	})
	ctx := context.Background()
	first, err := create(ctx, invoice{"c1", 100})
	if err != nil || first != "inv-1-c1-100" {
		t.Fatalf("first call = %q, %v", first, err)
	}
	again, err := create(ctx, invoice{"c1", 100})
	if err != nil || again != first {
		t.Fatalf("same arguments = %q, %v; want the stored %q", again, err, first)
	}
	if n := runs.get("create"); n != 1 {
		t.Fatalf("function ran %d times for the same arguments", n)
	}
	other, err := create(ctx, invoice{"c1", 200})
	if err != nil || other != "inv-2-c1-200" {
		t.Fatalf("other arguments = %q, %v; want a new run", other, err)
	}
}

func TestWrapKeyedIgnoresOtherArguments(t *testing.T) {
	t.Parallel()
	var runs counter
	g := newGuard(t, nil, nil)
	charge := idempotency.WrapKeyed(g, func(inv invoice) string { return "charge:" + inv.Customer },
		func(ctx context.Context, inv invoice) (int, error) {
			runs.add("charge")
			return inv.Amount, nil
		})
	ctx := context.Background()
	if v, err := charge(ctx, invoice{"c1", 100}); err != nil || v != 100 {
		t.Fatalf("first = %d, %v", v, err)
	}
	// A different amount under the same custom key still gets the first
	// result: the key alone is the identity.
	if v, err := charge(ctx, invoice{"c1", 999}); err != nil || v != 100 {
		t.Fatalf("same key, other amount = %d, %v; want 100", v, err)
	}
	if n := runs.get("charge"); n != 1 {
		t.Fatalf("ran %d times", n)
	}
}

func TestWrapFunctionsShareAStore(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	double := idempotency.Wrap(g, "double", func(ctx context.Context, n int) (int, error) { return 2 * n, nil })
	square := idempotency.Wrap(g, "square", func(ctx context.Context, n int) (int, error) { return n * n, nil })
	ctx := context.Background()
	if v, _ := double(ctx, 3); v != 6 {
		t.Fatalf("double(3) = %d", v)
	}
	if v, _ := square(ctx, 3); v != 9 {
		t.Fatalf("square(3) = %d after double(3): functions share a key", v)
	}
}

func TestWrapArgumentOrder(t *testing.T) {
	t.Parallel()
	var runs counter
	g := newGuard(t, nil, nil)
	sum := idempotency.Wrap(g, "sum", func(ctx context.Context, a any) (int, error) {
		runs.add("sum")
		return 0, nil
	})
	ctx := context.Background()
	calls := []struct {
		arg  any
		runs int
	}{
		{[]int{1, 2}, 1},
		{[]int{2, 1}, 2}, // list order matters
		{map[string]int{"a": 1, "b": 2}, 3},
		{map[string]int{"b": 2, "a": 1}, 3}, // map order does not
	}
	for _, c := range calls {
		if _, err := sum(ctx, c.arg); err != nil {
			t.Fatal(err)
		}
		if n := runs.get("sum"); n != c.runs {
			t.Fatalf("after %v: %d runs, want %d", c.arg, n, c.runs)
		}
	}
}
