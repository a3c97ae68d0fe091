package idemhttptest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A retry gets the first response, byte for byte, marked replayed, and the
// handler runs once.
func testReplay(t *testing.T, s *suite) {
	var c runs
	s.serve(payments(&c))
	first := s.do("/payments", `"pay-1"`, `{"amount":100}`)
	if first.status != http.StatusCreated {
		t.Fatalf("first: %v", first)
	}
	for range 2 {
		sameResponse(t, first, s.do("/payments", `"pay-1"`, `{"amount":100}`))
	}
	if c.total() != 1 {
		t.Fatalf("handler ran %d times", c.total())
	}
	// Another key is another request.
	if r := s.do("/payments", `"pay-2"`, `{"amount":100}`); r.status != http.StatusCreated || r.replayed() || c.total() != 2 {
		t.Fatalf("other key: %v replayed=%v after %d runs", r, r.replayed(), c.total())
	}
}

// The same key with another body gets 422, without running the handler.
func testKeyReused(t *testing.T, s *suite) {
	var c runs
	s.serve(payments(&c))
	s.do("/payments", `"k"`, `{"amount":100}`)
	for _, other := range []string{`{"amount":999}`, ``} {
		if r := s.do("/payments", `"k"`, other); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("body %q: %v, want 422", other, r)
		}
	}
	if r := s.do("/refunds", `"k"`, `{"amount":100}`); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("other path: %v, want 422", r)
	}
	if c.total() != 1 {
		t.Fatalf("handler ran %d times", c.total())
	}
}

// A duplicate of a request still running gets 409 with a Retry-After of
// at least one second, and the handler does not run for it.
func testInProgress(t *testing.T, s *suite) {
	var c runs
	g := newGate()
	defer g.open()
	started := make(chan struct{}, 1)
	s.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		started <- struct{}{}
		g.wait(t)
		w.WriteHeader(http.StatusCreated)
	}))
	first := make(chan *response, 1)
	go func() {
		r, err := s.post(context.Background(), "/payments", `"k"`, "b", "")
		if err != nil {
			t.Error(err)
		}
		first <- r
	}()
	recv(t, started, "first request")
	r := s.do("/payments", `"k"`, "b")
	if r.status != http.StatusConflict {
		t.Fatalf("duplicate: %v, want 409", r)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("409 with Retry-After %q, want a number of seconds >= 1", r.header.Get("Retry-After"))
	}
	g.open()
	if r := recv(t, first, "first response"); r == nil || r.status != http.StatusCreated {
		t.Fatalf("first: %v", r)
	}
	if c.total() != 1 {
		t.Fatalf("handler ran %d times", c.total())
	}
}

// A malformed key gets 400 and the handler does not run.
func testMalformedKey(t *testing.T, s *suite) {
	var c runs
	s.serve(payments(&c))
	for _, key := range []string{`"a", "b"`, `""`, `"unterminated`, `"` + strings.Repeat("k", 4096) + `"`} {
		if r := s.do("/payments", key, "b"); r.status != http.StatusBadRequest {
			t.Fatalf("key %.20q: %v, want 400", key, r)
		}
	}
	if c.total() != 0 {
		t.Fatalf("handler ran %d times", c.total())
	}
}

// A 5xx, 408, 425 or 429 response is released: the retry runs the
// handler again, and its response is the one kept.
func testReleased(t *testing.T, s *suite) {
	var c runs
	s.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The path names the first answer: /status/503.
		status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if n, _ := c.add(r.URL.Path); n > 1 {
			status = http.StatusCreated
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answered "+strconv.Itoa(status))
	}))
	statuses := []int{500, 502, 503, 408, 425, 429}
	for _, status := range statuses {
		path, key := "/status/"+strconv.Itoa(status), `"`+strconv.Itoa(status)+`"`
		if r := s.do(path, key, ""); r.status != status {
			t.Fatalf("first: %v, want %d", r, status)
		}
		if r := s.do(path, key, ""); r.status != http.StatusCreated || r.replayed() {
			t.Fatalf("%d, retry: %v replayed=%v; want the handler run again", status, r, r.replayed())
		}
		if r := s.do(path, key, ""); r.status != http.StatusCreated || !r.replayed() {
			t.Fatalf("%d, second retry: %v replayed=%v; want the 201 replayed", status, r, r.replayed())
		}
	}
	if c.total() != 2*len(statuses) {
		t.Fatalf("handler ran %d times, want %d", c.total(), 2*len(statuses))
	}
}

// 2xx and 4xx responses are kept: a retry gets the first response,
// replayed, and the handler does not run again.
func testKept(t *testing.T, s *suite) {
	var c runs
	s.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, total := c.add(r.URL.Path)
		status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.Header().Set("X-Run", strconv.Itoa(total))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answered "+strconv.Itoa(status)+" in run "+strconv.Itoa(total))
	}))
	statuses := []int{200, 202, 400, 403, 404, 409, 410}
	for _, status := range statuses {
		path, key := "/status/"+strconv.Itoa(status), `"`+strconv.Itoa(status)+`"`
		first := s.do(path, key, "")
		if first.status != status {
			t.Fatalf("first: %v, want %d", first, status)
		}
		sameResponse(t, first, s.do(path, key, ""))
	}
	if c.total() != len(statuses) {
		t.Fatalf("handler ran %d times, want %d", c.total(), len(statuses))
	}
}

// A response of nearly 64 KiB, headers included, is kept and replayed
// byte for byte.
func testLarge(t *testing.T, s *suite) {
	var c runs
	s.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, total := c.add("x")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusCreated)
		// Bytes that no compression shrinks, naming the run.
		_, _ = io.WriteString(w, strconv.Itoa(total)+" "+randomHex())
		for range (63 << 10) / 24 {
			_, _ = io.WriteString(w, randomHex())
		}
	}))
	first := s.do("/exports", `"large"`, "")
	if first.status != http.StatusCreated || len(first.body) < 62<<10 {
		t.Fatalf("first: %d, %d bytes", first.status, len(first.body))
	}
	sameResponse(t, first, s.do("/exports", `"large"`, ""))
	if c.total() != 1 {
		t.Fatalf("handler ran %d times", c.total())
	}
}

// Two clients sending the same key and body each run once and each get
// their own response: one client's key never replays another's.
func testScopes(t *testing.T, s *suite) {
	var c runs
	s.serve(payments(&c))
	alice, bob := "Bearer alice-"+randomHex(), "Bearer bob-"+randomHex()
	a := s.doAs(alice, "/payments", `"order-1"`, "100")
	b := s.doAs(bob, "/payments", `"order-1"`, "100")
	if a.status != http.StatusCreated || b.status != http.StatusCreated || b.replayed() || bytes.Equal(a.body, b.body) {
		t.Fatalf("second client: %v replayed=%v, first %v", b, b.replayed(), a)
	}
	sameResponse(t, a, s.doAs(alice, "/payments", `"order-1"`, "100"))
	sameResponse(t, b, s.doAs(bob, "/payments", `"order-1"`, "100"))
	if c.total() != 2 {
		t.Fatalf("handler ran %d times, want 2", c.total())
	}
}

// 50 concurrent requests with one key run the handler once; every other
// gets 409 or the replay.
func testConcurrent(t *testing.T, s *suite) {
	const n = 50
	var c runs
	s.serve(payments(&c))
	results := make(chan *response, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			r, err := s.post(ctx, "/payments", `"same"`, "100", "")
			if err != nil {
				t.Error(err)
				return
			}
			results <- r
		}()
	}
	wg.Wait()
	close(results)
	var first *response
	var replays []*response
	for r := range results {
		switch {
		case r.status == http.StatusConflict:
		case r.replayed():
			replays = append(replays, r)
		case r.status == http.StatusCreated && first == nil:
			first = r
		default:
			t.Fatalf("unexpected response %v (first %v)", r, first)
		}
	}
	if c.total() != 1 || first == nil {
		t.Fatalf("handler ran %d times, original response %v", c.total(), first)
	}
	for _, r := range replays {
		sameResponse(t, first, r)
	}
	sameResponse(t, first, s.do("/payments", `"same"`, "100"))
}

// A streamed response reaches the client as it is written, before the
// handler returns, and is replayed whole.
func testStreaming(t *testing.T, s *suite) {
	var c runs
	got := make(chan struct{})
	var once sync.Once
	s.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "first line\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the middleware: %v", err)
		}
		select { // the client read the first line while the handler runs
		case <-got:
		case <-time.After(bound):
			t.Error("the first line did not reach the client within 20 s of its flush")
		}
		_, _ = io.WriteString(w, strings.Repeat("more\n", 1000))
	}))
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+"/events", nil)
	req.Header.Set(headerKey, `"stream"`)
	req.Header.Set("Authorization", s.auth)
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line := make([]byte, len("first line\n"))
	if _, err := io.ReadFull(res.Body, line); err != nil || string(line) != "first line\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	once.Do(func() { close(got) })
	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	first := &response{status: res.StatusCode, header: res.Header, body: append(line, rest...)}
	sameResponse(t, first, s.do("/events", `"stream"`, ""))
	if c.total() != 1 {
		t.Fatalf("handler ran %d times", c.total())
	}
}
