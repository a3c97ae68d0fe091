package idemhttp_test

import (
	"net/http"
	"strings"
	"testing"
)

// A replay carries the trailers the first response carried, no more: over
// HTTP/1.1 net/http sends trailers only after a chunked body, and a short
// body it knows whole when the handler returns goes with a Content-Length
// and without them; HTTP/2 sends them always.
func TestReplayTrailersAsSent(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 4096) // more than net/http holds before it sends the header
	cases := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"prefixed after a short body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("x"))
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
		}},
		{"prefixed after a long body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(long))
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
		}},
		// net/http holds 2048 bytes before it sends the header: a body of
		// exactly that goes with a Content-Length, one byte more chunked.
		{"prefixed after 2048 bytes", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(long[:2048]))
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
		}},
		{"prefixed after 2049 bytes", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(long[:2049]))
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
		}},
		{"prefixed after a flush", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
		}},
		{"prefixed before the status", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("x"))
		}},
		{"declared, short body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			_, _ = w.Write([]byte("x"))
			w.Header().Set("X-Sum", "9")
		}},
		{"declared two, one set", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Trailer", "X-Sum, X-Unset")
			_, _ = w.Write([]byte("x"))
			w.Header().Set("X-Sum", "9")
		}},
		{"declared, with a Content-Length of 0", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-Sum", "9")
		}},
		{"declared, with a Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("Content-Length", "1")
			_, _ = w.Write([]byte("x"))
			w.Header().Set("X-Sum", "9")
		}},
	}
	for _, proto := range []struct {
		name  string
		http2 bool
	}{{"HTTP1", false}, {"HTTP2", true}} {
		for _, tc := range cases {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, tc.h, &envOptions{http2: proto.http2})
				first := e.do(req{key: "k"})
				for range 2 {
					again := e.do(req{key: "k"})
					if !again.replayed() || again.body == nil && first.body != nil || string(again.body) != string(first.body) ||
						!headersEqual(again.trailer, first.trailer) {
						t.Fatalf("replay: %d trailer %v; first response: %d trailer %v", again.status, again.trailer, first.status, first.trailer)
					}
				}
			})
		}
	}
}
