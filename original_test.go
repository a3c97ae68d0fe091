package idempotency_test

// The behaviours of the Python original's README and tests, in Go.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

type invoice struct {
	Customer string
	Amount   int
}

func TestOriginalFirstCallRunsDuplicatesDoNot(t *testing.T) {
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

func TestOriginalCustomKeyIgnoresOtherArguments(t *testing.T) {
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

func TestOriginalRejectRaisesOnSecondCall(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, &idempotency.Config{OnDuplicate: idempotency.Reject})
	fn := func(ctx context.Context) (int, error) { return 1, nil }
	if _, err := idempotency.Do(context.Background(), g, "k", fn); err != nil {
		t.Fatal(err)
	}
	_, err := idempotency.Do(context.Background(), g, "k", fn)
	wantErr(t, err, idempotency.ErrDuplicate)
	if errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("duplicate of a completed call matches ErrInProgress: %v", err)
	}
}

func TestOriginalTTLExpiryAllowsRerun(t *testing.T) {
	t.Parallel()
	c := newClock()
	var runs counter
	g := newGuard(t, newStore(t, c), &idempotency.Config{TTL: time.Minute})
	fn := func(ctx context.Context) (int, error) { return runs.add("k"), nil }
	ctx := context.Background()
	for range 2 {
		if v, err := idempotency.Do(ctx, g, "k", fn); err != nil || v != 1 {
			t.Fatalf("within TTL = %d, %v; want 1", v, err)
		}
	}
	c.Advance(time.Minute + time.Second)
	if v, err := idempotency.Do(ctx, g, "k", fn); err != nil || v != 2 {
		t.Fatalf("after TTL = %d, %v; want a second run", v, err)
	}
}

type paymentDeclined struct{ Code string }

func (e *paymentDeclined) Error() string { return "declined: " + e.Code }

var errInsufficientFunds = errors.New("insufficient funds")

func TestOriginalFailureReleasedByDefault(t *testing.T) {
	t.Parallel()
	var runs counter
	g := newGuard(t, nil, nil)
	fn := func(ctx context.Context) (int, error) {
		if runs.add("k") == 1 {
			return 0, errInsufficientFunds
		}
		return 7, nil
	}
	if _, err := idempotency.Do(context.Background(), g, "k", fn); err != errInsufficientFunds {
		t.Fatalf("first call error = %v, want fn's error unchanged", err)
	}
	if v, err := idempotency.Do(context.Background(), g, "k", fn); err != nil || v != 7 {
		t.Fatalf("retry after a failure = %d, %v; want a second run", v, err)
	}
	if _, err := g.Lookup(context.Background(), "k"); err != nil {
		t.Fatalf("success not recorded: %v", err)
	}
}

func TestOriginalRememberFailureKeepsIdentity(t *testing.T) {
	t.Parallel()
	var runs counter
	g := newGuard(t, nil, &idempotency.Config{
		OnFailure:   idempotency.Remember,
		KnownErrors: []error{errInsufficientFunds},
	})
	fn := func(ctx context.Context) (int, error) {
		runs.add("k")
		return 0, fmt.Errorf("charging card 4242: %w", errInsufficientFunds)
	}
	_, first := idempotency.Do(context.Background(), g, "k", fn)
	_, second := idempotency.Do(context.Background(), g, "k", fn)
	if n := runs.get("k"); n != 1 {
		t.Fatalf("a remembered failure ran %d times", n)
	}
	wantErr(t, second, idempotency.ErrFailed, errInsufficientFunds)
	if second.Error() != first.Error() {
		t.Fatalf("replayed message %q, want the original %q", second.Error(), first.Error())
	}
	var fe *idempotency.FailedError
	if !errors.As(second, &fe) || fe.Key != "k" {
		t.Fatalf("replayed failure %T %v, want *FailedError for k", second, second)
	}
	// An error type that is not listed keeps its message, not its identity.
	_, err := idempotency.Do(context.Background(), g, "k2", func(ctx context.Context) (int, error) {
		return 0, &paymentDeclined{"do_not_honor"}
	})
	var pd *paymentDeclined
	if !errors.As(err, &pd) {
		t.Fatalf("first call error %v, want fn's own error", err)
	}
	_, err = idempotency.Do(context.Background(), g, "k2", func(ctx context.Context) (int, error) { return 1, nil })
	wantErr(t, err, idempotency.ErrFailed)
	if err.Error() != "declined: do_not_honor" || errors.Is(err, errInsufficientFunds) {
		t.Fatalf("replayed failure = %v", err)
	}
}

func TestOriginalTwoFunctionsShareAStore(t *testing.T) {
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

func TestOriginalArgumentOrder(t *testing.T) {
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
