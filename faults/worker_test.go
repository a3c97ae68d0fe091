package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
)

// spec is everything a worker needs: the store to open, the keys to call
// and the faults it injects into its own calls. A child process gets it as
// JSON in childEnv.
type spec struct {
	Store  string // a store name: memory, file, redis, cluster, pg, pgtx
	Broken string // a broken wrapper for the negative control, or ""

	Dir    string            // file: the store directory
	Addrs  []string          // redis, cluster: server addresses
	Dial   map[string]string // server address -> the proxy to dial instead
	DSN    string            // pg, pgtx
	Prefix string            // the cell's Redis key prefix or PostgreSQL table

	Effects string // the append-only effects file (all stores but pgtx)
	History string // this worker's history file
	Worker  string // prefix of the worker's call IDs, unique in the cell
	Keys    []string

	Lease      time.Duration
	NoTakeover bool          // the guard's Config.NoTakeover
	Remember   bool          // the guard's Config.OnFailure is Remember
	Pre        time.Duration // fn's work before its effect (cancellable)
	Hold       time.Duration // fn's work after its effect (not cancellable)
	// TakeoverHold replaces Hold for an execution that took a lapsed
	// claim over, so that the executor it replaced, if it resumes, tries
	// its writes while the new one still runs.
	TakeoverHold time.Duration
	Jitter       time.Duration // the longest pause between two calls
	Cancel       float64       // probability that a call's context is cancelled mid-call
	Panic        float64       // probability that fn panics before its effect
	Jumps        []jump        // client clock steps (memory, file)
	Report       bool          // print "F key id" on stdout after each effect
	Seed         uint64
}

// jump steps a clock by By from the wall time At (Unix nanoseconds) on.
type jump struct {
	At int64
	By time.Duration
}

// clock returns time.Now moved by every jump whose time has come, or nil
// when there are none.
func clock(jumps []jump) func() time.Time {
	if len(jumps) == 0 {
		return nil
	}
	return func() time.Time {
		now := time.Now()
		for _, j := range jumps {
			if now.UnixNano() >= j.At {
				now = now.Add(j.By)
			}
		}
		return now
	}
}

// ledgerTable is the PostgreSQL table DoTx cells record effects in.
func ledgerTable(prefix string) string { return prefix + "_ledger" }

// errBeforeEffect marks fn's own errors: it gave up before its effect.
var errBeforeEffect = errors.New("fn gave up before its effect")

// injectedPanic is the value fn panics with.
type injectedPanic struct{ id string }

// worker calls its keys in order through one guard, recording each call.
type worker struct {
	spec    spec
	guard   *idempotency.Guard
	rec     *Recorder
	effects *os.File
	report  io.Writer
	rng     *rand.Rand

	tookOver sync.Map // tokens of executions that took a claim over
	panics   int      // fn panics so far
}

func newWorker(sp spec, store idempotency.Store, report io.Writer) (*worker, error) {
	rec, err := NewRecorder(sp.History)
	if err != nil {
		return nil, err
	}
	w := &worker{spec: sp, rec: rec, report: report, rng: rand.New(rand.NewPCG(sp.Seed, 7))}
	if sp.Store != "pgtx" {
		if w.effects, err = os.OpenFile(sp.Effects, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			rec.Close()
			return nil, err
		}
	}
	w.guard = idempotency.New(store, &idempotency.Config{
		TTL:         time.Hour,
		Lease:       sp.Lease,
		WaitTimeout: 5 * time.Second,
		NoTakeover:  sp.NoTakeover,
		OnFailure:   onFailure(sp.Remember),
		Observer: idempotency.ObserverFunc(func(_ context.Context, e idempotency.Event) {
			if e.Kind == idempotency.EventTakeover {
				w.tookOver.Store(e.Token, true)
			}
		}),
	})
	return w, nil
}

func (w *worker) close() {
	w.rec.Close()
	if w.effects != nil {
		w.effects.Close()
	}
}

// run calls every key once, with a little jitter between calls so that
// workers drift apart and meet each other early, late and concurrently.
func (w *worker) run(ctx context.Context) error {
	for _, key := range w.spec.Keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A client retries a call that failed on the store (fn did not
		// run) until the store is back, as a new call.
		id := w.spec.Worker + "." + key
		for attempt := 1; ; attempt++ {
			kind, err := w.one(ctx, key, id)
			if err != nil {
				return err
			}
			if kind != KindNone || attempt == maxAttempts {
				break
			}
			id = fmt.Sprintf("%s.%s.%d", w.spec.Worker, key, attempt+1)
			time.Sleep(retryPause)
		}
		time.Sleep(time.Duration(w.rng.Int64N(int64(w.spec.Jitter) + 1)))
	}
	return nil
}

// A worker retries a call that failed on the store up to maxAttempts
// times in all, retryPause apart: long enough to outlast a server restart.
const (
	maxAttempts = 150
	retryPause  = 20 * time.Millisecond
)

// one makes call id on key, records it and returns how it ended.
func (w *worker) one(ctx context.Context, key, id string) (Kind, error) {
	if _, err := w.rec.Start(key, id); err != nil {
		return "", err
	}
	op := w.call(ctx, key, id)
	return op.Kind, w.rec.End(op)
}

// call makes one guarded call and classifies how it ended.
func (w *worker) call(ctx context.Context, key, id string) (op Op) {
	op = Op{Key: key, ID: id}
	cctx := ctx
	if w.spec.Cancel > 0 && w.rng.Float64() < w.spec.Cancel {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, time.Duration(w.rng.Int64N(int64(2*w.spec.Pre+time.Millisecond))))
		defer cancel()
		// A fault if the context ended before the call did.
		defer func() {
			if cctx.Err() != nil {
				op.Fault = "cancel"
			}
		}()
	}
	// before is fn's work before its effect: it honours the context,
	// and panics there when told to.
	before := func(ctx context.Context) error {
		t := time.NewTimer(w.spec.Pre)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", errBeforeEffect, context.Cause(ctx))
		case <-t.C:
		}
		// A worker's first execution panics, so that every panic cell
		// has panics; later ones by chance.
		if w.spec.Panic > 0 && (w.panics == 0 || w.rng.Float64() < w.spec.Panic) {
			w.panics++
			panic(injectedPanic{id})
		}
		return nil
	}
	// token is the fencing token of the execution, recorded with its
	// effect.
	token := func(ctx context.Context) uint64 {
		t, _ := idempotency.TokenFrom(ctx)
		op.Token = uint64(t)
		return op.Token
	}
	// after reports the effect and finishes fn's work, ignoring the
	// context: the effect has happened, so fn succeeds.
	after := func() (string, error) {
		if w.spec.Report {
			fmt.Fprintf(w.report, "F %s %s\n", key, id)
		}
		hold := w.spec.Hold
		if _, ok := w.tookOver.Load(idempotency.Token(op.Token)); ok {
			hold = max(hold, w.spec.TakeoverHold)
		}
		time.Sleep(hold)
		return id, nil
	}
	var v string
	var err error
	panicked := false
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(injectedPanic); !ok {
					panic(p)
				}
				panicked = true
			}
		}()
		if w.spec.Store == "pgtx" {
			v, err = pgstore.DoTx(cctx, w.guard, key, func(ctx context.Context, tx pgx.Tx) (string, error) {
				if err := before(ctx); err != nil {
					return "", err
				}
				if _, err := tx.Exec(ctx, "INSERT INTO "+ledgerTable(w.spec.Prefix)+" (key, id, token) VALUES ($1, $2, $3)", key, id, int64(token(ctx))); err != nil {
					return "", fmt.Errorf("%w: ledger: %w", errBeforeEffect, err)
				}
				return after()
			})
			return
		}
		v, err = idempotency.Do(cctx, w.guard, key, func(ctx context.Context) (string, error) {
			if err := before(ctx); err != nil {
				return "", err
			}
			// One write to a file opened for appending: a whole line
			// or nothing, whenever the process dies.
			if _, err := fmt.Fprintf(w.effects, "%s %s %d\n", key, id, token(ctx)); err != nil {
				return "", fmt.Errorf("effect: %w", err) // not errBeforeEffect: unknown
			}
			return after()
		})
	}()
	if err != nil {
		op.Err = err.Error()
	}
	if panicked {
		op.Fault = "panic"
	}
	var failed *idempotency.FailedError
	switch {
	case panicked && w.spec.Remember:
		// The failure was recorded, unless that failed.
		op.Kind, op.Value = KindAmbiguous, FailureOutcome(id)
	case panicked:
		op.Kind = KindEmpty
	case errors.As(err, &failed):
		op.Kind = KindFailed
		if op.Value = failureOf(failed.Message); op.Value == "" {
			op.Kind = KindBad
		}
	case err == nil:
		op.Kind, op.Value = KindValue, v
	case errors.Is(err, idempotency.ErrNotRecorded):
		op.Kind = KindAmbiguous
	case errors.Is(err, errBeforeEffect),
		errors.Is(err, idempotency.ErrInProgress),
		errors.Is(err, idempotency.ErrAbandoned):
		op.Kind = KindEmpty
	case errors.Is(err, idempotency.ErrResultUnavailable),
		errors.Is(err, idempotency.ErrCorrupt),
		errors.Is(err, idempotency.ErrKeyReused),
		errors.Is(err, idempotency.ErrInvalidKey):
		op.Kind = KindBad
	default:
		// ErrStore (fn not run), or anything else: no conclusion about
		// the key; an effect of such a call is still a violation.
		op.Kind = KindNone
	}
	return op
}

func onFailure(remember bool) idempotency.FailurePolicy {
	if remember {
		return idempotency.Remember
	}
	return idempotency.Release
}

// failureOf returns the outcome of a remembered failure from its message,
// "panic: {call-id}" (the guard's message for fn's injectedPanic), or ""
// when the message is not one.
func failureOf(msg string) string {
	id, ok := strings.CutPrefix(msg, "panic: {")
	if id, ok2 := strings.CutSuffix(id, "}"); ok && ok2 && id != "" {
		return FailureOutcome(id)
	}
	return ""
}
