package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// fn's context behaves as a context cancelled with the claim, whether or
// not fn asked for its Done channel before it was cancelled: the guard
// makes the cancellation only when it is first needed.

type ctxKey struct{}

// done reports whether ctx's Done channel is closed.
func done(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// fn's context ends with the call, as one of its own would: goroutines fn
// left behind with it stop.
func TestFnContextEndsWithCall(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		before func(t *testing.T, ctx context.Context) // what fn does with its context
	}{
		{"Untouched", func(*testing.T, context.Context) {}},
		{"DoneAsked", func(t *testing.T, ctx context.Context) {
			if done(ctx) {
				t.Error("done while fn runs")
			}
		}},
		{"Derived", func(_ *testing.T, ctx context.Context) { _ = context.AfterFunc(ctx, func() {}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGuard(t, nil, nil)
			var fnCtx context.Context
			_, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (int, error) {
				fnCtx = ctx
				c.before(t, ctx)
				if err := ctx.Err(); err != nil { // Err alone makes no cancellation
					t.Errorf("while fn runs: Err %v", err)
				}
				return 1, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := fnCtx.Err(); err != context.Canceled {
				t.Fatalf("after the call: Err %v, want context.Canceled", err)
			}
			if !done(fnCtx) {
				t.Fatal("after the call: Done not closed")
			}
			if cause := context.Cause(fnCtx); cause != context.Canceled {
				t.Fatalf("after the call: cause %v, want context.Canceled", cause)
			}
			if tok, ok := idempotency.TokenFrom(fnCtx); !ok || tok == 0 {
				t.Fatalf("after the call: token %v, %v", tok, ok)
			}
		})
	}
}

// The caller's cancellation, deadline and values reach fn, asked for
// before or after the caller cancels.
func TestFnContextFollowsParent(t *testing.T) {
	t.Parallel()
	for _, askDone := range []bool{false, true} {
		name := map[bool]string{false: "ErrFirst", true: "DoneFirst"}[askDone]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := newGuard(t, nil, nil)
			cause := errors.New("caller gave up")
			deadline := time.Now().Add(time.Hour)
			parent, cancelDeadline := context.WithDeadline(context.WithValue(context.Background(), ctxKey{}, "v"), deadline)
			defer cancelDeadline()
			parent, cancel := context.WithCancelCause(parent)
			ran := 0
			_, err := idempotency.Do(parent, g, "k", func(ctx context.Context) (int, error) {
				ran++
				if askDone && done(ctx) {
					t.Error("done before the caller cancelled")
				}
				if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
					t.Errorf("deadline %v, %v; want %v", d, ok, deadline)
				}
				if v := ctx.Value(ctxKey{}); v != "v" {
					t.Errorf("value %v, want the caller's", v)
				}
				cancel(cause)
				if !done(ctx) || ctx.Err() != context.Canceled || context.Cause(ctx) != cause {
					t.Errorf("after the caller cancelled: done %v, Err %v, cause %v", done(ctx), ctx.Err(), context.Cause(ctx))
				}
				return 0, ctx.Err()
			})
			if !errors.Is(err, context.Canceled) || ran != 1 {
				t.Fatalf("Do = %v after %d runs; want context.Canceled after 1", err, ran)
			}
			// A cancelled call is not a failure: the key is free again.
			if _, err := g.Lookup(context.Background(), "k"); !errors.Is(err, idempotency.ErrNotFound) {
				t.Fatalf("Lookup after a cancelled call = %v, want ErrNotFound", err)
			}
		})
	}
}

// A claim lost while fn runs cancels fn's context with ErrLeaseLost, and
// every context derived from it, whether fn had asked for Done or not.
func TestFnContextLeaseLost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		derive bool // fn derives a context before the claim is lost
	}{
		{"Untouched", false},
		{"Derived", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const lease = 30 * time.Second
			clk := newClock()
			g := newGuardAt(t, newStore(t, clk), &idempotency.Config{Lease: lease}, clk)
			ctxs, release, result := make(chan context.Context, 1), make(chan struct{}), make(chan error, 1)
			go func() {
				_, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (int, error) {
					if c.derive {
						var cancel context.CancelFunc
						ctx, cancel = context.WithCancel(ctx)
						defer cancel()
					}
					ctxs <- ctx
					<-release
					return 1, nil
				})
				result <- err
			}()
			fnCtx := receive(t, ctxs, "start of fn")
			if err := g.Forget(context.Background(), "k"); err != nil {
				t.Fatal(err)
			}
			clk.Advance(lease / 3) // the renewal finds the claim gone
			idempotency.WaitRenewals(t, g)
			if !done(fnCtx) || fnCtx.Err() != context.Canceled {
				t.Fatalf("claim lost: done %v, Err %v; want cancelled", done(fnCtx), fnCtx.Err())
			}
			if cause := context.Cause(fnCtx); !errors.Is(cause, idempotency.ErrLeaseLost) {
				t.Fatalf("cause %v, want ErrLeaseLost", cause)
			}
			close(release)
			wantErr(t, receive(t, result, "outcome"), idempotency.ErrNotRecorded, idempotency.ErrLeaseLost)
		})
	}
}
