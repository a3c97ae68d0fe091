package idemhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/internal/teststore"
	"github.com/idempotency-go/idempotency/memstore"
)

// gate blocks handler runs until opened.
type gate struct {
	once sync.Once
	ch   chan struct{}
}

func newGate() *gate   { return &gate{ch: make(chan struct{})} }
func (g *gate) open()  { g.once.Do(func() { close(g.ch) }) }
func (g *gate) block() { <-g.ch }

func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	t.Parallel()
	const n = 100
	for _, tc := range []struct {
		name string
		wait time.Duration
		// gated holds the first run until every request was answered
		// (409 at once) or, with wait, until every request arrived (or,
		// with maxWaiters, until every request that cannot wait was
		// answered).
		gated      bool
		maxWaiters int
	}{
		{name: "no wait, first run held: 409 for the rest", gated: true},
		{name: "no wait, free running: 409 or replay"},
		{name: "wait: all replay", wait: time.Minute, gated: true, maxWaiters: n},
		{name: "wait: 5 waiters replay, the rest 409 at once", wait: time.Minute, gated: true, maxWaiters: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			g := newGate()
			if !tc.gated {
				g.open()
			}
			var arrived atomic.Int64
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				g.block()
				paymentHandler(&c).ServeHTTP(w, r)
			}), &envOptions{
				mw: &idemhttp.Config{Wait: tc.wait, MaxWaiters: tc.maxWaiters},
				outer: func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if arrived.Add(1) == n && tc.wait > 0 && tc.maxWaiters == n {
							g.open() // every duplicate is waiting or about to claim
						}
						h.ServeHTTP(w, r)
					})
				},
			})
			defer g.open()

			results := make(chan *resp, n)
			var answered atomic.Int64
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.do(req{key: "pay-1", body: `{"amount":100}`})
					results <- r
					switch a := answered.Add(1); {
					case a == n-1 && tc.wait == 0:
						g.open() // all but the first run were answered
					case a == n-1-int64(tc.maxWaiters) && tc.wait > 0 && tc.maxWaiters < n:
						g.open() // all but the first run and the waiters were answered
					}
				}()
			}
			wg.Wait()
			close(results)

			var first *resp
			var conflicts, replays []*resp
			for r := range results {
				switch {
				case r.status == http.StatusConflict:
					r.wantProblem(t, http.StatusConflict, idemhttp.ProblemInProgress)
					conflicts = append(conflicts, r)
				case r.replayed():
					replays = append(replays, r)
				case r.status == http.StatusCreated:
					if first != nil {
						t.Fatalf("two original responses:\n%s\n%s", first.body, r.body)
					}
					first = r
				default:
					t.Fatalf("unexpected response %d %s", r.status, r.body)
				}
			}
			if got := c.total(); got != 1 {
				t.Fatalf("handler ran %d times, want 1", got)
			}
			if first == nil {
				t.Fatal("no original response")
			}
			for _, r := range replays {
				sameResponse(t, first, r)
			}
			switch {
			case tc.wait > 0 && len(replays) != min(n-1, tc.maxWaiters):
				t.Fatalf("%d replays, %d conflicts; want %d replays", len(replays), len(conflicts), min(n-1, tc.maxWaiters))
			case tc.gated && tc.wait == 0 && len(conflicts) != n-1:
				t.Fatalf("%d conflicts, %d replays; want %d conflicts", len(conflicts), len(replays), n-1)
			}
			// Once the first request finished, a retry replays it.
			sameResponse(t, first, e.do(req{key: "pay-1", body: `{"amount":100}`}))
			if got := c.total(); got != 1 {
				t.Fatalf("handler ran %d times after the retry, want 1", got)
			}
		})
	}
}

func TestReplayIsByteIdentical(t *testing.T) {
	t.Parallel()
	var c counter
	payload := make([]byte, 70_000) // binary, past net/http's buffering
	for i := range payload {
		payload[i] = byte(i*7 + i/256)
	}
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := c.add("x")
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", `"v`+itoa(n)+`"`)
		h["X-Raw-Case"] = []string{"kept as sent"} // not canonical
		h.Add("X-Multi", "a")
		h.Add("X-Multi", "b")
		h.Set("Set-Cookie", "session=secret-"+itoa(n))
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "hop-by-hop")
		h.Set("Cache-Control", "private")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(payload[:100])
		_, _ = w.Write(payload[100:])
	}), nil)

	first := e.do(req{key: "k", body: "same"})
	if first.status != http.StatusAccepted || !bytes.Equal(first.body, payload) || first.header.Get("Set-Cookie") == "" {
		t.Fatalf("first response %d, %d bytes, cookie %q", first.status, len(first.body), first.header.Get("Set-Cookie"))
	}
	replay := e.do(req{key: "k", body: "same"})
	if c.get("x") != 1 {
		t.Fatalf("handler ran %d times", c.get("x"))
	}
	if got := replay.header.Get("Set-Cookie"); got != "" {
		t.Fatalf("replay carries Set-Cookie %q", got)
	}
	if got := replay.header.Get("X-Hop"); got != "" {
		t.Fatalf("replay carries the hop-by-hop header X-Hop: %q", got)
	}
	// Apart from the omitted headers and framing, the replay is the original.
	first.header.Del("Set-Cookie")
	first.header.Del("X-Hop")
	first.header.Del("Connection")
	for _, r := range []*resp{first, replay} {
		r.header.Del("Content-Length")
		r.header.Del("Transfer-Encoding")
	}
	sameResponse(t, first, replay)
	if _, ok := replay.header["X-Raw-Case"]; !ok {
		t.Fatalf("non-canonical header name not replayed as sent: %v", replay.header)
	}

	// The secret never reached the store.
	rec, err := e.store.Get(context.Background(), recordKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.Value, []byte("secret")) || bytes.Contains(rec.Value, []byte("hop-by-hop")) {
		t.Fatalf("stored record holds an omitted header: %s", rec.Value[:200])
	}
}

func TestSniffedContentTypeIsReplayed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"html in one write", func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html><body>paid</body></html>")) }},
		{"text in small writes", func(w http.ResponseWriter) {
			for range 100 {
				_, _ = w.Write([]byte("paid "))
			}
		}},
		{"flushed before the body", func(w http.ResponseWriter) {
			_ = http.NewResponseController(w).Flush()
			_, _ = w.Write([]byte("<html>late</html>"))
		}},
		{"explicitly no type", func(w http.ResponseWriter) {
			w.Header()["Content-Type"] = nil
			_, _ = w.Write([]byte("<html>untyped</html>"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.write(w) }), nil)
			first := e.do(req{key: "k"})
			replay := e.do(req{key: "k"})
			if a, b := first.header["Content-Type"], replay.header["Content-Type"]; strings.Join(a, ",") != strings.Join(b, ",") {
				t.Fatalf("Content-Type: replay %q, original %q", b, a)
			}
			if !bytes.Equal(first.body, replay.body) || !replay.replayed() {
				t.Fatalf("replay differs: %q vs %q", replay.body, first.body)
			}
		})
	}
}

func TestKeyReusedWithAnotherRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		second req
	}{
		{"other body", req{key: "k", body: `{"amount":200}`}},
		{"other path", req{key: "k", path: "/refunds", body: `{"amount":100}`}},
		{"other query", req{key: "k", path: "/payments?currency=EUR", body: `{"amount":100}`}},
		{"other method", req{key: "k", method: http.MethodPatch, body: `{"amount":100}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, paymentHandler(&c), nil)
			first := e.do(req{key: "k", body: `{"amount":100}`})
			if first.status != http.StatusCreated {
				t.Fatalf("first: %d %s", first.status, first.body)
			}
			e.do(tc.second).wantProblem(t, http.StatusUnprocessableEntity, idemhttp.ProblemKeyReused)
			if got := c.total(); got != 1 {
				t.Fatalf("handler ran %d times", got)
			}
			// The key still replays its own request.
			sameResponse(t, first, e.do(req{key: "k", body: `{"amount":100}`}))
		})
	}
}

func TestMissingAndInvalidKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		required bool
		header   []string // Idempotency-Key field lines; nil: none
		status   int      // 0: passed through to the handler
		problem  string
	}{
		{name: "missing, optional: passes through", header: nil},
		{name: "missing, required", required: true, status: 400, problem: idemhttp.ProblemMissingKey},
		{name: "empty string", header: []string{`""`}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "empty field", header: []string{``}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "two keys in one line", header: []string{`"a", "b"`}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "two lines", header: []string{`"a"`, `"b"`}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "unterminated", header: []string{`"abc`}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "too long", header: []string{`"` + strings.Repeat("k", 256) + `"`}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "non-ASCII", header: []string{"\"caf\xc3\xa9\""}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "bad token", header: []string{`a b`}, status: 400, problem: idemhttp.ProblemInvalidKey},
		{name: "longest key", header: []string{`"` + strings.Repeat("k", 255) + `"`}, status: 201},
		{name: "bare UUID", header: []string{`8e03978e-40d5-43e8-bc93-6894a57f9324`}, status: 201},
		{name: "with parameters", header: []string{`"k";v=1;x`}, status: 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, paymentHandler(&c), &envOptions{mw: &idemhttp.Config{Required: tc.required}})
			h := http.Header{}
			for _, v := range tc.header {
				h.Add(idemhttp.HeaderKey, v)
			}
			r := e.do(req{header: h, body: "b"})
			switch {
			case tc.status == 0:
				// Unguarded: every request runs.
				e.do(req{header: h, body: "b"})
				if r.status != http.StatusCreated || c.total() != 2 {
					t.Fatalf("status %d, %d runs; want 201 and 2 runs", r.status, c.total())
				}
			case tc.problem != "":
				r.wantProblem(t, tc.status, tc.problem)
				if c.total() != 0 {
					t.Fatalf("handler ran %d times", c.total())
				}
			default:
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if again := e.do(req{header: h, body: "b"}); !again.replayed() || c.total() != 1 {
					t.Fatalf("second request not replayed (%d runs)", c.total())
				}
			}
		})
	}
}

func TestClientsAreIsolated(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := c.add(r.Header.Get("X-Client"))
		_, _ = w.Write([]byte("client " + r.Header.Get("X-Client") + " run " + itoa(n) + " of " + itoa(c.total())))
	}), &envOptions{mw: &idemhttp.Config{Scope: func(r *http.Request) string { return r.Header.Get("X-Client") }}})
	as := func(client, key string) *resp {
		return e.do(req{key: key, body: "same", header: http.Header{"X-Client": {client}}})
	}
	alice := as("alice", "k")
	bob := as("bob", "k")
	if c.get("alice") != 1 || c.get("bob") != 1 {
		t.Fatalf("runs: alice %d, bob %d; want 1 each", c.get("alice"), c.get("bob"))
	}
	if bob.replayed() || string(bob.body) != "client bob run 1 of 2" {
		t.Fatalf("bob got %q (replayed %v)", bob.body, bob.replayed())
	}
	sameResponse(t, alice, as("alice", "k"))
	sameResponse(t, bob, as("bob", "k"))

	// Scope and key never run together: "a"+"bc" is not "ab"+"c".
	ab := as("a", "bc")
	abc := as("ab", "c")
	if ab.replayed() || abc.replayed() || c.get("a") != 1 || c.get("ab") != 1 {
		t.Fatalf("scope/key boundary: %q, %q", ab.body, abc.body)
	}
	if idemhttp.RecordKey("", "a", "bc") == idemhttp.RecordKey("", "ab", "c") {
		t.Fatal("RecordKey is ambiguous")
	}
}

func TestServerErrorsReleaseTheKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store bool // Config.StoreServerErrors
	}{
		{name: "released: retry runs again"},
		{name: "stored: retry replays", store: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n := c.add("x"); n == 1 {
					http.Error(w, "payment provider down", http.StatusBadGateway)
					return
				}
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte("paid"))
			}), &envOptions{mw: &idemhttp.Config{StoreServerErrors: tc.store}})
			first := e.do(req{key: "k"})
			if first.status != http.StatusBadGateway {
				t.Fatalf("first: %d", first.status)
			}
			retry := e.do(req{key: "k"})
			if tc.store {
				sameResponse(t, first, retry)
				if c.get("x") != 1 {
					t.Fatalf("handler ran %d times", c.get("x"))
				}
				return
			}
			if retry.status != http.StatusCreated || retry.replayed() || c.get("x") != 2 {
				t.Fatalf("retry: %d %q replayed=%v, %d runs", retry.status, retry.body, retry.replayed(), c.get("x"))
			}
			sameResponse(t, retry, e.do(req{key: "k"}))
		})
	}
}

func TestPanicReleasesTheKeyAndGoesOn(t *testing.T) {
	t.Parallel()
	var c counter
	var recovered atomic.Value
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.add("x") == 1 {
			panic("card declined by a bug")
		}
		_, _ = w.Write([]byte("paid"))
	}), &envOptions{outer: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					recovered.Store(p)
					http.Error(w, "internal error", http.StatusInternalServerError)
				}
			}()
			h.ServeHTTP(w, r)
		})
	}})
	if r := e.do(req{key: "k"}); r.status != http.StatusInternalServerError {
		t.Fatalf("first: %d", r.status)
	}
	if p := recovered.Load(); p != "card declined by a bug" {
		t.Fatalf("recovery middleware saw %v", p)
	}
	retry := e.do(req{key: "k"})
	if retry.status != http.StatusOK || string(retry.body) != "paid" || c.get("x") != 2 {
		t.Fatalf("retry: %d %q, %d runs", retry.status, retry.body, c.get("x"))
	}
	sameResponse(t, retry, e.do(req{key: "k"}))
}

func TestPanicReachesNetHTTP(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.add("x") == 1 {
			panic(http.ErrAbortHandler)
		}
		_, _ = w.Write([]byte("ok"))
	}), nil)
	if _, err := e.send(context.Background(), req{key: "k"}); err == nil {
		t.Fatal("aborted handler: the client got a response")
	}
	if r := e.do(req{key: "k"}); r.status != http.StatusOK || c.get("x") != 2 {
		t.Fatalf("retry: %d, %d runs", r.status, c.get("x"))
	}
}

func TestRequestBody(t *testing.T) {
	t.Parallel()
	var c counter
	var got atomic.Value
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		got.Store(buf.String())
		if r.ContentLength != int64(buf.Len()) {
			t.Errorf("ContentLength %d, body %d bytes", r.ContentLength, buf.Len())
		}
	}), &envOptions{mw: &idemhttp.Config{MaxRequestBytes: 1000}})

	body := strings.Repeat("0123456789", 100) // exactly the limit
	if r := e.do(req{key: "fits", body: body}); r.status != http.StatusOK {
		t.Fatalf("body at the limit: %d %s", r.status, r.body)
	}
	if got.Load() != body {
		t.Fatalf("handler got %d bytes, want the body intact", len(got.Load().(string)))
	}

	e.do(req{key: "big", body: body + "!"}).wantProblem(t, http.StatusRequestEntityTooLarge, idemhttp.ProblemRequestTooLarge)
	if c.get("x") != 1 {
		t.Fatalf("handler ran for an oversized body")
	}
	if _, err := e.store.Get(context.Background(), idemhttp.RecordKey("", "", "big")); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("oversized request left a record: %v", err)
	}
	// Unguarded requests are not bounded or read by the middleware.
	if r := e.do(req{body: body + body}); r.status != http.StatusOK || got.Load() != body+body {
		t.Fatalf("unguarded request: %d", r.status)
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		methods []string
		method  string
		guarded bool
	}{
		{"POST by default", nil, http.MethodPost, true},
		{"PATCH by default", nil, http.MethodPatch, true},
		{"PUT not by default", nil, http.MethodPut, false},
		{"GET not by default", nil, http.MethodGet, false},
		{"PUT configured", []string{http.MethodPut}, http.MethodPut, true},
		{"POST not configured", []string{http.MethodPut}, http.MethodPost, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, paymentHandler(&c), &envOptions{mw: &idemhttp.Config{Methods: tc.methods}})
			e.do(req{method: tc.method, key: "k"})
			second := e.do(req{method: tc.method, key: "k"})
			want := 2
			if tc.guarded {
				want = 1
			}
			if c.total() != want || second.replayed() != tc.guarded {
				t.Fatalf("%d runs, replayed %v; want %d runs", c.total(), second.replayed(), want)
			}
		})
	}
}

func TestStoreDownFailsClosed(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, paymentHandler(&c), &envOptions{})
	down := newEnv(t, paymentHandler(&c), &envOptions{store: teststore.Down(e.store)})
	r := down.do(req{key: "k"})
	r.wantProblem(t, http.StatusServiceUnavailable, idemhttp.ProblemStore)
	if r.header.Get("Retry-After") == "" || c.total() != 0 {
		t.Fatalf("Retry-After %q, %d runs", r.header.Get("Retry-After"), c.total())
	}
}

// clock is a hand-moved clock for memstore.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestAbandonedUnderNoTakeover(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var c counter
	g := newGate()
	started := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		close(started)
		g.block()
	}), &envOptions{now: clk.Now, guard: &idempotency.Config{NoTakeover: true, Lease: time.Hour}})
	defer g.open()

	done := make(chan *resp)
	go func() { done <- e.do(req{key: "k"}) }()
	<-started
	clk.Advance(2 * time.Hour) // the first request stalled past its lease
	e.do(req{key: "k"}).wantProblem(t, http.StatusConflict, idemhttp.ProblemAbandoned)
	g.open()
	<-done
	if c.get("x") != 1 {
		t.Fatalf("handler ran %d times", c.get("x"))
	}
}

func TestCorruptRecordIsNotReplayed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		value string
	}{
		{"not JSON", "\x00garbage"},
		{"status zero", `{"status":0}`},
		{"informational status", `{"status":100,"body":"aGk="}`},
		{"header splitting", `{"status":200,"header":{"X-A":["a\r\nSet-Cookie: x=1"]}}`},
		{"bad header name", `{"status":200,"header":{"Bad Name":["v"]}}`},
		{"hop-by-hop header", `{"status":200,"header":{"Transfer-Encoding":["chunked"]}}`},
		// Well-formed records of the middleware's own format whose content
		// a replay must not write.
		{"encoded header splitting", string(idemhttp.EncodeStored(200, http.Header{"X-A": {"a\r\nSet-Cookie: x=1"}}, nil, "hi"))},
		{"encoded bad header name", string(idemhttp.EncodeStored(200, http.Header{"Bad Name": {"v"}}, nil, "hi"))},
		{"encoded hop-by-hop header", string(idemhttp.EncodeStored(200, http.Header{"Connection": {"close"}}, nil, "hi"))},
		{"encoded trailer splitting", string(idemhttp.EncodeStored(200, nil, http.Header{"X-T": {"a\nSet-Cookie: x=1"}}, "hi"))},
		{"encoded informational status", string(idemhttp.EncodeStored(101, nil, nil, ""))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, paymentHandler(&c), nil)
			e.do(req{key: "k", body: "b"})
			ctx := context.Background()
			key := recordKey("k")
			rec, err := e.store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			// Rewrite the record with the same fingerprint and a bad value.
			if err := e.store.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			cl, err := e.store.Claim(ctx, idempotency.ClaimRequest{Key: key, Fingerprint: rec.Fingerprint, Lease: time.Minute, TTL: time.Hour})
			if err != nil || !cl.Acquired {
				t.Fatalf("claim: %v %v", cl, err)
			}
			if err := e.store.Complete(ctx, key, cl.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte(tc.value), TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			r := e.do(req{key: "k", body: "b"})
			r.wantProblem(t, http.StatusInternalServerError, idemhttp.ProblemUnavailable)
			if r.header.Get("Set-Cookie") != "" || c.total() != 1 {
				t.Fatalf("Set-Cookie %q, %d runs", r.header.Get("Set-Cookie"), c.total())
			}
		})
	}
}

func TestOuterMiddlewareHeadersAreNotReplayed(t *testing.T) {
	t.Parallel()
	var ids atomic.Int64
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler", "h")
		_, _ = w.Write([]byte("ok"))
	}), &envOptions{outer: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", "req-"+itoa(int(ids.Add(1))))
			h.ServeHTTP(w, r)
		})
	}})
	first := e.do(req{key: "k"})
	replay := e.do(req{key: "k"})
	if !replay.replayed() || replay.header.Get("X-Handler") != "h" {
		t.Fatalf("replay: %v", replay.header)
	}
	if a, b := first.header.Get("X-Request-Id"), replay.header.Get("X-Request-Id"); a != "req-1" || b != "req-2" {
		t.Fatalf("request ids: first %q, replay %q; want the replay's own", a, b)
	}
}

func TestTokenInHandlerContext(t *testing.T) {
	t.Parallel()
	var tokens sync.Map
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := idempotency.TokenFrom(r.Context())
		if !ok {
			t.Error("no token in the handler's context")
		}
		tokens.Store(tok, true)
		_ = json.NewEncoder(w).Encode(tok)
	}), nil)
	a := e.do(req{key: "a"})
	b := e.do(req{key: "b"})
	if bytes.Equal(a.body, b.body) {
		t.Fatalf("two executions share token %s", a.body)
	}
	sameResponse(t, a, e.do(req{key: "a"}))
}

func TestRecordTTL(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var c counter
	e := newEnv(t, paymentHandler(&c), &envOptions{now: clk.Now, mw: &idemhttp.Config{TTL: time.Hour}})
	e.do(req{key: "k"})
	clk.Advance(59 * time.Minute)
	if !e.do(req{key: "k"}).replayed() {
		t.Fatal("not replayed within the TTL")
	}
	clk.Advance(2 * time.Minute)
	if r := e.do(req{key: "k"}); r.replayed() || c.total() != 2 {
		t.Fatalf("past the TTL: replayed %v, %d runs", r.replayed(), c.total())
	}
}

func TestNewPanicsOnBadConfig(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	for _, tc := range []struct {
		name string
		g    *idempotency.Guard
		cfg  *idemhttp.Config
	}{
		{"nil guard", nil, nil},
		{"negative request limit", g, &idemhttp.Config{MaxRequestBytes: -1}},
		{"negative response limit", g, &idemhttp.Config{MaxResponseBytes: -1}},
		{"key length too large", g, &idemhttp.Config{MaxKeyLength: 5000}},
		{"negative TTL", g, &idemhttp.Config{TTL: -time.Hour}},
		{"negative MaxWaiters", g, &idemhttp.Config{MaxWaiters: -1}},
		{"blank ScopeHeaders name", g, &idemhttp.Config{ScopeHeaders: []string{"X-Api-Key", " "}}},
		{"ScopeHeaders name with a colon", g, &idemhttp.Config{ScopeHeaders: []string{"X-Api-Key:"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				p := recover()
				if s, _ := p.(string); !strings.HasPrefix(s, "idempotency: ") {
					t.Fatalf("panic %v, want an idempotency: message", p)
				}
			}()
			idemhttp.New(tc.g, tc.cfg)
		})
	}
}

func TestGuardPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		guard   idempotency.Config
		status  int // the handler's first answer
		problem string
		code    int // what the retry gets
	}{
		{"Remember: a 5xx is final", idempotency.Config{OnFailure: idempotency.Remember}, http.StatusServiceUnavailable, idemhttp.ProblemFailed, http.StatusInternalServerError},
		{"Reject: no replay", idempotency.Config{OnDuplicate: idempotency.Reject}, http.StatusCreated, idemhttp.ProblemDuplicate, http.StatusConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.add("x")
				w.WriteHeader(tc.status)
			}), &envOptions{guard: &tc.guard})
			if r := e.do(req{key: "k"}); r.status != tc.status {
				t.Fatalf("first: %d", r.status)
			}
			e.do(req{key: "k"}).wantProblem(t, tc.code, tc.problem)
			if c.get("x") != 1 {
				t.Fatalf("handler ran %d times", c.get("x"))
			}
		})
	}
}

// completeFails records nothing: every Complete fails.
type completeFails struct{ idempotency.Store }

func (completeFails) Complete(context.Context, string, idempotency.Token, idempotency.Outcome) error {
	return errors.New("disk full")
}

func TestUnrecordedResponseStillReachesTheClient(t *testing.T) {
	t.Parallel()
	var c counter
	s := memstore.New(&memstore.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	e := newEnv(t, paymentHandler(&c), &envOptions{store: completeFails{s}})
	r := e.do(req{key: "k", body: "b"})
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != http.StatusCreated || got["run"] != float64(1) {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	// The claim stays until its lease lapses: a retry meanwhile is told to
	// wait, not run again.
	e.do(req{key: "k", body: "b"}).wantProblem(t, http.StatusConflict, idemhttp.ProblemInProgress)
	if c.total() != 1 {
		t.Fatalf("handler ran %d times", c.total())
	}
}

// A record key (prefix, scope and key) of up to idempotency.MaxKeyLen
// bytes is guarded; one byte more cannot be, and gets 500 without a run.
func TestScopeTooLong(t *testing.T) {
	t.Parallel()
	// The scope that makes the record key of "k" exactly MaxKeyLen long.
	n := idempotency.MaxKeyLen - len(idemhttp.RecordKey("", "", "k"))
	for len(idemhttp.RecordKey("", strings.Repeat("s", n), "k")) > idempotency.MaxKeyLen {
		n--
	}
	for _, tc := range []struct {
		name  string
		scope string
		runs  int
	}{
		{"AtTheLimit", strings.Repeat("s", n), 1},
		{"OneOver", strings.Repeat("s", n+1), 0},
		{"FarOver", strings.Repeat("s", idempotency.MaxKeyLen), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, paymentHandler(&c), &envOptions{mw: &idemhttp.Config{
				Scope: func(*http.Request) string { return tc.scope },
			}})
			recKey := idemhttp.RecordKey("", tc.scope, "k")
			r := e.do(req{key: "k"})
			if tc.runs == 0 {
				r.wantProblem(t, http.StatusInternalServerError, idemhttp.ProblemInternal)
			} else if _, err := e.guard.Lookup(context.Background(), recKey); r.status != http.StatusCreated || len(recKey) != idempotency.MaxKeyLen || err != nil {
				t.Fatalf("status %d, record key of %d bytes: %v; want 201 and a record under a key of %d bytes", r.status, len(recKey), err, idempotency.MaxKeyLen)
			}
			if c.total() != tc.runs {
				t.Fatalf("handler ran %d times, want %d", c.total(), tc.runs)
			}
		})
	}
}
