package idemhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/memstore"
)

// heldHandler runs until its gate opens, counting runs, and answers
// status (201 after the first run).
func heldHandler(c *counter, g *gate, started chan<- struct{}, status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if c.add(string(body)) > 1 {
			w.WriteHeader(http.StatusCreated)
			return
		}
		started <- struct{}{}
		g.block()
		w.WriteHeader(status)
	})
}

// A 409 for a key in progress carries Retry-After: the running request's
// lease left, in whole seconds rounded up (TestRetrySeconds), at least 1.
func TestRetryAfterOnConflict(t *testing.T) {
	t.Parallel()
	for _, lease := range []time.Duration{time.Minute, 5 * time.Second} {
		t.Run(lease.String(), func(t *testing.T) {
			t.Parallel()
			var c counter
			g := newGate()
			defer g.open()
			started := make(chan struct{}, 1)
			e := newEnv(t, heldHandler(&c, g, started, http.StatusCreated), &envOptions{guard: &idempotency.Config{Lease: lease}})
			first := make(chan *resp, 1)
			go func() { first <- e.do(req{key: "k", body: "b"}) }()
			<-started
			r := e.do(req{key: "k", body: "b"})
			r.wantProblem(t, http.StatusConflict, idemhttp.ProblemInProgress)
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			// Renewal every lease/3 keeps at least 2/3 of it left.
			if low := int(lease.Seconds() * 2 / 3); err != nil || ra < low || ra > int(lease.Seconds()) {
				t.Fatalf("Retry-After %q, want %d..%v", r.header.Get("Retry-After"), low, lease.Seconds())
			}
			g.open()
			<-first
		})
	}
}

// A waiting duplicate holds only its fingerprint: when the first request
// is released instead of answered, the duplicate does not run the handler
// (it has no body to give it) but gets 409 with Retry-After, and its retry
// runs the handler with the whole body.
func TestWaiterOfAReleasedRequestRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy idempotency.FailurePolicy
		status int // the first request's answer, which is released
	}{
		{"Release, 503", idempotency.Release, http.StatusServiceUnavailable},
		{"Remember, 429", idempotency.Remember, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			g := newGate()
			defer g.open()
			started := make(chan struct{}, 1)
			var mu sync.Mutex
			var bodies []string
			conflicts := make(chan struct{}, 1)
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(body))
				mu.Unlock()
				if c.add("x") > 1 {
					w.WriteHeader(http.StatusCreated)
					return
				}
				started <- struct{}{}
				g.block()
				w.WriteHeader(tc.status)
			}), &envOptions{mw: &idemhttp.Config{Wait: time.Minute}, guard: &idempotency.Config{OnFailure: tc.policy,
				Observer: idempotency.ObserverFunc(func(_ context.Context, ev idempotency.Event) {
					if ev.Kind == idempotency.EventConflict {
						select {
						case conflicts <- struct{}{}:
						default:
						}
					}
				}),
			}})
			first := make(chan *resp, 1)
			go func() { first <- e.do(req{key: "k", body: "payload"}) }()
			<-started
			waiter := make(chan *resp, 1)
			go func() { waiter <- e.do(req{key: "k", body: "payload"}) }()
			// Once the duplicate was refused its claim, it waits; then release
			// the first request.
			select {
			case <-conflicts:
			case <-time.After(20 * time.Second):
				t.Fatal("no conflict within 20 s")
			}
			g.open()
			if r := <-first; r.status != tc.status {
				t.Fatalf("first: %d", r.status)
			}
			r := <-waiter
			r.wantProblem(t, http.StatusConflict, idemhttp.ProblemInProgress)
			if r.header.Get("Retry-After") != "1" || c.get("x") != 1 {
				t.Fatalf("waiter: Retry-After %q after %d runs", r.header.Get("Retry-After"), c.get("x"))
			}
			if r := e.do(req{key: "k", body: "payload"}); r.status != http.StatusCreated {
				t.Fatalf("retry: %d", r.status)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.get("x") != 2 || len(bodies) != 2 || bodies[1] != "payload" {
				t.Fatalf("handler ran %d times with bodies %q", c.get("x"), bodies)
			}
		})
	}
}

// ReplayHeaders is an allowlist: only its headers (and the ones that
// describe the body) are stored and replayed.
func TestReplayHeadersAllowlist(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("Location", "/things/1")
		h.Set("X-Request-Id", "req-1")
		h.Set("Set-Cookie", "s=1")
		h.Set("Trailer", "X-Checksum, X-Debug")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "made")
		h.Set("X-Checksum", "abc")
		h.Set("X-Debug", "trace")
	}), &envOptions{mw: &idemhttp.Config{ReplayHeaders: []string{"location", "X-Checksum", "Set-Cookie"}}})
	first := e.do(req{key: "k"})
	if first.header.Get("X-Request-Id") != "req-1" || first.trailer.Get("X-Debug") != "trace" {
		t.Fatalf("first response lost headers: %v %v", first.header, first.trailer)
	}
	r := e.do(req{key: "k"})
	if !r.replayed() || string(r.body) != "made" || c.get("x") != 1 {
		t.Fatalf("replay: %d %q", r.status, r.body)
	}
	for k, want := range map[string]string{"Location": "/things/1", "Content-Type": "text/plain", "X-Request-Id": "", "Set-Cookie": ""} {
		if got := r.header.Get(k); got != want {
			t.Errorf("replayed %s %q, want %q", k, got, want)
		}
	}
	if r.trailer.Get("X-Checksum") != "abc" || r.trailer.Get("X-Debug") != "" {
		t.Errorf("replayed trailers %v", r.trailer)
	}
}

// ErrorHandler renders the middleware's errors in the API's own format,
// with the data it needs; headers such as Retry-After are set already.
func TestErrorHandler(t *testing.T) {
	t.Parallel()
	var c counter
	g := newGate()
	defer g.open()
	started := make(chan struct{}, 1)
	var seen []*idemhttp.Error
	e := newEnv(t, heldHandler(&c, g, started, http.StatusCreated), &envOptions{mw: &idemhttp.Config{
		Required: true,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, e *idemhttp.Error) {
			seen = append(seen, e) // the requests below run one at a time
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(e.Status)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": e.Problem, "message": e.Detail, "retry_after": w.Header().Get("Retry-After")}})
		},
	}})
	first := make(chan *resp, 1)
	go func() { first <- e.do(req{key: "k", body: "a"}) }()
	<-started
	for _, tc := range []struct {
		name    string
		r       req
		status  int
		problem string
		cause   error
		retry   bool
	}{
		{"missing key", req{body: "a"}, http.StatusBadRequest, idemhttp.ProblemMissingKey, nil, false},
		{"invalid key", req{key: "a,b", raw: true, body: "a"}, http.StatusBadRequest, idemhttp.ProblemInvalidKey, idempotency.ErrInvalidKey, false},
		{"no credentials", req{key: "k", anon: true, body: "a"}, http.StatusUnauthorized, idemhttp.ProblemUnidentified, nil, false},
		{"in progress", req{key: "k", body: "a"}, http.StatusConflict, idemhttp.ProblemInProgress, idempotency.ErrInProgress, true},
		{"key reused", req{key: "k", body: "other"}, http.StatusUnprocessableEntity, idemhttp.ProblemKeyReused, idempotency.ErrKeyReused, false},
	} {
		seen = nil
		r := e.do(tc.r)
		var doc struct {
			Error struct{ Code, Message, Retry_After string }
		}
		if err := json.Unmarshal(r.body, &doc); err != nil || r.status != tc.status || doc.Error.Code != tc.problem || doc.Error.Message == "" {
			t.Fatalf("%s: %d %s (%v)", tc.name, r.status, r.body, err)
		}
		if len(seen) != 1 || seen[0].Status != tc.status || !strings.HasSuffix(seen[0].Type, tc.problem) || seen[0].Title == "" {
			t.Fatalf("%s: ErrorHandler got %+v", tc.name, seen)
		}
		if tc.cause != nil && !errors.Is(seen[0], tc.cause) {
			t.Fatalf("%s: error %v does not match %v", tc.name, seen[0], tc.cause)
		}
		if (doc.Error.Retry_After != "") != tc.retry || (seen[0].RetryAfter > 0) != tc.retry {
			t.Fatalf("%s: Retry-After %q, RetryAfter %d", tc.name, doc.Error.Retry_After, seen[0].RetryAfter)
		}
	}
	g.open()
	<-first
}

// storeCalls counts the claims and reads of a store, which it serves
// without notifications (no Watcher): a waiter polls it.
type storeCalls struct {
	idempotency.Store
	claims, gets atomic.Int64
}

func (s *storeCalls) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, req)
}

func (s *storeCalls) Get(ctx context.Context, key string) (idempotency.Record, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

// A waiting duplicate reads the record until it changes, backing off, and
// claims again only then: while the first request runs, however long the
// wait, the store sees the two requests' claims and nothing more of them.
func TestWaiterClaimsOnlyOnChange(t *testing.T) {
	t.Parallel()
	var c counter
	g := newGate()
	defer g.open()
	started := make(chan struct{}, 1)
	calls := &storeCalls{Store: memstore.New(&memstore.Options{SweepInterval: -1})}
	t.Cleanup(func() { _ = calls.Store.(*memstore.Store).Close() })
	e := newEnv(t, heldHandler(&c, g, started, http.StatusCreated), &envOptions{store: calls, mw: &idemhttp.Config{Wait: time.Minute}})
	first := make(chan *resp, 1)
	go func() { first <- e.do(req{key: "k", body: "b"}) }()
	<-started
	waiter := make(chan *resp, 1)
	waitStart := time.Now()
	go func() { waiter <- e.do(req{key: "k", body: "b"}) }()
	deadline := time.Now().Add(20 * time.Second)
	for calls.gets.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the waiter read the record %d times in 20 s", calls.gets.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if n := calls.claims.Load(); n != 2 {
		t.Fatalf("%d claims while the first request runs, want 2: the waiter claims again without a change", n)
	}
	// It polls no more often than every 5 ms (the first read at once):
	// however slow the machine, the reads are bounded by the time taken.
	if gets, took := calls.gets.Load(), time.Since(waitStart); gets > int64(took/(5*time.Millisecond))+2 {
		t.Fatalf("%d reads in %v: polling faster than every 5 ms", gets, took)
	}
	g.open()
	if r := <-first; r.status != http.StatusCreated {
		t.Fatalf("first: %d", r.status)
	}
	if r := <-waiter; r.status != http.StatusCreated || c.total() != 1 {
		t.Fatalf("waiter: %d after %d runs", r.status, c.total())
	}
}
