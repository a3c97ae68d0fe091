package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// limitError is an error type used by value, not by pointer.
type limitError struct {
	Limit, Asked int
}

func (e limitError) Error() string { return fmt.Sprintf("over limit: %d > %d", e.Asked, e.Limit) }

// panicky's MarshalJSON panics.
type panicky struct{}

func (panicky) Error() string                { return "panicky" }
func (panicky) MarshalJSON() ([]byte, error) { panic("MarshalJSON bug") }

// nilSafe is an error whose nil pointer is usable.
type nilSafe struct{ Code string }

func (e *nilSafe) Error() string {
	if e == nil {
		return "no code"
	}
	return e.Code
}

// unencodable cannot be JSON-encoded (a channel field).
type unencodable struct{ C chan int }

func (unencodable) Error() string { return "unencodable" }

// Errors of KnownErrorTypes come back from a remembered failure with their
// data, for errors.As; other types keep their message only.
func TestRememberedFailureKeepsKnownTypes(t *testing.T) {
	t.Parallel()
	cfg := &idempotency.Config{
		OnFailure:       idempotency.Remember,
		KnownErrors:     []error{errInsufficientFunds},
		KnownErrorTypes: []error{(*paymentDeclined)(nil), limitError{}, unencodable{}, panicky{}, (*nilSafe)(nil)},
	}
	tests := []struct {
		name  string
		err   error
		check func(t *testing.T, replayed error)
	}{
		{"pointer type, wrapped", fmt.Errorf("charge: %w", &paymentDeclined{Code: "do_not_honor"}), func(t *testing.T, got error) {
			var pd *paymentDeclined
			if !errors.As(got, &pd) || pd.Code != "do_not_honor" {
				t.Fatalf("errors.As *paymentDeclined = %v (%+v)", errors.As(got, &pd), pd)
			}
		}},
		{"value type", limitError{Limit: 100, Asked: 250}, func(t *testing.T, got error) {
			var le limitError
			if !errors.As(got, &le) || le != (limitError{100, 250}) {
				t.Fatalf("errors.As limitError = %v (%+v)", errors.As(got, &le), le)
			}
		}},
		{"sentinel and type together", errors.Join(errInsufficientFunds, &paymentDeclined{Code: "nsf"}), func(t *testing.T, got error) {
			var pd *paymentDeclined
			if !errors.Is(got, errInsufficientFunds) || !errors.As(got, &pd) || pd.Code != "nsf" {
				t.Fatalf("replayed %v lost the sentinel or the type", got)
			}
		}},
		{"unencodable value keeps the message", unencodable{C: make(chan int)}, func(t *testing.T, got error) {
			var u unencodable
			if errors.As(got, &u) {
				t.Fatal("an unencodable error came back typed")
			}
		}},
		{"panicking MarshalJSON keeps the message", panicky{}, func(t *testing.T, got error) {
			var p panicky
			if errors.As(got, &p) {
				t.Fatal("an error whose MarshalJSON panicked came back typed")
			}
		}},
		{"nil pointer keeps the message", fmt.Errorf("charge: %w", (*nilSafe)(nil)), func(t *testing.T, got error) {
			var ns *nilSafe
			if errors.As(got, &ns) {
				t.Fatalf("a nil *nilSafe came back as %+v", ns)
			}
		}},
		{"unlisted type keeps the message", fmt.Errorf("x: %w", errors.ErrUnsupported), func(t *testing.T, got error) {
			if errors.Is(got, errors.ErrUnsupported) {
				t.Fatal("an unlisted sentinel kept its identity")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGuard(t, nil, cfg)
			var runs counter
			fn := func(context.Context) (int, error) { runs.add("k"); return 0, tc.err }
			_, first := idempotency.Do(context.Background(), g, "k", fn)
			if first != tc.err {
				t.Fatalf("first call returned %v, want fn's own error", first)
			}
			_, got := idempotency.Do(context.Background(), g, "k", fn)
			if runs.get("k") != 1 {
				t.Fatalf("a remembered failure ran %d times", runs.get("k"))
			}
			wantErr(t, got, idempotency.ErrFailed)
			if got.Error() != tc.err.Error() {
				t.Fatalf("replayed message %q, want %q", got.Error(), tc.err.Error())
			}
			tc.check(t, got)
		})
	}
}

// A stored failure whose typed data no longer fits its type (the type
// changed since it was recorded), or names a type not listed (another
// package's type of the same name included), replays with its message and
// whatever still decodes.
func TestRememberedFailureTypeChanged(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	g := newGuard(t, s, &idempotency.Config{
		OnFailure:       idempotency.Remember,
		KnownErrorTypes: []error{limitError{}, (*paymentDeclined)(nil)},
	})
	ctx := context.Background()
	c, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stored := `{"message":"over limit","typed":[` +
		`{"type":"github.com/idempotency-go/idempotency_test.limitError","data":{"Limit":"not a number"}},` +
		`{"type":"github.com/idempotency-go/idempotency_test.gone","data":{}},` +
		`{"type":"*other.example/errs.paymentDeclined","data":{"Code":"other package"}},` +
		`{"type":"*github.com/idempotency-go/idempotency_test.paymentDeclined","data":{"Code":"nsf"}}]}`
	if err := s.Complete(ctx, "k", c.Record.Token, idempotency.Outcome{Status: idempotency.StatusFailed, Value: []byte(stored), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, got := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) {
		t.Error("a remembered failure ran fn")
		return 1, nil
	})
	wantErr(t, got, idempotency.ErrFailed)
	var le limitError
	var pd *paymentDeclined
	if got.Error() != "over limit" || errors.As(got, &le) || !errors.As(got, &pd) || pd.Code != "nsf" {
		t.Fatalf("replay %v: limitError %v, paymentDeclined %+v", got, errors.As(got, &le), pd)
	}
}

func TestKnownErrorTypesUntypedNilPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "KnownErrorTypes[1]") {
			t.Fatalf("panic %v, want one naming KnownErrorTypes[1]", p)
		}
	}()
	idempotency.New(nil, &idempotency.Config{KnownErrorTypes: []error{limitError{}, nil}})
}

var errDeclined = errors.New("card declined")

// Under Remember, only the caller's context ending releases the key: an
// error of fn's own is remembered even when the caller's context ended
// before fn returned, or the next call would run fn again (a declined
// payment charged twice).
func TestRememberWhenCallerContextEnded(t *testing.T) {
	t.Parallel()
	errGone := errors.New("client went away")
	tests := []struct {
		name string
		// end ends the caller's context (cancel or cause), as fn runs.
		cause error // nil: a plain cancel
		// fnErr makes fn's error from the caller's context.
		fnErr    func(ctx context.Context) error
		released bool
	}{
		{"CtxErr", nil, func(ctx context.Context) error { return ctx.Err() }, true},
		{"WrappedCtxErr", nil, func(ctx context.Context) error { return fmt.Errorf("charge: %w", ctx.Err()) }, true},
		{"Cause", errGone, func(ctx context.Context) error { return context.Cause(ctx) }, true},
		{"CtxErrWithCause", errGone, func(ctx context.Context) error { return ctx.Err() }, true},
		{"WrappedCause", errGone, func(ctx context.Context) error { return fmt.Errorf("charge: %w", context.Cause(ctx)) }, true},
		{"JoinedWithCtxErr", nil, func(ctx context.Context) error { return errors.Join(errDeclined, ctx.Err()) }, true},
		{"OwnError", nil, func(context.Context) error { return errDeclined }, false},
		{"OwnErrorWithCause", errGone, func(context.Context) error { return errDeclined }, false},
		{"WrappedOwnError", nil, func(context.Context) error { return fmt.Errorf("charge: %w", errDeclined) }, false},
		{"JoinedOwnErrors", nil, func(context.Context) error { return errors.Join(errDeclined, errInsufficientFunds) }, false},
		{"OwnDeadlineNotCallers", nil, func(context.Context) error { return fmt.Errorf("bank: %w", context.DeadlineExceeded) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGuard(t, nil, &idempotency.Config{OnFailure: idempotency.Remember})
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			var runs counter
			fn := func(fctx context.Context) (int, error) {
				runs.add("k")
				cancel(tc.cause) // the caller gives up as fn finishes
				return 0, tc.fnErr(ctx)
			}
			_, err := idempotency.Do(ctx, g, "k", fn)
			if err == nil {
				t.Fatal("Do = nil error, want fn's")
			}
			_, lerr := g.Lookup(context.Background(), "k")
			_, again := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
				runs.add("k")
				return 1, nil
			})
			if tc.released {
				wantErr(t, lerr, idempotency.ErrNotFound)
				if again != nil || runs.get("k") != 2 {
					t.Fatalf("retry = %v after %d runs; want the released key to run again", again, runs.get("k"))
				}
				return
			}
			if lerr != nil {
				t.Fatalf("fn's own error %v was not remembered: %v", err, lerr)
			}
			wantErr(t, again, idempotency.ErrFailed)
			if again.Error() != err.Error() || runs.get("k") != 1 {
				t.Fatalf("retry = %v after %d runs; want the remembered %q and one run", again, runs.get("k"), err)
			}
		})
	}
}
