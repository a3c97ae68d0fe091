package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

type ctxMark struct{}

// recorder is a CallObserver that keeps every event and marks the context
// its Start returns.
type recorder struct {
	mu     sync.Mutex
	events []idempotency.Event
	marked []bool // per event: did it come with Start's context
}

func (r *recorder) Start(ctx context.Context, e idempotency.Event) context.Context {
	r.Observe(ctx, e)
	return context.WithValue(ctx, ctxMark{}, true)
}

func (r *recorder) Observe(ctx context.Context, e idempotency.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.marked = append(r.marked, ctx.Value(ctxMark{}) != nil)
}

func (r *recorder) take() ([]idempotency.Event, []bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, m := r.events, r.marked
	r.events, r.marked = nil, nil
	return e, m
}

// TestCallObserverResults checks that every call is framed by one
// EventStart and one EventEnd carrying its Result, that every event between
// them comes with Start's context, and that store operations are timed.
func TestCallObserverResults(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	store := newStore(t, nil)
	faulty := &faultyStore{Store: store}
	g := newGuard(t, faulty, &idempotency.Config{Observer: rec, OnFailure: idempotency.Remember})
	ctx := context.Background()
	errNo := errors.New("no")
	ok := func(ctx context.Context) (int, error) {
		if ctx.Value(ctxMark{}) == nil {
			t.Error("fn's context does not derive from Start's")
		}
		return 1, nil
	}
	held, err := store.Claim(ctx, idempotency.ClaimRequest{Key: "k:held", Lease: time.Hour, TTL: time.Hour})
	if err != nil || !held.Acquired {
		t.Fatal(held, err)
	}
	for _, tc := range []struct {
		name string
		key  string
		fn   func(context.Context) (int, error)
		opts []idempotency.CallOption
		down bool
		want idempotency.Result
		ops  []string
	}{
		{name: "executed", key: "k:1", fn: ok, want: idempotency.ResultExecuted, ops: []string{"claim", "complete"}},
		{name: "replayed", key: "k:1", fn: ok, want: idempotency.ResultReplayed, ops: []string{"claim"}},
		{name: "key reused", key: "k:1", fn: ok, opts: []idempotency.CallOption{idempotency.WithFingerprint(1)}, want: idempotency.ResultKeyReused, ops: []string{"claim"}},
		{name: "fn failed", key: "k:2", fn: func(context.Context) (int, error) { return 0, errNo }, want: idempotency.ResultExecuted, ops: []string{"claim", "complete"}},
		{name: "failure replayed", key: "k:2", fn: ok, want: idempotency.ResultFailed, ops: []string{"claim"}},
		{name: "in progress", key: "k:held", fn: ok, opts: []idempotency.CallOption{idempotency.WithWaitTimeout(-1)}, want: idempotency.ResultConflict, ops: []string{"claim"}},
		{name: "invalid key", key: "", fn: ok, want: idempotency.ResultInvalidKey},
		{name: "store down", key: "k:3", fn: ok, down: true, want: idempotency.ResultStoreError, ops: []string{"claim"}},
		{name: "not recorded", key: "k:4", fn: func(context.Context) (int, error) {
			faulty.set(&faulty.complete, errDown)
			return 1, nil
		}, want: idempotency.ResultStoreError, ops: []string{"claim", "complete"}},
		{name: "lease lost", key: "k:5", fn: func(ctx context.Context) (int, error) {
			return 1, g.Forget(ctx, "k:5")
		}, want: idempotency.ResultLeaseLost, ops: []string{"claim", "delete", "complete"}},
	} {
		if tc.down {
			faulty.set(&faulty.claim, errDown)
		}
		_, _ = idempotency.Do(ctx, g, tc.key, tc.fn, tc.opts...)
		faulty.set(&faulty.claim, nil)
		faulty.set(&faulty.complete, nil)
		events, marked := rec.take()
		if len(events) < 2 || events[0].Kind != idempotency.EventStart || events[len(events)-1].Kind != idempotency.EventEnd {
			t.Errorf("%s: events %v, want EventStart ... EventEnd", tc.name, events)
			continue
		}
		end := events[len(events)-1]
		if end.Result != tc.want {
			t.Errorf("%s: result %q, want %q", tc.name, end.Result, tc.want)
		}
		if tc.key != "" && end.Name != "k" {
			t.Errorf("%s: name %q, want k", tc.name, end.Name)
		}
		var ops []string
		for i, e := range events {
			if i > 0 && !marked[i] {
				t.Errorf("%s: event %v without Start's context", tc.name, e.Kind)
			}
			if e.Kind == idempotency.EventStore {
				ops = append(ops, e.Op)
			}
		}
		if len(ops) != len(tc.ops) {
			t.Errorf("%s: store operations %v, want %v", tc.name, ops, tc.ops)
			continue
		}
		for i := range ops {
			if ops[i] != tc.ops[i] {
				t.Errorf("%s: store operations %v, want %v", tc.name, ops, tc.ops)
				break
			}
		}
	}
	if g.Store() != idempotency.Store(faulty) {
		t.Error("Store() does not return the store given to New")
	}
}

func TestKeyName(t *testing.T) {
	t.Parallel()
	k, err := idempotency.Key("create-invoice", 1)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{k: "create-invoice", "a:b:c": "a", "plain": "", "": "", ":x": ""} {
		if got := idempotency.KeyName(key); got != want {
			t.Errorf("KeyName(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestCallObserverPanic: a call whose fn panics ends with an EventEnd that
// carries the panic as its error, not a success.
func TestCallObserverPanic(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	g := newGuard(t, nil, &idempotency.Config{Observer: rec})
	func() {
		defer func() { _ = recover() }()
		_, _ = idempotency.Do(context.Background(), g, "k:p", func(context.Context) (int, error) { panic("boom") })
	}()
	events, _ := rec.take()
	end := events[len(events)-1]
	if end.Kind != idempotency.EventEnd || end.Result != idempotency.ResultExecuted || end.Err == nil || !strings.Contains(end.Err.Error(), "boom") {
		t.Fatalf("last event %+v, want EventEnd, executed, with the panic", end)
	}
}

// startOnly is a CallObserver whose Start does what start says; it keeps
// the events Observe gets.
type startOnly struct {
	recorder
	start func(ctx context.Context) context.Context
}

func (s *startOnly) Start(ctx context.Context, e idempotency.Event) context.Context {
	return s.start(ctx)
}

// TestCallObserverStartFails: a Start that panics or returns nil, or a
// Config.Name that panics, costs the call nothing: fn runs once with the
// caller's context, the outcome is recorded and replayed, EventEnd is
// still observed, and a panic is logged.
func TestCallObserverStartFails(t *testing.T) {
	t.Parallel()
	type callerMark struct{}
	tests := []struct {
		name    string
		start   func(ctx context.Context) context.Context
		keyName func(string) string
		wantLog string // "": nothing logged
	}{
		{name: "StartPanics", start: func(context.Context) context.Context { panic("boom") }, wantLog: "Observer.Start panicked"},
		{name: "StartReturnsNil", start: func(context.Context) context.Context { return nil }},
		{name: "NamePanics", start: func(ctx context.Context) context.Context { return ctx },
			keyName: func(string) string { panic("no name") }, wantLog: "Observer.Start panicked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obs := &startOnly{start: tc.start}
			log := &testchild.Buffer{}
			g := newGuard(t, nil, &idempotency.Config{Observer: obs, Name: tc.keyName, Logger: slog.New(slog.NewTextHandler(log, nil))})
			ctx := context.WithValue(context.Background(), callerMark{}, true)
			runs := 0
			fn := func(ctx context.Context) (int, error) {
				if ctx.Value(callerMark{}) == nil {
					t.Error("fn's context does not derive from the caller's")
				}
				runs++
				return 5, nil
			}
			for i := range 2 {
				if v, err := idempotency.Do(ctx, g, "k:1", fn); v != 5 || err != nil {
					t.Fatalf("call %d: %v, %v; want 5, nil", i, v, err)
				}
			}
			if runs != 1 {
				t.Errorf("fn ran %d times, want 1", runs)
			}
			ends := 0
			events, _ := obs.take()
			for _, e := range events {
				if e.Kind == idempotency.EventEnd {
					ends++
				}
			}
			if tc.keyName == nil && ends != 2 {
				t.Errorf("%d EventEnd, want 2", ends)
			}
			if got := log.String(); tc.wantLog == "" && got != "" || !strings.Contains(got, tc.wantLog) {
				t.Errorf("log %q, want %q", got, tc.wantLog)
			}
		})
	}
}
