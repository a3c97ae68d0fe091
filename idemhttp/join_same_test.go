package idemhttp_test

import (
	"net/http"
	"testing"
)

// A held response (Config.Join) reaches the client as the same handler's
// response does without Join: the first request and its replay alike.
// ("prefixed trailer, no Join" runs without Join: a trailer set under
// http.TrailerPrefix on a short body net/http sends with Content-Length
// never reaches the client, yet the record keeps it for replays.)
func TestJoinSameResponse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"no write", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-A", "1") }},
		{"header after body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("hi"))
			w.Header().Set("X-Late", "1")
		}},
		{"no content with body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			_, _ = w.Write([]byte("dropped"))
		}},
		{"superfluous status", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ok"))
			w.WriteHeader(http.StatusTeapot)
		}},
		{"sniffed html", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html><body>x</body></html>")) }},
		{"prefixed trailer, no Join", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("x"))
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
		}},
		{"prefixed trailer", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("x"))
			w.Header().Set(http.TrailerPrefix+"X-Sum", "9")
		}},
		{"content length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			_, _ = w.Write([]byte("abc"))
		}},
		{"early hints", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("X-Final", "1")
			w.WriteHeader(http.StatusCreated)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plain := newEnv(t, tc.h, nil)
			joined := joinEnv(t, &fakeJoin{}, nil, tc.h)
			if tc.name == "prefixed trailer, no Join" {
				joined = newEnv(t, tc.h, nil)
			}
			want := plain.do(req{key: "k"})
			for i := range 2 {
				got := joined.do(req{key: "k"})
				if got.status != want.status || string(got.body) != string(want.body) ||
					got.header.Get("Content-Type") != want.header.Get("Content-Type") ||
					got.header.Get("X-A") != want.header.Get("X-A") || got.header.Get("X-Late") != want.header.Get("X-Late") ||
					got.header.Get("X-Final") != want.header.Get("X-Final") || got.header.Get("Link") != want.header.Get("Link") ||
					got.trailer.Get("X-Sum") != want.trailer.Get("X-Sum") {
					t.Fatalf("joined response %d: %d %v %q trailer %v; without Join: %d %v %q trailer %v",
						i, got.status, got.header, got.body, got.trailer, want.status, want.header, want.body, want.trailer)
				}
			}
		})
	}
}
