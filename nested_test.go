package idempotency_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// TestInheritedLeaseLostCause: a call whose own claim is intact, made with
// a context that ends with cause ErrLeaseLost (fn of an outer guarded
// call whose lease was lost, the nesting the pgstore docs allow), settles
// its claim like any other call: its fn's own failure follows the failure
// policy and a cancelled call is released. It is not taken for a call
// that lost its own claim, which would leave the key claimed until the
// lease lapses (and abandoned for good under NoTakeover).
func TestInheritedLeaseLostCause(t *testing.T) {
	t.Parallel()
	errDeclined := errors.New("declined")
	cases := []struct {
		name    string
		policy  idempotency.FailurePolicy
		fnErr   func(ctx context.Context) error
		want    func(t *testing.T, err error, runs int64)
		runsFor int64 // fn runs after the second call
	}{
		{"RememberOwnError", idempotency.Remember, func(context.Context) error { return errDeclined },
			func(t *testing.T, err error, _ int64) {
				if !errors.Is(err, idempotency.ErrFailed) {
					t.Fatalf("second call = %v; want the remembered failure (ErrFailed)", err)
				}
			}, 1},
		{"ReleaseOwnError", idempotency.Release, func(context.Context) error { return errDeclined },
			func(t *testing.T, err error, _ int64) {
				if err != nil {
					t.Fatalf("second call = %v; want a new run (the failure was released)", err)
				}
			}, 2},
		{"ReleaseCancelled", idempotency.Remember, func(ctx context.Context) error { return ctx.Err() },
			func(t *testing.T, err error, _ int64) {
				if err != nil {
					t.Fatalf("second call = %v; want a new run (the cancelled call was released)", err)
				}
			}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := idempotency.New(newStore(t, nil), &idempotency.Config{
				OnFailure: tc.policy, NoTakeover: true, WaitTimeout: -1, // an in-progress key answers at once
			})
			var runs atomic.Int64
			// The outer call's lease is lost while the inner call runs:
			// its fn's context, the inner call's parent, ends with that
			// cause.
			outer, lose := context.WithCancelCause(context.Background())
			_, err := idempotency.Do(outer, g, "inner", func(ctx context.Context) (int, error) {
				runs.Add(1)
				lose(idempotency.ErrLeaseLost)
				<-ctx.Done()
				return 0, tc.fnErr(ctx)
			})
			if err == nil {
				t.Fatal("first call succeeded; want its fn's error")
			}
			_, err = idempotency.Do(context.Background(), g, "inner", func(context.Context) (int, error) {
				runs.Add(1)
				return 1, nil
			})
			tc.want(t, err, runs.Load())
			if n := runs.Load(); n != tc.runsFor {
				t.Fatalf("fn ran %d times; want %d", n, tc.runsFor)
			}
		})
	}
}

// settleCounter counts the writes that settle a claim.
type settleCounter struct {
	*memstore.Store
	settles atomic.Int64
}

func (s *settleCounter) Complete(ctx context.Context, key string, tok idempotency.Token, out idempotency.Outcome) error {
	s.settles.Add(1)
	return s.Store.Complete(ctx, key, tok, out)
}

func (s *settleCounter) Release(ctx context.Context, key string, tok idempotency.Token) error {
	s.settles.Add(1)
	return s.Store.Release(ctx, key, tok)
}

// TestLostClaimIsNotSettled: once renewal finds the claim gone, the key is
// no longer this execution's to write, whatever fn returns and whatever
// the failure policy: no completion, no release.
func TestLostClaimIsNotSettled(t *testing.T) {
	t.Parallel()
	for _, policy := range []idempotency.FailurePolicy{idempotency.Release, idempotency.Remember} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			s := &settleCounter{Store: newStore(t, nil)}
			g := newGuard(t, s, &idempotency.Config{Lease: 30 * time.Millisecond, OnFailure: policy})
			errOwn := errors.New("declined")
			_, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (int, error) {
				_ = g.Forget(context.Background(), "k") // an operator deletes the record mid-run
				<-ctx.Done()
				return 0, errOwn
			})
			if !errors.Is(err, errOwn) {
				t.Fatalf("Do = %v, want fn's error", err)
			}
			if n := s.settles.Load(); n != 0 {
				t.Fatalf("%d settling writes after the claim was lost, want 0", n)
			}
		})
	}
}
