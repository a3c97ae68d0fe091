package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

// obsEnv is a guard whose observer misbehaves (panics or blocks) on one
// kind of event, over a store on a hand-moved clock.
type obsEnv struct {
	c   *clock
	s   *countingOps
	g   *idempotency.Guard
	log *testchild.Buffer
	// fnReturned is set once fn has returned.
	fnReturned atomic.Bool
}

const obsLease = 30 * time.Second

// countingOps counts the store's writes and fails the ones it is told to.
type countingOps struct {
	faultyStore
	completes, extends atomic.Int32
}

func (s *countingOps) Complete(ctx context.Context, key string, tok idempotency.Token, out idempotency.Outcome) error {
	s.completes.Add(1)
	return s.faultyStore.Complete(ctx, key, tok, out)
}

func (s *countingOps) Extend(ctx context.Context, key string, tok idempotency.Token, lease time.Duration) error {
	s.extends.Add(1)
	return s.faultyStore.Extend(ctx, key, tok, lease)
}

func newObsEnv(t *testing.T, obs idempotency.ObserverFunc) *obsEnv {
	c := newClock()
	env := &obsEnv{c: c, log: &testchild.Buffer{}}
	env.s = &countingOps{faultyStore: faultyStore{Store: newStore(t, c)}}
	env.g = idempotency.NewAt(env.s, &idempotency.Config{
		Lease: obsLease, Observer: obs,
		Logger: slog.New(slog.NewTextHandler(env.log, nil)),
	}, c)
	return env
}

// status is the state of key's record: "in_progress", "completed",
// "failed" or "none".
func (env *obsEnv) status(key string) string {
	rec, err := env.g.Lookup(context.Background(), key)
	switch {
	case errors.Is(err, idempotency.ErrNotFound):
		return "none"
	case err != nil:
		return err.Error()
	}
	return map[idempotency.Status]string{idempotency.StatusInProgress: "in_progress",
		idempotency.StatusCompleted: "completed", idempotency.StatusFailed: "failed"}[rec.Status]
}

// obsScenario makes one kind of event happen. run makes the calls and
// checks what they return; settled checks, from inside the observer, that
// the claim was settled before the event was observed; whileBlocked, if
// set, checks what must go on while the observer blocks.
type obsScenario struct {
	kind         idempotency.EventKind
	run          func(t *testing.T, env *obsEnv)
	settled      func(t *testing.T, env *obsEnv)
	whileBlocked func(t *testing.T, env *obsEnv)
}

func obsScenarios() map[string]obsScenario {
	ctx := context.Background()
	one := func(env *obsEnv) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			env.fnReturned.Store(true)
			return 1, nil
		}
	}
	want := func(t *testing.T, v int, err error, wantV int, wantErrs ...error) {
		t.Helper()
		if len(wantErrs) == 0 && (err != nil || v != wantV) {
			t.Errorf("Do = %d, %v; want %d", v, err, wantV)
		}
		for _, w := range wantErrs {
			if !errors.Is(err, w) {
				t.Errorf("Do error %v, want %v", err, w)
			}
		}
	}
	completed := func(t *testing.T, env *obsEnv) {
		if st := env.status("k"); st != "completed" {
			t.Errorf("record %s when observed, want completed", st)
		}
	}
	return map[string]obsScenario{
		"Executed": {
			kind: idempotency.EventExecuted,
			run: func(t *testing.T, env *obsEnv) {
				v, err := idempotency.Do(ctx, env.g, "k", one(env))
				want(t, v, err, 1)
			},
			settled: completed,
		},
		"ExecutedFailed": {
			kind: idempotency.EventExecuted,
			run: func(t *testing.T, env *obsEnv) {
				_, err := idempotency.Do(ctx, env.g, "k", func(context.Context) (int, error) { return 0, errDeclined })
				want(t, 0, err, 0, errDeclined)
			},
			settled: func(t *testing.T, env *obsEnv) {
				if st := env.status("k"); st != "none" {
					t.Errorf("record %s when observed, want released", st)
				}
			},
		},
		"Replayed": {
			kind: idempotency.EventReplayed,
			run: func(t *testing.T, env *obsEnv) {
				for range 2 {
					v, err := idempotency.Do(ctx, env.g, "k", one(env))
					want(t, v, err, 1)
				}
			},
			settled: completed,
		},
		"Conflict": {
			kind: idempotency.EventConflict,
			run: func(t *testing.T, env *obsEnv) {
				v, err := idempotency.Do(ctx, env.g, "k", one(env), idempotency.WithFingerprint("a"))
				want(t, v, err, 1)
				v, err = idempotency.Do(ctx, env.g, "k", one(env), idempotency.WithFingerprint("b"))
				want(t, v, err, 0, idempotency.ErrKeyReused)
			},
			settled: completed,
		},
		"Takeover": {
			kind: idempotency.EventTakeover,
			run: func(t *testing.T, env *obsEnv) {
				// A crashed executor's claim, lapsed.
				if _, err := env.s.Store.Claim(ctx, idempotency.ClaimRequest{Key: "k", Lease: obsLease, TTL: time.Hour, Takeover: true}); err != nil {
					t.Error(err)
				}
				env.c.Advance(obsLease + time.Second)
				v, err := idempotency.Do(ctx, env.g, "k", one(env))
				want(t, v, err, 1)
			},
			settled: func(t *testing.T, env *obsEnv) {
				if env.fnReturned.Load() {
					t.Error("takeover observed after fn ran")
				}
			},
			whileBlocked: func(t *testing.T, env *obsEnv) {
				// The claim is ours: its renewals go on while the
				// observer blocks.
				for i := int32(1); i <= 3; i++ {
					env.c.Advance(obsLease / 3)
					idempotency.WaitRenewals(t, env.g)
					if n := env.s.extends.Load(); n != i {
						t.Errorf("%d renewals after %d Lease/3 with the observer blocked", n, i)
					}
				}
			},
		},
		"LeaseLost": {
			kind: idempotency.EventLeaseLost,
			run: func(t *testing.T, env *obsEnv) {
				started := make(chan struct{})
				go func() {
					<-started
					_ = env.g.Forget(ctx, "k") // an operator deletes the record mid-run
					env.c.Advance(obsLease / 3)
				}()
				v, err := idempotency.Do(ctx, env.g, "k", func(ctx context.Context) (int, error) {
					close(started)
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Second):
						t.Error("fn not cancelled within 20s of losing its claim")
					}
					env.fnReturned.Store(true)
					return 9, nil
				})
				want(t, v, err, 9, idempotency.ErrNotRecorded, idempotency.ErrLeaseLost)
			},
			settled: func(t *testing.T, env *obsEnv) {
				if !env.fnReturned.Load() || env.s.completes.Load() != 1 {
					t.Error("lease loss observed before fn returned and its outcome was offered")
				}
			},
		},
		"StoreErrorOnComplete": {
			kind: idempotency.EventStoreError,
			run: func(t *testing.T, env *obsEnv) {
				env.s.set(&env.s.complete, errDown)
				v, err := idempotency.Do(ctx, env.g, "k", one(env))
				want(t, v, err, 1, idempotency.ErrNotRecorded, errDown)
			},
			settled: func(t *testing.T, env *obsEnv) {
				if env.s.completes.Load() != 1 {
					t.Error("store error observed before the outcome was offered")
				}
			},
		},
		"StoreErrorOnRenewal": {
			kind: idempotency.EventStoreError,
			run: func(t *testing.T, env *obsEnv) {
				env.s.set(&env.s.extend, errDown)
				v, err := idempotency.Do(ctx, env.g, "k", func(context.Context) (int, error) {
					env.c.Advance(obsLease / 3)
					idempotency.WaitRenewals(t, env.g)
					env.fnReturned.Store(true)
					return 1, nil
				})
				want(t, v, err, 1)
			},
			settled: completed,
		},
	}
}

// An Observer that panics on any kind of event cannot leave a key
// claimed: the call returns what it would have, the outcome is settled,
// and the panic is logged.
func TestObserverPanics(t *testing.T) {
	t.Parallel()
	for name, sc := range obsScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var env *obsEnv
			var seen atomic.Int32
			env = newObsEnv(t, func(ctx context.Context, e idempotency.Event) {
				if e.Kind == sc.kind {
					seen.Add(1)
					sc.settled(t, env)
					panic("observer bug")
				}
			})
			sc.run(t, env)
			if seen.Load() == 0 {
				t.Fatalf("no %v event", sc.kind)
			}
			if st := env.status("k"); st == "in_progress" && name != "StoreErrorOnComplete" {
				t.Fatalf("key left in progress after the observer panicked")
			}
			if l := env.log.String(); !strings.Contains(l, "Observer panicked") || !strings.Contains(l, "event="+sc.kind.String()) ||
				!strings.Contains(l, "panic=\"observer bug\"") {
				t.Fatalf("log = %q", l)
			}
		})
	}
}

// An Observer that blocks on any kind of event delays its own call only,
// once the claim is settled; renewals keep their schedule meanwhile.
func TestObserverBlocks(t *testing.T) {
	t.Parallel()
	for name, sc := range obsScenarios() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			blocked, unblock := make(chan struct{}), make(chan struct{})
			var once sync.Once
			var env *obsEnv
			env = newObsEnv(t, func(ctx context.Context, e idempotency.Event) {
				if e.Kind != sc.kind {
					return
				}
				first := false
				once.Do(func() { first = true })
				if !first {
					return
				}
				sc.settled(t, env)
				close(blocked)
				select {
				case <-unblock:
				case <-time.After(20 * time.Second):
					t.Error("observer still blocked after 20s")
				}
			})
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc.run(t, env)
			}()
			receive(t, blocked, sc.kind.String()+" event")
			if sc.whileBlocked != nil {
				sc.whileBlocked(t, env)
			}
			close(unblock)
			receive(t, done, "end of the calls")
		})
	}
}

// When the store refuses to settle an execution because its claim is no
// longer its own (taken over after its lease lapsed, or forgotten), the
// store did its job: the event is EventLeaseLost with a warning, never a
// store error.
func TestSettleRefusedIsLeaseLost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy idempotency.FailurePolicy
		fnErr  error
		forget bool // forget the key instead of taking it over
		op     string
	}{
		{"CompleteAfterTakeover", idempotency.Release, nil, false, "complete"},
		{"RememberAfterTakeover", idempotency.Remember, errDeclined, false, "complete"},
		{"ReleaseAfterTakeover", idempotency.Release, errDeclined, false, "release"},
		{"CompleteAfterForget", idempotency.Release, nil, true, "complete"},
		{"ReleaseAfterForget", idempotency.Release, errDeclined, true, "release"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var mu sync.Mutex
			var kinds []string
			log := &testchild.Buffer{}
			// Real renewals with a long lease: none happens during the
			// test; the store's clock alone makes the lease lapse.
			g := newGuard(t, newStore(t, c), &idempotency.Config{
				Lease: time.Minute, OnFailure: tc.policy,
				Logger: slog.New(slog.NewTextHandler(log, nil)),
				Observer: idempotency.ObserverFunc(func(ctx context.Context, e idempotency.Event) {
					if e.Token == 1 { // the stale execution's
						mu.Lock()
						kinds = append(kinds, e.Kind.String())
						mu.Unlock()
					}
				}),
			})
			_, release, done := blockedWith(t, g, "k", tc.fnErr)
			if tc.forget {
				if err := g.Forget(context.Background(), "k"); err != nil {
					t.Fatal(err)
				}
			} else {
				c.Advance(2 * time.Minute)
				if v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 2, nil }); err != nil || v != 2 {
					t.Fatalf("takeover = %d, %v", v, err)
				}
			}
			close(release)
			err := receive(t, done, "stale outcome")
			if tc.fnErr == nil {
				wantErr(t, err, idempotency.ErrNotRecorded, idempotency.ErrLeaseLost)
			} else if err != tc.fnErr {
				t.Fatalf("stale call = %v, want fn's error unchanged", err)
			}
			mu.Lock()
			got := strings.Join(kinds, ",")
			mu.Unlock()
			if got != "executed,lease_lost" {
				t.Fatalf("events %s, want executed,lease_lost", got)
			}
			l := log.String()
			if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "claim lost before "+tc.op) || strings.Contains(l, "level=ERROR") {
				t.Fatalf("log = %q, want one warning", l)
			}
		})
	}
}

// blockedWith is blocked with fn returning err (or 1 when err is nil).
func blockedWith(t *testing.T, g *idempotency.Guard, key string, err error) (fnCtx context.Context, release chan struct{}, done chan error) {
	t.Helper()
	ctxs, release, done := make(chan context.Context, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		_, derr := idempotency.Do(context.Background(), g, key, func(ctx context.Context) (int, error) {
			ctxs <- ctx
			<-release
			return 1, err
		})
		done <- derr
	}()
	return receive(t, ctxs, "start of fn"), release, done
}

// A claim lost while fn runs is observed once: the renewal reports it, and
// the completion the store then refuses for the same reason is not
// reported again.
func TestLeaseLostObservedOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kinds []string
	env := newObsEnv(t, func(ctx context.Context, e idempotency.Event) {
		mu.Lock()
		kinds = append(kinds, e.Kind.String())
		mu.Unlock()
	})
	obsScenarios()["LeaseLost"].run(t, env)
	mu.Lock()
	got := strings.Join(kinds, ",")
	mu.Unlock()
	if got != "lease_lost,executed" {
		t.Fatalf("events %s, want lease_lost,executed", got)
	}
}

// TestExecutedTook: EventExecuted's Took is fn's run time, however fn
// ends: at least what fn slept, at most the whole call.
func TestExecutedTook(t *testing.T) {
	t.Parallel()
	const nap = 2 * time.Millisecond
	tests := []struct {
		name string
		fn   func(context.Context) (int, error)
	}{
		{"Returns", func(context.Context) (int, error) { time.Sleep(nap); return 1, nil }},
		{"Fails", func(context.Context) (int, error) { time.Sleep(nap); return 0, errors.New("declined") }},
		{"Panics", func(context.Context) (int, error) { time.Sleep(nap); panic("boom") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var took []time.Duration
			g := newGuard(t, nil, &idempotency.Config{Observer: idempotency.ObserverFunc(func(_ context.Context, e idempotency.Event) {
				if e.Kind == idempotency.EventExecuted {
					mu.Lock()
					took = append(took, e.Took)
					mu.Unlock()
				}
			})})
			start := time.Now()
			func() {
				defer func() { _ = recover() }()
				_, _ = idempotency.Do(context.Background(), g, "k", tc.fn)
			}()
			whole := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if len(took) != 1 || took[0] < nap || took[0] > whole {
				t.Fatalf("EventExecuted took %v, want one in [%v, %v]", took, nap, whole)
			}
		})
	}
}
