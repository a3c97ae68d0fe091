package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"syscall"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp/idemhttptest"
)

// TestConformance: idem proxy, a real process with a store of its own per
// case, passes the HTTP conformance suite in front of the suite's
// application. The suite talks to it through a plain reverse proxy of the
// test's, which serves it over HTTP/1.1 and HTTP/2.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		// Keys belong to a keyed digest of the credentials (the default).
		{name: "defaults"},
		{name: "scope header, 64 KiB responses", args: []string{"--scope-header", "Authorization", "--max-response-bytes", "64K"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			idemhttptest.Run(t, func(t *testing.T, app http.Handler) http.Handler {
				return proxyInFront(t, app, tc.args...)
			})
		})
	}
}

// proxyInFront serves app on loopback, starts idem proxy in front of it
// with a directory store of its own, and returns a handler that forwards
// to the proxy. The test's cleanup stops the proxy with SIGTERM, waits for
// it and fails unless it exits 0.
func proxyInFront(t *testing.T, app http.Handler, args ...string) http.Handler {
	t.Helper()
	backend := httptest.NewServer(app)
	t.Cleanup(backend.Close)
	p, base := startProxyTo(t, newEnv(t), backend.URL, args...)
	t.Cleanup(func() {
		p.signal(syscall.SIGTERM)
		if r := p.wait(); r.code != 0 {
			t.Errorf("idem proxy exited %d\nstderr: %s", r.code, r.stderr)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport: tr,
	}
}
