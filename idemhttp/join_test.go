package idemhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// fakeJoin is a Joiner for a memstore guard: it runs the call and returns
// err instead of its error when err is set (a commit that failed). It
// counts the calls it ran and their errors.
type fakeJoin struct {
	err     error
	ran     atomic.Int64
	callErr atomic.Value
}

func (f *fakeJoin) join(ctx context.Context, _ *idempotency.Guard, _ string, call func(context.Context) error) error {
	f.ran.Add(1)
	err := call(ctx)
	if err != nil {
		f.callErr.Store(err)
	}
	if err == nil && f.err != nil {
		return f.err
	}
	return err
}

func joinEnv(t *testing.T, f *fakeJoin, mw *idemhttp.Config, h http.HandlerFunc) *env {
	t.Helper()
	c := idemhttp.Config{}
	if mw != nil {
		c = *mw
	}
	c.Join = f.join
	return newEnv(t, h, &envOptions{mw: &c})
}

func TestJoinHoldsTheResponse(t *testing.T) {
	t.Parallel()
	var c counter
	var flushErr, hijackErr error
	f := &fakeJoin{}
	e := joinEnv(t, f, nil, func(w http.ResponseWriter, r *http.Request) {
		n := c.add("x")
		w.Header().Set("Location", fmt.Sprint("/payments/", n))
		w.Header().Set("Trailer", "X-Sum")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-Late", "not sent") // after the status: not part of the response
		rc := http.NewResponseController(w)
		flushErr = rc.Flush()
		w.(http.Flusher).Flush()
		var conn net.Conn
		if conn, _, hijackErr = rc.Hijack(); hijackErr == nil {
			conn.Close() // the test fails below, without hanging
			return
		}
		fmt.Fprintf(w, "run %d\n", n)
		w.Header().Set("X-Sum", "42")
	})
	first := e.do(req{key: "k"})
	if first.status != http.StatusCreated || string(first.body) != "run 1\n" || first.header.Get("Location") != "/payments/1" ||
		first.header.Get("X-Late") != "" || first.trailer.Get("X-Sum") != "42" {
		t.Fatalf("held response delivered as %d %v %q trailer %v", first.status, first.header, first.body, first.trailer)
	}
	if !errors.Is(flushErr, http.ErrNotSupported) || !errors.Is(hijackErr, http.ErrNotSupported) {
		t.Fatalf("Flush: %v, Hijack: %v; want both refused with http.ErrNotSupported", flushErr, hijackErr)
	}
	sameResponse(t, first, e.do(req{key: "k"}))
	if c.total() != 1 || f.ran.Load() != 2 {
		t.Fatalf("handler ran %d times, Join %d; want 1 and 2", c.total(), f.ran.Load())
	}
}

// TestJoinNotCommitted: a kept response whose Join fails (the commit) is
// never sent: the client gets 503 with Retry-After, without the handler's
// headers.
func TestJoinNotCommitted(t *testing.T) {
	t.Parallel()
	f := &fakeJoin{err: fmt.Errorf("commit: %w", idempotency.ErrNotRecorded)}
	e := joinEnv(t, f, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/payments/1")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("created"))
		w.(http.Flusher).Flush()
	})
	res := e.do(req{key: "k"})
	res.wantProblem(t, http.StatusServiceUnavailable, idemhttp.ProblemStore)
	if res.header.Get("Retry-After") == "" || res.header.Get("Location") != "" {
		t.Fatalf("503 headers %v; want Retry-After and none of the handler's", res.header)
	}
}

// TestJoinReleased: a released response (the transaction rolled back) is
// sent as the handler wrote it, and the key is free.
func TestJoinReleased(t *testing.T) {
	t.Parallel()
	f := &fakeJoin{}
	var c counter
	e := joinEnv(t, f, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "9")
		http.Error(w, fmt.Sprint("busy ", c.add("x")), http.StatusTooManyRequests)
	})
	for i := 1; i <= 2; i++ {
		res := e.do(req{key: "k"})
		if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "9" || string(res.body) != fmt.Sprint("busy ", i, "\n") {
			t.Fatalf("released response %d %v %q", res.status, res.header, res.body)
		}
	}
	if err, _ := f.callErr.Load().(error); !errors.Is(err, idemhttp.ErrDiscarded) {
		t.Fatalf("Join got %v from the call; want ErrDiscarded", err)
	}
}

// TestJoinTooLarge: a body over MaxResponseBytes cannot be held: Write
// fails, the call is released and the client gets 500.
func TestJoinTooLarge(t *testing.T) {
	t.Parallel()
	f := &fakeJoin{}
	var writeErr error
	var c counter
	e := joinEnv(t, f, &idemhttp.Config{MaxResponseBytes: 16}, func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		w.Header().Set("Location", "/payments/1")
		_, _ = w.Write([]byte("0123456789"))
		_, writeErr = w.Write([]byte("0123456789"))
	})
	for i := 1; i <= 2; i++ {
		res := e.do(req{key: "k"})
		res.wantProblem(t, http.StatusInternalServerError, idemhttp.ProblemResponseTooLarge)
		if res.header.Get("Location") != "" || strings.Contains(string(res.body), "0123") {
			t.Fatalf("too large: the client saw the handler's response: %v %q", res.header, res.body)
		}
		if !errors.Is(writeErr, idemhttp.ErrResponseTooLarge) || c.total() != i {
			t.Fatalf("Write past the limit: %v, runs %d; want ErrResponseTooLarge, %d (released)", writeErr, c.total(), i)
		}
	}
}

// TestJoinHoldsUpToTheLimit: a body of exactly MaxResponseBytes is held
// and delivered; one byte more is refused.
func TestJoinHoldsUpToTheLimit(t *testing.T) {
	t.Parallel()
	const limit = 16
	for _, tc := range []struct {
		name string
		size int
		held bool
	}{
		{"AtTheLimit", limit, true},
		{"OneOver", limit + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := strings.Repeat("b", tc.size)
			var writeErr error
			e := joinEnv(t, &fakeJoin{}, &idemhttp.Config{MaxResponseBytes: limit}, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				_, writeErr = io.WriteString(w, body)
			})
			res := e.do(req{key: "k"})
			if !tc.held {
				res.wantProblem(t, http.StatusInternalServerError, idemhttp.ProblemResponseTooLarge)
				if !errors.Is(writeErr, idemhttp.ErrResponseTooLarge) {
					t.Fatalf("Write: %v, want ErrResponseTooLarge", writeErr)
				}
				return
			}
			if writeErr != nil || res.status != http.StatusCreated || string(res.body) != body {
				t.Fatalf("Write: %v; delivered %d %q, want 201 and the whole body", writeErr, res.status, res.body)
			}
		})
	}
}

// TestJoinRefused: a Joiner that does not run the call answers 500 and
// the handler does not run.
func TestJoinRefused(t *testing.T) {
	t.Parallel()
	var c counter
	for name, err := range map[string]error{"error": errors.New("wrong store"), "nil": nil} {
		e := newEnv(t, paymentHandler(&c), &envOptions{mw: &idemhttp.Config{
			Join: func(context.Context, *idempotency.Guard, string, func(context.Context) error) error { return err },
		}})
		e.do(req{key: "k"}).wantProblem(t, http.StatusInternalServerError, idemhttp.ProblemInternal)
		if c.total() != 0 {
			t.Fatalf("%s: handler ran", name)
		}
	}
}
