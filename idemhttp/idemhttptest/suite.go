// Package idemhttptest is a conformance suite for HTTP middleware that
// implements the Idempotency-Key header: idemhttp, a reverse proxy in front
// of an API, an adapter for another framework. Run it from a test with a
// factory that wraps the suite's application handler in the middleware
// under test:
//
//	func TestConformance(t *testing.T) {
//		idemhttptest.Run(t, func(t *testing.T, app http.Handler) http.Handler {
//			g := idempotency.New(nil, nil)
//			t.Cleanup(func() { g.Close() })
//			return idemhttp.New(g, nil)(app)
//		})
//	}
//
// The suite needs only the standard library and starts its own loopback
// servers (HTTP/1.1 and HTTP/2); it never waits on time, so it can run on
// loaded machines. idemhttp, idem proxy (run as a process, behind a
// reverse proxy of the test's) and the Echo and Gin adapters of
// examples/integrations pass it.
package idemhttptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Factory returns the middleware under test around app, the suite's
// application handler, with a store of its own (a fresh one per call).
// The middleware must:
//
//   - guard POST requests that carry an Idempotency-Key (a quoted string);
//   - keep clients apart by their Authorization header (each test sends
//     its own credentials, and one test two clients);
//   - answer a duplicate of a request still running with 409 Conflict at
//     once (no waiting), with Retry-After;
//   - keep 2xx and 4xx responses (except 408, 425, 429) and release 5xx
//     and 429 responses, so that their retries run the handler;
//   - store responses of at least 64 KiB, headers included.
//
// Error bodies may have any format.
type Factory func(t *testing.T, app http.Handler) http.Handler

// Header names of the draft.
const (
	headerKey      = "Idempotency-Key"
	headerReplayed = "Idempotent-Replayed"
)

// bound is how long anything the suite waits for may take.
const bound = 20 * time.Second

// Run runs the conformance suite against the middleware newHandler makes,
// over HTTP/1.1 and HTTP/2. Every subtest runs in parallel with the others.
func Run(t *testing.T, newHandler Factory) {
	t.Helper()
	for _, proto := range []struct {
		name  string
		http2 bool
	}{{"HTTP1", false}, {"HTTP2", true}} {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				fn   func(t *testing.T, s *suite)
			}{
				{"ReplayIsByteIdentical", testReplay},
				{"KeyReusedWithAnotherBody", testKeyReused},
				{"InProgressIs409WithRetryAfter", testInProgress},
				{"MalformedKeyIs400", testMalformedKey},
				{"FailuresAreReleased", testReleased},
				{"ClientErrorsAreKept", testKept},
				{"LargeResponseIsReplayed", testLarge},
				{"ClientsAreIsolated", testScopes},
				{"ConcurrentDuplicatesRunOnce", testConcurrent},
				{"Streaming", testStreaming},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, &suite{t: t, factory: newHandler, http2: proto.http2})
				})
			}
		})
	}
}

// suite serves one test.
type suite struct {
	t       *testing.T
	factory Factory
	http2   bool
	srv     *httptest.Server
	client  *http.Client
	auth    string // this test's client
}

// serve starts the middleware around app on loopback.
func (s *suite) serve(app http.Handler) {
	s.t.Helper()
	s.srv = httptest.NewUnstartedServer(s.factory(s.t, app))
	if s.http2 {
		s.srv.EnableHTTP2 = true
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.client = s.srv.Client()
	s.auth = "Bearer " + randomHex()
	s.t.Cleanup(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// response is a response read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) replayed() bool { return r.header.Get(headerReplayed) == "true" }

func (r *response) String() string { return fmt.Sprintf("%d %q", r.status, r.body) }

// post sends a POST with key ("" for none; sent as given when raw) and
// body as this test's client, or as auth if not "".
func (s *suite) post(ctx context.Context, path, key, body, auth string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if key != "" {
		req.Header.Set(headerKey, key)
	}
	if auth == "" {
		auth = s.auth
	}
	req.Header.Set("Authorization", auth)
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if s.http2 && res.ProtoMajor != 2 {
		return nil, fmt.Errorf("response over %s, want HTTP/2", res.Proto)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// do is post that fails the test on a transport error, bounded in time.
func (s *suite) do(path, key, body string) *response {
	s.t.Helper()
	return s.doAs("", path, key, body)
}

func (s *suite) doAs(auth, path, key, body string) *response {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	r, err := s.post(ctx, path, key, body, auth)
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

// runs counts the application's runs, the side effects that must not
// repeat, per request body.
type runs struct {
	mu sync.Mutex
	n  map[string]int
	t  int
}

func (c *runs) add(body string) (n, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[body]++
	c.t++
	return c.n[body], c.t
}

func (c *runs) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// payments answers 201 with headers and a body that name the run, so that
// a second run can never pass for a replay.
func payments(c *runs) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, total := c.add(string(body))
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Location", "/payments/"+strconv.Itoa(total))
		h.Add("X-Multi", "one")
		h.Add("X-Multi", "two, three")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"run":%d,"total":%d,"body":%q}`+"\n", n, total, body)
	})
}

// sameResponse fails unless replay is original replayed: same status,
// body byte for byte, headers but Date and framing, and the replay marker.
func sameResponse(t *testing.T, original, replay *response) {
	t.Helper()
	if !replay.replayed() || original.replayed() {
		t.Fatalf("replay marker: original %v, replay %v (replay %v)", original.replayed(), replay.replayed(), replay)
	}
	if replay.status != original.status || !bytes.Equal(replay.body, original.body) {
		t.Fatalf("replay %v, original %v", replay, original)
	}
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		for _, k := range []string{"Date", headerReplayed, "Content-Length", "Transfer-Encoding"} {
			h.Del(k)
		}
		return h
	}
	a, b := strip(original.header), strip(replay.header)
	if len(a) != len(b) {
		t.Fatalf("replayed headers %v, original %v", b, a)
	}
	for k, va := range a {
		if strings.Join(va, "\x00") != strings.Join(b[k], "\x00") {
			t.Fatalf("replayed %s %q, original %q", k, b[k], va)
		}
	}
}

// gate holds a handler until opened.
type gate struct {
	once sync.Once
	ch   chan struct{}
}

func newGate() *gate  { return &gate{ch: make(chan struct{})} }
func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// wait blocks until the gate opens, for at most bound.
func (g *gate) wait(t *testing.T) {
	select {
	case <-g.ch:
	case <-time.After(bound):
		t.Error("gate not opened within 20 s")
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(bound):
		t.Fatalf("%s: nothing within 20 s", what)
		panic("unreachable")
	}
}
