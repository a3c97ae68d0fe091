package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	t.Parallel()
	const workers, keys = 64, 200
	var runs counter
	g := newGuard(t, nil, nil)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := fmt.Sprint("key-", (i+w)%keys)
				v, err := idempotency.Do(context.Background(), g, k, func(ctx context.Context) (string, error) {
					runs.add(k)
					return "v" + k, nil
				})
				if err != nil || v != "v"+k {
					t.Errorf("Do(%s) = %q, %v", k, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range keys {
		if n := runs.get(fmt.Sprint("key-", i)); n != 1 {
			t.Fatalf("key-%d ran %d times, want 1", i, n)
		}
	}
}

// running starts a first call of key that blocks until release is closed.
func running(t *testing.T, g *idempotency.Guard, key string, v int) (started, release chan struct{}, done chan error) {
	t.Helper()
	started, release, done = make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := idempotency.Do(context.Background(), g, key, func(ctx context.Context) (int, error) {
			close(started)
			<-release
			return v, nil
		})
		done <- err
	}()
	<-started
	return started, release, done
}

func TestDuplicatePolicies(t *testing.T) {
	t.Parallel()
	never := func(t *testing.T) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			t.Error("a duplicate ran fn")
			return 0, nil
		}
	}
	tests := []struct {
		name string
		cfg  idempotency.Config
		ctx  func() (context.Context, context.CancelFunc)
		// wantV is the value a duplicate gets once the first call
		// finishes 100ms in; wantErrs the errors it matches otherwise.
		wantV    int
		wantErrs []error
	}{
		{name: "ReturnStoredWaits", cfg: idempotency.Config{}, wantV: 42},
		{name: "ReturnStoredNoWait", cfg: idempotency.Config{WaitTimeout: -1}, wantErrs: []error{idempotency.ErrInProgress}},
		{name: "ReturnStoredTimesOut", cfg: idempotency.Config{WaitTimeout: 20 * time.Millisecond}, wantErrs: []error{idempotency.ErrInProgress}},
		{name: "WaitUntilDone", cfg: idempotency.Config{OnDuplicate: idempotency.Wait}, wantV: 42},
		{name: "WaitUntilContextEnds", cfg: idempotency.Config{OnDuplicate: idempotency.Wait},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 20*time.Millisecond)
			},
			wantErrs: []error{idempotency.ErrInProgress, context.DeadlineExceeded}},
		{name: "RejectInProgress", cfg: idempotency.Config{OnDuplicate: idempotency.Reject}, wantErrs: []error{idempotency.ErrDuplicate, idempotency.ErrInProgress}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGuard(t, nil, &tc.cfg)
			_, release, done := running(t, g, "k", 42)
			if tc.wantErrs == nil {
				// Whether the duplicate waits or comes late, it gets 42.
				time.AfterFunc(100*time.Millisecond, func() { close(release) })
			} else {
				// The first call runs until the duplicate has its answer.
				defer close(release)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			v, err := idempotency.Do(ctx, g, "k", never(t))
			if tc.wantErrs == nil {
				if err != nil || v != tc.wantV {
					t.Fatalf("duplicate = %d, %v; want %d", v, err, tc.wantV)
				}
			} else {
				wantErr(t, err, tc.wantErrs...)
				var e *idempotency.Error
				if !errors.As(err, &e) || e.Key != "k" || e.Token == 0 {
					t.Fatalf("error %#v lacks the key and the running token", err)
				}
			}
			if tc.wantErrs == nil {
				if err := <-done; err != nil {
					t.Fatalf("first call: %v", err)
				}
			}
		})
	}
}

func TestWithWaitTimeout(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil) // default: wait 10s
	_, release, done := running(t, g, "k", 1)
	defer func() { close(release); <-done }()
	_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 0, nil },
		idempotency.WithWaitTimeout(-1))
	wantErr(t, err, idempotency.ErrInProgress)
}

func TestTakeoverAfterCrash(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore(t, c)
	var takeovers []idempotency.Event
	g := newGuard(t, s, &idempotency.Config{Lease: time.Minute, Observer: idempotency.ObserverFunc(func(_ context.Context, e idempotency.Event) {
		if e.Kind == idempotency.EventTakeover {
			takeovers = append(takeovers, e) // Do runs on this goroutine
		}
	})})
	// A crashed executor: a claim nobody renews.
	dead, err := s.Claim(context.Background(), idempotency.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour, Takeover: true})
	if err != nil || !dead.Acquired {
		t.Fatal(dead, err)
	}
	var runs counter
	fn := func(ctx context.Context) (idempotency.Token, error) {
		runs.add("k")
		tok, _ := idempotency.TokenFrom(ctx)
		return tok, nil
	}
	_, err = idempotency.Do(context.Background(), g, "k", fn, idempotency.WithWaitTimeout(-1))
	wantErr(t, err, idempotency.ErrInProgress) // lease still live: no takeover
	c.Advance(time.Minute + time.Second)
	tok, err := idempotency.Do(context.Background(), g, "k", fn)
	if err != nil || tok <= dead.Record.Token {
		t.Fatalf("takeover = token %d, %v; want a token larger than %d", tok, err, dead.Record.Token)
	}
	if n := runs.get("k"); n != 1 {
		t.Fatalf("ran %d times after takeover", n)
	}
	if len(takeovers) != 1 || takeovers[0].Key != "k" || takeovers[0].Token != tok {
		t.Fatalf("takeover events %+v, want one for k with token %d", takeovers, tok)
	}
	// The crashed executor cannot overwrite the newer outcome.
	err = s.Complete(context.Background(), "k", dead.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte("1")})
	wantErr(t, err, idempotency.ErrLeaseLost)
}

func TestNoTakeoverAbandoned(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore(t, c)
	g := newGuard(t, s, &idempotency.Config{Lease: time.Minute, NoTakeover: true})
	if _, err := s.Claim(context.Background(), idempotency.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Minute)
	_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
		t.Error("fn ran under NoTakeover after a lapsed lease")
		return 0, nil
	})
	wantErr(t, err, idempotency.ErrAbandoned)
	// An operator forgets the key; then it runs.
	if err := g.Forget(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 5, nil }); err != nil || v != 5 {
		t.Fatalf("after Forget = %d, %v", v, err)
	}
}

func TestStaleExecutorFenced(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore(t, c)
	g := newGuard(t, s, &idempotency.Config{Lease: time.Minute})
	started, release := make(chan struct{}), make(chan struct{})
	type result struct {
		v   string
		err error
	}
	stale := make(chan result, 1)
	go func() {
		v, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (string, error) {
			close(started)
			<-release // stalls past its lease
			return "stale", nil
		})
		stale <- result{v, err}
	}()
	<-started
	c.Advance(2 * time.Minute)
	v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || v != "new" {
		t.Fatalf("takeover = %q, %v", v, err)
	}
	close(release)
	r := <-stale
	if r.v != "stale" {
		t.Fatalf("stale executor got %q, want its own value", r.v)
	}
	wantErr(t, r.err, idempotency.ErrNotRecorded, idempotency.ErrLeaseLost)
	if got, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (string, error) { return "again", nil }); err != nil || got != "new" {
		t.Fatalf("record = %q, %v; want the newer outcome", got, err)
	}
}

func TestLeaseLostCancelsFn(t *testing.T) {
	t.Parallel()
	var events sync.Map
	g := newGuard(t, nil, &idempotency.Config{
		Lease: 30 * time.Millisecond,
		Observer: idempotency.ObserverFunc(func(ctx context.Context, e idempotency.Event) {
			events.Store(e.Kind, true)
		}),
	})
	started := make(chan struct{})
	var cause error
	go func() {
		<-started
		_ = g.Forget(context.Background(), "k") // an operator deletes the record mid-run
	}()
	v, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		cause = context.Cause(ctx)
		return 9, nil
	})
	if cause != idempotency.ErrLeaseLost {
		t.Fatalf("fn's context cause = %v, want ErrLeaseLost", cause)
	}
	if v != 9 {
		t.Fatalf("value = %d, want fn's value", v)
	}
	wantErr(t, err, idempotency.ErrNotRecorded, idempotency.ErrLeaseLost)
	if _, ok := events.Load(idempotency.EventLeaseLost); !ok {
		t.Fatal("no EventLeaseLost observed")
	}
}

func TestRenewalFailureCancelsAfterLease(t *testing.T) {
	t.Parallel()
	f := &faultyStore{Store: newStore(t, nil), extend: errDown}
	g := newGuard(t, f, &idempotency.Config{Lease: 30 * time.Millisecond})
	_, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (int, error) {
		<-ctx.Done() // the store is unreachable for a whole lease: stop
		return 0, context.Cause(ctx)
	})
	if err != idempotency.ErrLeaseLost {
		t.Fatalf("error = %v, want fn's ErrLeaseLost", err)
	}
}

func TestPanicReleasesThenRepanics(t *testing.T) {
	t.Parallel()
	for _, policy := range []idempotency.FailurePolicy{idempotency.Release, idempotency.Remember} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			g := newGuard(t, nil, &idempotency.Config{OnFailure: policy})
			func() {
				defer func() {
					if p := recover(); p != "boom" {
						t.Fatalf("recovered %v, want the original panic", p)
					}
				}()
				_, _ = idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { panic("boom") })
			}()
			rec, err := g.Lookup(context.Background(), "k")
			switch policy {
			case idempotency.Release:
				wantErr(t, err, idempotency.ErrNotFound)
			case idempotency.Remember:
				if err != nil || rec.Status != idempotency.StatusFailed {
					t.Fatalf("record after panic = %+v, %v; want failed", rec, err)
				}
				_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 1, nil })
				wantErr(t, err, idempotency.ErrFailed)
				if !strings.Contains(err.Error(), "boom") {
					t.Fatalf("replayed panic = %v", err)
				}
			}
		})
	}
}

func TestCancelledCallIsNotRemembered(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, &idempotency.Config{OnFailure: idempotency.Remember})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := idempotency.Do(ctx, g, "k", func(ctx context.Context) (int, error) {
		cancel()
		return 0, ctx.Err()
	})
	wantErr(t, err, context.Canceled)
	if _, err := g.Lookup(context.Background(), "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("a cancelled call left a record: %v", err)
	}
}

func TestOutcomeRecordedAfterCallerGivesUp(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	v, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) {
		cancel() // the caller's deadline passes as fn finishes
		return 3, nil
	})
	if err != nil || v != 3 {
		t.Fatalf("Do = %d, %v", v, err)
	}
	if rec, err := g.Lookup(context.Background(), "k"); err != nil || rec.Status != idempotency.StatusCompleted {
		t.Fatalf("outcome not recorded: %+v, %v", rec, err)
	}
}

func TestUnencodableResult(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	g := newGuard(t, nil, nil)
	fn := func(context.Context) (any, error) {
		runs.Add(1)
		return func() {}, nil // JSON cannot encode a func
	}
	v, err := idempotency.Do(context.Background(), g, "k", fn)
	if err != nil || v == nil {
		t.Fatalf("first call = %v, %v; want its value", v, err)
	}
	_, err = idempotency.Do(context.Background(), g, "k", fn)
	wantErr(t, err, idempotency.ErrResultUnavailable)
	if runs.Load() != 1 {
		t.Fatalf("fn ran %d times", runs.Load())
	}
}

func TestUndecodableResult(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	if _, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (string, error) { return "text", nil }); err != nil {
		t.Fatal(err)
	}
	_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
		t.Error("fn ran again for a result of another type")
		return 0, nil
	})
	wantErr(t, err, idempotency.ErrResultUnavailable)
}

func TestStoreFailures(t *testing.T) {
	t.Parallel()
	t.Run("ClaimFailsClosed", func(t *testing.T) {
		t.Parallel()
		f := &faultyStore{Store: newStore(t, nil), claim: errDown}
		_, err := idempotency.Do(context.Background(), newGuard(t, f, nil), "k", func(context.Context) (int, error) {
			t.Error("fn ran while the store was down")
			return 0, nil
		})
		wantErr(t, err, idempotency.ErrStore, errDown)
	})
	t.Run("CompleteFailsNotRecorded", func(t *testing.T) {
		t.Parallel()
		f := &faultyStore{Store: newStore(t, nil), complete: errDown}
		var log bytes.Buffer
		g := newGuard(t, f, &idempotency.Config{Logger: slog.New(slog.NewTextHandler(&log, nil)), LogRawKeys: true})
		v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return 4, nil })
		if v != 4 {
			t.Fatalf("value = %d, want fn's value with the error", v)
		}
		wantErr(t, err, idempotency.ErrNotRecorded, errDown)
		// The operator hears of it: fn ran and nothing was recorded.
		if l := log.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "store complete failed") ||
			!strings.Contains(l, "key=k") || !strings.Contains(l, errDown.Error()) {
			t.Fatalf("log = %q", l)
		}
	})
	t.Run("ReleaseFailsKeepsFnError", func(t *testing.T) {
		t.Parallel()
		f := &faultyStore{Store: newStore(t, nil), release: errDown}
		_, err := idempotency.Do(context.Background(), newGuard(t, f, nil), "k", func(context.Context) (int, error) { return 0, errInsufficientFunds })
		if err != errInsufficientFunds {
			t.Fatalf("error = %v, want fn's error unchanged", err)
		}
	})
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	never := func(context.Context) (int, error) {
		t.Error("fn ran with an invalid key")
		return 0, nil
	}
	for name, key := range map[string]string{"Empty": "", "TooLong": strings.Repeat("k", idempotency.MaxKeyLen+1)} {
		t.Run(name, func(t *testing.T) {
			_, err := idempotency.Do(context.Background(), g, key, never)
			wantErr(t, err, idempotency.ErrInvalidKey)
		})
	}
	t.Run("UnencodableFingerprint", func(t *testing.T) {
		_, err := idempotency.Do(context.Background(), g, "k", never, idempotency.WithFingerprint(make(chan int)))
		wantErr(t, err, idempotency.ErrInvalidKey)
	})
	t.Run("UnencodableArgument", func(t *testing.T) {
		f := idempotency.Wrap(g, "f", func(ctx context.Context, fn func()) (int, error) { return never(ctx) })
		_, err := f(context.Background(), func() {})
		wantErr(t, err, idempotency.ErrInvalidKey)
	})
	t.Run("OddBytesAccepted", func(t *testing.T) {
		for i, key := range []string{"a/b", "a_b", "nul\x00", "\xff\xfe", strings.Repeat("k", idempotency.MaxKeyLen)} {
			v, err := idempotency.Do(context.Background(), g, key, func(context.Context) (int, error) { return i, nil })
			if err != nil || v != i {
				t.Fatalf("key %q = %d, %v; want %d", key, v, err, i)
			}
		}
	})
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	do := func(payload any) (string, error) {
		return idempotency.Do(context.Background(), g, "order-1", func(context.Context) (string, error) {
			return fmt.Sprint(payload), nil
		}, idempotency.WithFingerprint(payload))
	}
	if v, err := do(map[string]int{"amount": 100}); err != nil || v != "map[amount:100]" {
		t.Fatalf("first = %q, %v", v, err)
	}
	if v, err := do(map[string]int{"amount": 100}); err != nil || v != "map[amount:100]" {
		t.Fatalf("same payload = %q, %v", v, err)
	}
	_, err := do(map[string]int{"amount": 999})
	wantErr(t, err, idempotency.ErrKeyReused)
}

func TestTokenFrom(t *testing.T) {
	t.Parallel()
	if _, ok := idempotency.TokenFrom(context.Background()); ok {
		t.Fatal("token outside fn")
	}
	g := newGuard(t, nil, nil)
	tok, err := idempotency.Do(context.Background(), g, "k", func(ctx context.Context) (idempotency.Token, error) {
		tok, ok := idempotency.TokenFrom(ctx)
		if !ok {
			t.Error("no token inside fn")
		}
		return tok, nil
	})
	rec, _ := g.Lookup(context.Background(), "k")
	if err != nil || tok == 0 || tok != rec.Token {
		t.Fatalf("token %d, record token %d, %v", tok, rec.Token, err)
	}
}

func TestObserverEvents(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kinds []string
	g := newGuard(t, nil, &idempotency.Config{Observer: idempotency.ObserverFunc(func(ctx context.Context, e idempotency.Event) {
		mu.Lock()
		defer mu.Unlock()
		kinds = append(kinds, e.Kind.String())
	})})
	fn := func(context.Context) (int, error) { return 1, nil }
	_, _ = idempotency.Do(context.Background(), g, "k", fn)
	_, _ = idempotency.Do(context.Background(), g, "k", fn)
	_, _ = idempotency.Do(context.Background(), g, "k", fn, idempotency.WithFingerprint("x"))
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(kinds, ","); got != "executed,replayed,conflict" {
		t.Fatalf("events %s", got)
	}
}

func TestDefaultsAndPrivateStore(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	c := g.Config()
	if c.TTL != 24*time.Hour || c.Lease != 30*time.Second || c.WaitTimeout != 10*time.Second || c.Logger == nil {
		t.Fatalf("defaults = %+v", c)
	}
	if _, ok := c.Codec.(idempotency.JSONCodec); !ok {
		t.Fatalf("default codec %T, want JSONCodec", c.Codec)
	}
	if _, ok := g.Store().(*memstore.Store); !ok {
		t.Fatalf("nil store gave %T, want a *memstore.Store", g.Store())
	}
	// Private: another guard with a nil store shares nothing with g.
	other := idempotency.New(nil, nil)
	defer other.Close()
	var runs counter
	for _, g := range []*idempotency.Guard{g, g, other, other} {
		if v, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) { return runs.add("k"), nil }); err != nil || v < 1 {
			t.Fatal(v, err)
		}
	}
	if n := runs.get("k"); n != 2 {
		t.Fatalf("fn ran %d times for one key on two private stores, want once per store", n)
	}
}

// countingCodec is a Codec that counts its calls, wrapping JSON with a
// marker so that a replay through another codec would fail.
type countingCodec struct {
	marshal, unmarshal atomic.Int64
}

func (c *countingCodec) Marshal(v any) ([]byte, error) {
	c.marshal.Add(1)
	b, err := json.Marshal(v)
	return append([]byte("v1:"), b...), err
}

func (c *countingCodec) Unmarshal(data []byte, v any) error {
	c.unmarshal.Add(1)
	rest, ok := bytes.CutPrefix(data, []byte("v1:"))
	if !ok {
		return errors.New("not written by countingCodec")
	}
	return json.Unmarshal(rest, v)
}

func TestCustomCodec(t *testing.T) {
	t.Parallel()
	codec := &countingCodec{}
	s := newStore(t, nil)
	g := newGuard(t, s, &idempotency.Config{Codec: codec})
	type receipt struct{ ID string }
	fn := func(context.Context) (*receipt, error) { return &receipt{ID: "ch_1"}, nil }
	if _, err := idempotency.Do(context.Background(), g, "k", fn); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(context.Background(), "k")
	if err != nil || !bytes.HasPrefix(rec.Value, []byte("v1:")) {
		t.Fatalf("stored %q, %v; want the codec's encoding", rec.Value, err)
	}
	got, err := idempotency.Do(context.Background(), g, "k", fn)
	if err != nil || got.ID != "ch_1" {
		t.Fatalf("replay = %+v, %v", got, err)
	}
	if m, u := codec.marshal.Load(), codec.unmarshal.Load(); m != 1 || u != 1 {
		t.Fatalf("codec: %d Marshal, %d Unmarshal; want 1 each", m, u)
	}
	// A record the codec cannot read is ErrResultUnavailable, not a zero value.
	_, err = idempotency.Do(context.Background(), newGuard(t, s, nil), "k", fn)
	wantErr(t, err, idempotency.ErrResultUnavailable)
}

func TestNoExpiryAndPerCallTTL(t *testing.T) {
	t.Parallel()
	c := newClock()
	g := newGuard(t, newStore(t, c), &idempotency.Config{TTL: idempotency.NoExpiry})
	fn := func(context.Context) (int, error) { return 1, nil }
	_, _ = idempotency.Do(context.Background(), g, "forever", fn)
	_, _ = idempotency.Do(context.Background(), g, "short", fn, idempotency.WithTTL(time.Minute))
	c.Advance(1000 * time.Hour)
	if _, err := g.Lookup(context.Background(), "forever"); err != nil {
		t.Fatalf("NoExpiry record gone: %v", err)
	}
	if _, err := g.Lookup(context.Background(), "short"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("per-call TTL record still there: %v", err)
	}
}
