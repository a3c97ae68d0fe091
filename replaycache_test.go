package idempotency_test

import (
	"context"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// Replayed results are the callers' own: mutating one cannot change what
// the next duplicate gets, and a key run again replays its new result.
func TestReplaysAreIndependent(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	ctx := context.Background()
	mk := func(context.Context) ([]int, error) { return []int{1, 2, 3}, nil }
	_, _ = idempotency.Do(ctx, g, "slice", mk)
	a, _ := idempotency.Do(ctx, g, "slice", mk)
	a[0] = 99
	if b, _ := idempotency.Do(ctx, g, "slice", mk); b[0] != 1 {
		t.Fatalf("a caller's mutation reached another caller: %v", b)
	}

	type receipt struct {
		ID     string
		Amount int
	}
	n := 0
	fn := func(context.Context) (receipt, error) { n++; return receipt{"r", n}, nil }
	for range 3 {
		if r, _ := idempotency.Do(ctx, g, "k", fn); r.Amount != 1 {
			t.Fatalf("replay = %+v, want the first result", r)
		}
	}
	if err := g.Forget(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r, _ := idempotency.Do(ctx, g, "k", fn); r.Amount != 2 {
			t.Fatalf("replay after the key ran again = %+v, want the new result", r)
		}
	}
	// The same key read as another type decodes afresh.
	if _, err := idempotency.Do(ctx, g, "k", func(context.Context) (struct{ ID string }, error) {
		t.Error("ran again")
		return struct{ ID string }{}, nil
	}); err != nil {
		t.Fatal(err)
	}
}
