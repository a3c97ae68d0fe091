package idemhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/memstore"
)

// env is a real http.Server on loopback serving a handler behind the
// middleware, with its own store, guard and client.
type env struct {
	t      *testing.T
	store  *memstore.Store
	guard  *idempotency.Guard
	srv    *httptest.Server
	client *http.Client
	served chan struct{} // a value each time the middleware's ServeHTTP returned
	http2  bool
}

type envOptions struct {
	guard *idempotency.Config
	mw    *idemhttp.Config
	store idempotency.Store // default: a fresh memstore
	now   func() time.Time  // the memstore's clock
	// outer wraps the guarded handler (a recovery or request-id
	// middleware).
	outer func(http.Handler) http.Handler
	// http2 serves over TLS with HTTP/2.
	http2 bool
}

func newEnv(t *testing.T, h http.Handler, o *envOptions) *env {
	t.Helper()
	if o == nil {
		o = &envOptions{}
	}
	e := &env{t: t, store: memstore.New(&memstore.Options{Now: o.now, SweepInterval: -1}), served: make(chan struct{}, 1000)}
	var store idempotency.Store = e.store
	if o.store != nil {
		store = o.store
	}
	e.guard = idempotency.New(store, o.guard)
	mw := o.mw
	if mw == nil || mw.Scope == nil && mw.ScopeSecret == nil && !mw.SharedKeySpace {
		// The default scope, under a secret the test knows (recordKey).
		c := idemhttp.Config{}
		if mw != nil {
			c = *mw
		}
		c.ScopeSecret, mw = testSecret, &c
	}
	guarded := idemhttp.New(e.guard, mw)(h)
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case e.served <- struct{}{}:
			default:
			}
		}()
		guarded.ServeHTTP(w, r)
	})
	if o.outer != nil {
		handler = o.outer(handler)
	}
	e.srv = httptest.NewUnstartedServer(handler)
	e.srv.Config.ErrorLog = discardLog()
	var tr *http.Transport
	if e.http2 = o.http2; o.http2 {
		e.srv.EnableHTTP2 = true
		e.srv.StartTLS()
		tr = e.srv.Client().Transport.(*http.Transport)
	} else {
		e.srv.Start()
		tr = &http.Transport{MaxIdleConnsPerHost: 200}
	}
	e.client = &http.Client{Transport: tr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		e.srv.Close()
		_ = e.store.Close()
	})
	return e
}

// recordKey is the record key of key sent by the default client under the
// default scope.
func recordKey(key string) string {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", defaultAuth)
	return idemhttp.RecordKey("", idemhttp.CredentialScope(testSecret)(r), key)
}

// waitServed waits until the middleware has answered one more request
// (its record settled), for at most 20 s.
func (e *env) waitServed() {
	e.t.Helper()
	select {
	case <-e.served:
	case <-time.After(20 * time.Second):
		e.t.Fatal("the middleware did not return within 20 s")
	}
}

// resp is a response read in full.
type resp struct {
	status  int
	header  http.Header
	body    []byte
	trailer http.Header
}

func (r *resp) replayed() bool { return r.header.Get(idemhttp.HeaderReplayed) == "true" }

// problem decodes a problem+json body, failing the test if it is not one.
func (r *resp) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (status %d, body %q)", ct, r.status, r.body)
	}
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	if int(p["status"].(float64)) != r.status {
		t.Fatalf("problem status %v, response status %d", p["status"], r.status)
	}
	if d, _ := p["detail"].(string); d == "" {
		t.Fatalf("problem without detail: %s", r.body)
	}
	return p
}

// wantProblem checks status and problem type.
func (r *resp) wantProblem(t *testing.T, status int, name string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	p := r.problem(t)
	if p["type"] != idemhttp.DefaultProblemBase+name {
		t.Fatalf("problem type %v, want %s", p["type"], idemhttp.DefaultProblemBase+name)
	}
}

// req describes a request; key "" sends no Idempotency-Key header, and a
// key is sent quoted unless raw is set. Requests carry the credentials of
// one client (defaultAuth) unless header sets Authorization or anon is
// set.
type req struct {
	method, path, key, body string
	raw                     bool
	anon                    bool
	header                  http.Header
}

// testSecret is the ScopeSecret of tests that need one.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// defaultAuth is the Authorization of requests that name no client.
const defaultAuth = "Bearer client-a"

func (e *env) do(r req) *resp {
	e.t.Helper()
	res, err := e.send(context.Background(), r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return res
}

func (e *env) send(ctx context.Context, r req) (*resp, error) {
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/payments"
	}
	hr, err := http.NewRequestWithContext(ctx, r.method, e.srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		return nil, err
	}
	if !r.anon {
		hr.Header.Set("Authorization", defaultAuth)
	}
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if r.key != "" {
		v := r.key
		if !r.raw {
			v = `"` + r.key + `"`
		}
		hr.Header.Set(idemhttp.HeaderKey, v)
	}
	res, err := e.client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if e.http2 && res.ProtoMajor != 2 {
		e.t.Errorf("response over %s, want HTTP/2", res.Proto)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &resp{status: res.StatusCode, header: res.Header, body: body, trailer: res.Trailer}, nil
}

// sameResponse fails unless a replay equals the original: status, body
// byte for byte, and every header but the server's own Date and the
// replay marker.
func sameResponse(t *testing.T, orig, replay *resp) {
	t.Helper()
	if !replay.replayed() {
		t.Fatalf("response not marked replayed: %d %v %q", replay.status, replay.header, replay.body)
	}
	if orig.replayed() {
		t.Fatalf("original response marked replayed")
	}
	if orig.status != replay.status {
		t.Fatalf("replayed status %d, original %d", replay.status, orig.status)
	}
	if !bytes.Equal(orig.body, replay.body) {
		t.Fatalf("replayed body differs:\n%q\n%q", replay.body, orig.body)
	}
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		h.Del("Date")
		h.Del(idemhttp.HeaderReplayed)
		return h
	}
	if a, b := strip(orig.header), strip(replay.header); !headersEqual(a, b) {
		t.Fatalf("replayed headers differ:\nreplay   %v\noriginal %v", b, a)
	}
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || strings.Join(va, "\x00") != strings.Join(vb, "\x00") {
			return false
		}
	}
	return true
}

// counter counts handler runs per label: the side effects that must not
// repeat.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(label string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[label]++
	return c.n[label]
}

func (c *counter) get(label string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[label]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// paymentHandler creates a "payment" per run: it counts the run under the
// request's body, and answers 201 with headers and a body that name the
// run, so that a second run cannot pass for a replay.
func paymentHandler(c *counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n := c.add(string(body))
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Location", "/payments/"+itoa(c.total()))
		h.Add("X-Multi", "one")
		h.Add("X-Multi", "two, three")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"run": n, "total": c.total(), "body": string(body), "method": r.Method, "path": r.URL.Path})
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
