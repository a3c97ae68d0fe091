package idempotency_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// MaxExecution stops renewing fn's lease and cancels fn's context with
// ErrMaxExecution; what fn returns then is settled like a cancelled call
// (its context's error releases the key) or a finished one.
func TestMaxExecution(t *testing.T) {
	t.Parallel()
	const lease, limit = 30 * time.Second, 25 * time.Second
	tests := []struct {
		name   string
		policy idempotency.FailurePolicy
		ret    func(ctx context.Context) (int, error)
		want   string // the record left: none, completed, failed
	}{
		{"ReturnsCause", idempotency.Remember, func(ctx context.Context) (int, error) { return 0, context.Cause(ctx) }, "none"},
		{"ReturnsCtxErr", idempotency.Remember, func(ctx context.Context) (int, error) { return 0, ctx.Err() }, "none"},
		{"ReturnsWrapped", idempotency.Remember, func(ctx context.Context) (int, error) { return 0, wrapf(context.Cause(ctx)) }, "none"},
		{"ReturnsValue", idempotency.Remember, func(ctx context.Context) (int, error) { return 7, nil }, "completed"},
		{"ReturnsOwnError", idempotency.Remember, func(ctx context.Context) (int, error) { return 0, errDeclined }, "failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			s := newExtendLog(t, newStore(t, c))
			g := idempotency.NewAt(s, &idempotency.Config{Lease: lease, MaxExecution: limit, OnFailure: tc.policy,
				Logger: slog.New(slog.DiscardHandler)}, c)
			ctxs, release, done := make(chan context.Context, 1), make(chan struct{}), make(chan error, 1)
			go func() {
				_, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (int, error) {
					ctxs <- ctx
					<-release
					return tc.ret(ctx)
				})
				done <- err
			}()
			fnCtx := receive(t, ctxs, "start of fn")
			for _, step := range []time.Duration{lease / 3, lease / 3, limit - 2*lease/3 - 1} {
				c.Advance(step)
				idempotency.WaitRenewals(t, g)
				if fnCtx.Err() != nil {
					t.Fatalf("fn cancelled before MaxExecution: %v", context.Cause(fnCtx))
				}
			}
			c.Advance(1)
			receive(t, fnCtx.Done(), "cancellation at MaxExecution")
			if cause := context.Cause(fnCtx); cause != idempotency.ErrMaxExecution {
				t.Fatalf("cause %v, want ErrMaxExecution", cause)
			}
			// No renewal after MaxExecution, while fn still runs.
			c.Advance(lease / 3)
			idempotency.WaitRenewals(t, g)
			if n := s.count("k"); n != 2 {
				t.Fatalf("%d renewals, want 2: renewed past MaxExecution", n)
			}
			close(release)
			receive(t, done, "outcome")
			if st := (&obsEnv{g: g}).status("k"); st != tc.want {
				t.Fatalf("record %s, want %s", st, tc.want)
			}
			if idempotency.RenewalsArmed(g) || c.Armed() != 0 {
				t.Fatal("a timer is still armed after the call ended")
			}
		})
	}
}

func wrapf(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "charge: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// blockingExtend holds every renewal until let is closed.
type blockingExtend struct {
	idempotency.Store
	entered chan struct{}
	let     chan struct{}
	extends atomic.Int32
}

func (s *blockingExtend) Extend(ctx context.Context, key string, tok idempotency.Token, lease time.Duration) error {
	s.extends.Add(1)
	s.entered <- struct{}{}
	<-s.let
	return s.Store.Extend(ctx, key, tok, lease)
}

// A renewal in flight when MaxExecution passes is the last one.
func TestMaxExecutionDuringRenewal(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	c := newClock()
	s := &blockingExtend{Store: newStore(t, c), entered: make(chan struct{}, 1), let: make(chan struct{})}
	g := idempotency.NewAt(s, &idempotency.Config{Lease: lease, MaxExecution: lease / 3, Logger: slog.New(slog.DiscardHandler)}, c)
	fnCtx, release, done := blocked(t, g, "k")
	c.Advance(lease / 3) // the renewal and the limit are due together
	receive(t, s.entered, "renewal")
	receive(t, fnCtx.Done(), "cancellation at MaxExecution")
	close(s.let)
	idempotency.WaitRenewals(t, g)
	c.Advance(lease / 3)
	idempotency.WaitRenewals(t, g)
	if n := s.extends.Load(); n != 1 {
		t.Fatalf("%d renewals, want 1: renewed past MaxExecution", n)
	}
	close(release)
	receive(t, done, "outcome")
}
