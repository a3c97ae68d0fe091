package idemhttp_test

import (
	"cmp"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// A response whose body is shorter than the Content-Length its handler
// declared is a truncation: the client got an incomplete response, and a
// replay must not pass it off as the outcome. It is recorded as not
// replayable (the handler may have had its effect) over HTTP/1.1 and
// HTTP/2; a body longer than declared likewise. A HEAD request, or a
// status without a body, may declare a length it does not write.
func TestDeclaredLengthNotWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		declared string
		body     string
		status   int // 0: the handler writes no status
	}{
		{"short body", "100", strings.Repeat("x", 50), http.StatusCreated},
		{"no body", "10", "", http.StatusCreated},
		{"no body, no status", "10", "", 0},
		{"long body", "10", strings.Repeat("x", 50), http.StatusCreated},
	} {
		for _, h2 := range []bool{false, true} {
			t.Run(tc.name+proto(h2), func(t *testing.T) {
				t.Parallel()
				var c counter
				e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c.add("x")
					w.Header().Set("Content-Length", tc.declared)
					if tc.status != 0 {
						w.WriteHeader(tc.status)
					}
					if tc.body != "" {
						_, _ = w.Write([]byte(tc.body))
					}
				}), &envOptions{http2: h2})
				_, _ = e.send(context.Background(), req{key: "k"}) // the client sees a broken response
				e.waitServed()
				r := e.do(req{key: "k"})
				r.wantProblem(t, http.StatusConflict, idemhttp.ProblemNotReplayable)
				if n := c.get("x"); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
			})
		}
	}
}

func proto(h2 bool) string {
	if h2 {
		return "/HTTP2"
	}
	return "/HTTP1"
}

// A handler that writes a body to a response that has none (204, 304)
// loses only that body: net/http drops it and the client gets a whole
// response, which is replayed.
func TestBodyOfBodilessStatusIsDropped(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNoContent, http.StatusNotModified} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Run", itoa(c.add("x")))
				w.WriteHeader(status)
				_, _ = w.Write([]byte("ignored"))
			}), nil)
			first := e.do(req{key: "k"})
			if first.status != status || len(first.body) != 0 {
				t.Fatalf("first: %d %q", first.status, first.body)
			}
			sameResponse(t, first, e.do(req{key: "k"}))
			if n := c.get("x"); n != 1 {
				t.Fatalf("handler ran %d times", n)
			}
		})
	}
}

// A HEAD response declares the length of a body it does not send: it is
// whole, and replayed.
func TestHeadDeclaresLengthWithoutBody(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Run", itoa(c.add("x")))
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
	}), &envOptions{mw: &idemhttp.Config{Methods: []string{http.MethodHead}}})
	first := e.do(req{method: http.MethodHead, key: "k"})
	if first.status != http.StatusOK || first.header.Get("Content-Length") != "100" {
		t.Fatalf("first: %d %v", first.status, first.header)
	}
	sameResponse(t, first, e.do(req{method: http.MethodHead, key: "k"}))
	if n := c.get("x"); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
}

// A Content-Length out of any buffer's range (far over MaxResponseBytes
// on a response without a body), or one net/http does not take for a length
// (negative, spaced), is only a header: the response is recorded and
// replayed as any other, streamed or held (Config.Join).
func TestDeclaredLengthOutOfRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int // 0: the handler writes no status
		length string
		body   string
	}{
		{"NoContentFarOverTheLimit", http.StatusNoContent, "1125899906842624", ""},
		{"Negative", http.StatusOK, "-1000000", "x"},
		{"NegativeNoStatus", 0, "-5", ""},
		{"Spaced", http.StatusOK, " 5", "x"},
	} {
		for _, join := range []bool{false, true} {
			t.Run(tc.name+"/Join="+strconv.FormatBool(join), func(t *testing.T) {
				t.Parallel()
				var c counter
				h := func(w http.ResponseWriter, r *http.Request) {
					c.add("x")
					w.Header().Set("Content-Type", "text/plain")
					w.Header().Set("Content-Length", tc.length)
					if tc.status != 0 {
						w.WriteHeader(tc.status)
					}
					if tc.body != "" {
						_, _ = w.Write([]byte(tc.body))
					}
				}
				status := cmp.Or(tc.status, http.StatusOK)
				var e *env
				if join {
					e = joinEnv(t, &fakeJoin{}, nil, h)
				} else {
					e = newEnv(t, http.HandlerFunc(h), nil)
				}
				first := e.do(req{key: "k"})
				if first.status != status || string(first.body) != tc.body {
					t.Fatalf("first: %d %q", first.status, first.body)
				}
				again := e.do(req{key: "k"})
				if !again.replayed() || again.status != status || string(again.body) != tc.body || c.get("x") != 1 {
					t.Fatalf("retry: %d %q replayed=%v after %d runs; want the first response replayed", again.status, again.body, again.replayed(), c.get("x"))
				}
			})
		}
	}
}
