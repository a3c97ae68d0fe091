package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscapeUnsafe(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"plain", "job:1 ok"},
		{"C1 CSI", "a\u009b31mred"},
		{"C1 NEL and APC", "\u0085x\u009f"},
		{"bidi override", "file\u202egnp.exe"},
		{"bidi isolates and marks", "\u2066\u2067\u2068\u2069\u200e\u200f\u061c"},
		{"embedding and pop", "\u202a\u202b\u202c\u202d"},
		{"latin-1 letters stay", "café ÿ"},
		{"invalid UTF-8", "\xff\xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			out := string(escapeUnsafe(raw))
			for _, r := range out {
				if unsafeRune(r) {
					t.Fatalf("%q left %U raw", out, r)
				}
			}
			var back string
			if err := json.Unmarshal([]byte(out), &back); err != nil {
				t.Fatal(err)
			}
			var want string
			_ = json.Unmarshal(raw, &want)
			if back != want {
				t.Fatalf("decodes to %q, want %q", back, want)
			}
			if strings.ContainsRune(tt.in, 'é') && !strings.Contains(out, "é") {
				t.Fatalf("printable letters escaped: %q", out)
			}
		})
	}
}

// TestListEscapesControls: a key (and a command line) with terminal
// controls and bidi overrides is printed escaped by list and get, and
// decodes to the exact key.
func TestListEscapesControls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := "job\u009b2J\u202e1:bo"
	e.idem("run", "--key", key, "--", "sh", "-c", "true", "\u2066arg").want(t, 0)
	for _, args := range [][]string{{"list"}, {"get", key}} {
		out := e.idem(args...).want(t, 0).stdout
		if !utf8.ValidString(out) {
			t.Fatalf("%v: invalid UTF-8", args)
		}
		for _, r := range out {
			if unsafeRune(r) {
				t.Fatalf("%v printed %U raw: %q", args, r, out)
			}
		}
		v := decodeViews(t, out)
		if len(v) != 1 || v[0].Key != key || v[0].Run == nil || v[0].Run.Command[3] != "\u2066arg" {
			t.Fatalf("%v: %+v", args, v)
		}
	}
}

// TestProxyForwardingHeaders: the service sees the client's address in
// X-Forwarded-For as the proxy saw it; forged forwarding headers are
// dropped.
func TestProxyForwardingHeaders(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(svc.Close)
	e := newEnv(t)
	p, url := startProxy(t, e, &backend{srv: svc}, "--shared-keys")
	r := post(t, url+"/x", `"f"`, "a",
		"X-Real-IP", "6.6.6.6", "Forwarded", "for=6.6.6.6", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example")
	if r.status != http.StatusCreated {
		t.Fatalf("status %d", r.status)
	}
	var h http.Header
	select {
	case h = <-got:
	default:
		t.Fatal("the request did not reach the service") // post returned: it did, or never will
	}
	for _, name := range []string{"X-Real-Ip", "Forwarded"} {
		if v := h.Values(name); len(v) != 0 {
			t.Errorf("%s reached the service: %q", name, v)
		}
	}
	if v := h.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the proxy's view of the client, 127.0.0.1", v)
	}
	if v := h.Get("X-Forwarded-Host"); v == "evil.example" || v == "" {
		t.Errorf("X-Forwarded-Host %q, want the host the client asked the proxy for", v)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
}

// TestProxyWriteTimeout: a client that stops reading a large response
// loses its connection after --write-timeout, and the key is settled: not
// left in progress with its lease renewed.
func TestProxyWriteTimeout(t *testing.T) {
	t.Parallel()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 64<<10)
		for range 512 { // 32 MiB: more than the socket buffers hold
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(svc.Close)
	e := newEnv(t)
	p, url := startProxy(t, e, &backend{srv: svc}, "--shared-keys", "--write-timeout", "1s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /big HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \"w\"\r\nContent-Length: 1\r\n\r\na")
	// Read nothing: the proxy's writes stall, then hit the deadline. The
	// key is claimed first, then settled (whatever the record's name).
	inProgress := func() bool {
		return strings.Contains(e.idem("list").want(t, 0).stdout, `"status":"in_progress"`)
	}
	waitWithin(t, 20*time.Second, "the request to claim its key", inProgress)
	waitWithin(t, 20*time.Second, "the key to be settled after a 1s write timeout", func() bool { return !inProgress() })
	// The connection was closed by the proxy: draining it ends, short.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the proxy kept the connection open after its write timeout (read %d bytes)", n)
	}
	if n >= 32<<20 {
		t.Fatalf("the whole response (%d bytes) was delivered despite the timeout", n)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
}

// waitWithin polls cond until it holds, failing the test after d.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProxyClientLeavesOversizedResponse: a client that leaves while an
// oversized response streams to it does not make the service run again:
// the response had started, so the key is recorded as not replayable and
// a retry gets 409 without reaching the service.
func TestProxyClientLeavesOversizedResponse(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusCreated)
		chunk := strings.Repeat("x", 64<<10)
		for range 512 { // 32 MiB: more than the socket buffers hold
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(svc.Close)
	e := newEnv(t)
	p, url := startProxy(t, e, &backend{srv: svc}, "--shared-keys", "--max-response-bytes", "1024")
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /big HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \"o\"\r\nContent-Length: 1\r\n\r\na")
	// Read the status line and some of the body, then leave.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 256<<10)
	if n, err := io.ReadAtLeast(conn, buf, 128<<10); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 201") {
		t.Fatalf("start of the response: %q, %v", buf[:min(n, 64)], err)
	}
	conn.Close()
	settled := func() bool { return !strings.Contains(e.idem("list").want(t, 0).stdout, `"status":"in_progress"`) }
	waitWithin(t, 20*time.Second, "the key to be settled after the client left", settled)
	r := post(t, url+"/big", `"o"`, "a")
	if r.status != http.StatusConflict || !strings.Contains(r.body, "not-replayable") {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the service ran %d times, want 1", n)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
}
