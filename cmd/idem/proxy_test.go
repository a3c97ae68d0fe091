package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// backend is a service behind the proxy that counts the requests reaching
// it and answers each with its number.
type backend struct {
	hits    atomic.Int64
	srv     *httptest.Server
	block   chan struct{} // requests to /slow wait for it to close
	arrived chan struct{} // a request to /slow arrived
}

func newBackend(t *testing.T) *backend {
	b := &backend{block: make(chan struct{}), arrived: make(chan struct{}, 16)}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/slow" {
			b.arrived <- struct{}{}
			<-b.block
		}
		w.Header().Set("X-Hit", fmt.Sprint(n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "hit %d: %s %s %s", n, r.Method, r.URL.Path, body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// waitArrived waits, up to 20 s, for a request to reach /slow.
func (b *backend) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-b.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("no request reached the service within 20s")
	}
}

var listenRE = regexp.MustCompile(`proxy listening on (\S+),`)

// startProxy runs idem proxy in front of b on a free port and returns it
// with its base URL.
func startProxy(t *testing.T, e *env, b *backend, args ...string) (*proc, string) {
	t.Helper()
	return startProxyTo(t, e, b.srv.URL, args...)
}

// startProxyTo runs idem proxy in front of target on a free port and
// returns it with its base URL.
func startProxyTo(t *testing.T, e *env, target string, args ...string) (*proc, string) {
	t.Helper()
	p := start(t, e.command(append([]string{"proxy", "--listen", "127.0.0.1:0", "--target", target}, args...)...))
	p.waitStderr("proxy listening on")
	m := listenRE.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no address in %q", p.stderr.String())
	}
	return p, "http://" + m[1]
}

type reply struct {
	status   int
	body     string
	replayed string
	header   http.Header
}

func post(t *testing.T, url, key, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, body: string(b), replayed: resp.Header.Get("Idempotent-Replayed"), header: resp.Header}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t)
	p, url := startProxy(t, e, b, "--scope-header", "Authorization")

	first := post(t, url+"/pay", `"k1"`, "10 EUR", "Authorization", "Bearer alice")
	second := post(t, url+"/pay", `"k1"`, "10 EUR", "Authorization", "Bearer alice")
	if first.status != http.StatusCreated || first.replayed != "" {
		t.Fatalf("first: %+v", first)
	}
	if second.status != http.StatusCreated || second.body != first.body || second.replayed != "true" {
		t.Fatalf("second: %+v, first %+v", second, first)
	}
	if n := b.hits.Load(); n != 1 {
		t.Fatalf("backend hit %d times, want 1", n)
	}
	// Another client's same key is its own.
	if r := post(t, url+"/pay", `"k1"`, "10 EUR", "Authorization", "Bearer bob"); r.replayed != "" || r.body != "hit 2: POST /pay 10 EUR" {
		t.Fatalf("other client: %+v", r)
	}
	// The same key with another body is refused.
	if r := post(t, url+"/pay", `"k1"`, "99 EUR", "Authorization", "Bearer alice"); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("reused key: %+v", r)
	}
	// Without a key, requests pass through.
	post(t, url+"/pay", "", "1 EUR")
	post(t, url+"/pay", "", "1 EUR")
	if n := b.hits.Load(); n != 4 {
		t.Fatalf("backend hit %d times, want 4", n)
	}
	// The header never reaches the store, nor an unkeyed digest of it;
	// beside the two responses is the scope's secret, made once.
	list := e.idem("list").want(t, 0).stdout
	plain := sha256.Sum256([]byte("Bearer alice"))
	responses := 0
	for _, v := range decodeViews(t, list) {
		if v.Key != "idemhttp:"+idemhttp.SecretRecord {
			responses++
		}
	}
	if strings.Contains(list, "alice") || strings.Contains(list, base64.RawURLEncoding.EncodeToString(plain[:16])) || responses != 2 {
		t.Fatalf("records: %s", list)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
}

func TestProxyRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t)
	p, url := startProxy(t, e, b, "--shared-keys", "--required", "--methods", "post,PUT")
	if r := post(t, url+"/x", "", "a"); r.status != http.StatusBadRequest {
		t.Fatalf("no key: %+v", r)
	}
	req, _ := http.NewRequest(http.MethodPut, url+"/x", nil)
	req.Header.Set("Idempotency-Key", `"p"`)
	for range 2 {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := b.hits.Load(); n != 1 {
		t.Fatalf("backend hit %d times by two PUTs, want 1", n)
	}
	p.signal(syscall.SIGINT)
	p.wait().want(t, 0)
}

func TestProxyGracefulShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t)
	p, url := startProxy(t, e, b, "--shared-keys")
	got := make(chan reply, 1)
	go func() {
		// t.Fatal must not run here: report through the channel.
		req, _ := http.NewRequest(http.MethodPost, url+"/slow", strings.NewReader("x"))
		req.Header.Set("Idempotency-Key", `"s"`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- reply{body: err.Error()}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- reply{status: resp.StatusCode, body: string(body)}
	}()
	b.waitArrived(t)
	p.signal(syscall.SIGTERM)
	p.waitStderr("shutting down")
	close(b.block)
	var r reply
	select {
	case r = <-got:
	case <-time.After(cmdTimeout):
		t.Fatal("no response to the request in flight")
	}
	if r.status != http.StatusCreated {
		t.Fatalf("request in flight during shutdown: %+v", r)
	}
	p.wait().want(t, 0)
	// Its response was recorded before the proxy exited.
	v := decodeViews(t, e.idem("list").want(t, 0).stdout)
	if len(v) != 1 || v[0].Status != "completed" {
		t.Fatalf("records after shutdown: %+v", v)
	}
}

func TestProxyBackendDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t)
	p, url := startProxy(t, e, b, "--shared-keys")
	b.srv.Close()
	r := post(t, url+"/x", `"d"`, "a")
	var doc struct {
		Type   string
		Status int
	}
	if r.status != http.StatusBadGateway || r.header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal([]byte(r.body), &doc) != nil || doc.Status != 502 || !strings.HasSuffix(doc.Type, "/bad-gateway") {
		t.Fatalf("backend down: %+v", r)
	}
	if strings.Contains(r.body, b.srv.URL) || strings.Contains(r.body, "127.0.0.1") {
		t.Fatalf("the 502 shows the service's address: %s", r.body)
	}
	// A 502 is not recorded: the retry goes to the service again.
	if r := post(t, url+"/x", `"d"`, "a"); r.status != http.StatusBadGateway || r.replayed != "" {
		t.Fatalf("retry: %+v", r)
	}
	if out := e.idem("list").want(t, 0).stdout; out != "" {
		t.Fatalf("records: %s", out)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
}

// TestProxyConflictRetryAfter: the 409 for a request still in flight says
// when to retry; a 409 that no retry can change does not.
func TestProxyConflictRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t)
	p, url := startProxy(t, e, b, "--shared-keys", "--max-response-bytes", "8")
	first := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/slow", strings.NewReader("x"))
		req.Header.Set("Idempotency-Key", `"s"`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- reply{body: err.Error()}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		first <- reply{status: resp.StatusCode, body: string(body)}
	}()
	b.waitArrived(t)
	r := post(t, url+"/slow", `"s"`, "x")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); r.status != http.StatusConflict || err != nil || ra < 1 || ra > 30 || !strings.Contains(r.body, "in-progress") {
		t.Fatalf("in flight: %d, Retry-After %q, body %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	close(b.block)
	select {
	case r = <-first:
	case <-time.After(cmdTimeout):
		t.Fatal("no response to the first request")
	}
	if r.status != http.StatusCreated {
		t.Fatalf("first: %+v", r)
	}
	// The response was larger than --max-response-bytes: recorded as not
	// replayable, a 409 that retrying cannot change.
	r = post(t, url+"/slow", `"s"`, "x")
	if r.status != http.StatusConflict || r.header.Get("Retry-After") != "" || !strings.Contains(r.body, "not-replayable") {
		t.Fatalf("not replayable: %d, Retry-After %q, body %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if n := b.hits.Load(); n != 1 {
		t.Fatalf("backend hit %d times, want 1", n)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
}

// TestProxyClientsApartByDefault: without --scope-header or --shared-keys,
// a key belongs to the client's credentials; a guarded request without
// any is refused and reaches nothing.
func TestProxyClientsApartByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t)
	p, url := startProxy(t, e, b)
	if r := post(t, url+"/pay", `"k"`, "1 EUR"); r.status != http.StatusUnauthorized {
		t.Fatalf("no credentials: %+v", r)
	}
	alice := post(t, url+"/pay", `"k"`, "1 EUR", "Authorization", "Bearer alice")
	bob := post(t, url+"/pay", `"k"`, "1 EUR", "Authorization", "Bearer bob")
	again := post(t, url+"/pay", `"k"`, "1 EUR", "Authorization", "Bearer alice")
	if alice.replayed != "" || bob.replayed != "" || bob.body == alice.body || again.replayed != "true" || again.body != alice.body {
		t.Fatalf("alice %+v, bob %+v, alice again %+v", alice, bob, again)
	}
	if n := b.hits.Load(); n != 2 {
		t.Fatalf("backend hit %d times, want 2 (one per client)", n)
	}
	if list := e.idem("list").want(t, 0).stdout; strings.Contains(list, "alice") || strings.Contains(list, "bob") {
		t.Fatalf("credentials in the store: %s", list)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
}
