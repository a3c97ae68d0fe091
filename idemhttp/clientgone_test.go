package idemhttp_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// A client that leaves mid-response: before the status is written the key
// is released and a retry runs the handler; after it, the response is
// recorded as not replayable and no retry runs the handler again. A
// truncation is never replayed. Over HTTP/1.1 and HTTP/2, streaming
// (flushed) and buffered responses.
func TestClientLeaves(t *testing.T) {
	t.Parallel()
	for _, proto := range []struct {
		name  string
		http2 bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		for _, tc := range []struct {
			name    string
			started bool // the status is written before the client leaves
			flush   bool // and the first part flushed to it
		}{
			{name: "before the status"},
			{name: "after the status, buffered", started: true},
			{name: "after the status, streaming", started: true, flush: true},
		} {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var c counter
				ready := make(chan struct{}, 1)
				e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if c.add("x") > 1 {
						w.WriteHeader(http.StatusCreated)
						_, _ = io.WriteString(w, "whole")
						return
					}
					if tc.started {
						w.WriteHeader(http.StatusCreated)
						_, _ = io.WriteString(w, "part one;")
						if tc.flush {
							w.(http.Flusher).Flush()
						}
					}
					ready <- struct{}{}
					select {
					case <-r.Context().Done(): // the client left: stop short
					case <-time.After(20 * time.Second):
						t.Error("the request's context did not end within 20 s of the client leaving")
					}
				}), &envOptions{http2: proto.http2})

				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					res, err := e.send(ctx, req{key: "k"})
					if err == nil {
						err = io.ErrUnexpectedEOF
						t.Errorf("the request completed: %d %q", res.status, res.body)
					}
					done <- err
				}()
				select {
				case <-ready:
				case <-time.After(20 * time.Second):
					t.Fatal("handler did not start within 20 s")
				}
				cancel()
				<-done
				e.waitServed()

				r := e.do(req{key: "k"})
				if !tc.started {
					if r.status != http.StatusCreated || r.replayed() || string(r.body) != "whole" || c.get("x") != 2 {
						t.Fatalf("retry: %d %q replayed=%v after %d runs; want a second run", r.status, r.body, r.replayed(), c.get("x"))
					}
					return
				}
				r.wantProblem(t, http.StatusConflict, idemhttp.ProblemNotReplayable)
				if p := r.problem(t); p["original_status"] != float64(http.StatusCreated) {
					t.Fatalf("original_status %v", p["original_status"])
				}
				if c.get("x") != 1 {
					t.Fatalf("handler ran %d times", c.get("x"))
				}
			})
		}
	}
}

// http.ErrAbortHandler (a reverse proxy whose upstream broke off, a
// handler giving up mid-stream) aborts the response: before the status it
// releases the key, after it the response is not replayable. Either way
// the abort goes on to net/http.
func TestAbortedResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		started bool
	}{{"before the status", false}, {"after the status", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.add("x") > 1 {
					w.WriteHeader(http.StatusCreated)
					return
				}
				if tc.started {
					w.WriteHeader(http.StatusOK)
					_, _ = io.WriteString(w, "part one;")
					w.(http.Flusher).Flush()
				}
				panic(http.ErrAbortHandler)
			}), nil)
			if r, err := e.send(context.Background(), req{key: "k"}); err == nil {
				t.Fatalf("aborted response arrived whole: %d %q", r.status, r.body)
			}
			e.waitServed()
			r := e.do(req{key: "k"})
			if !tc.started {
				if r.status != http.StatusCreated || c.get("x") != 2 {
					t.Fatalf("retry: %d after %d runs; want a second run", r.status, c.get("x"))
				}
				return
			}
			r.wantProblem(t, http.StatusConflict, idemhttp.ProblemNotReplayable)
			if c.get("x") != 1 {
				t.Fatalf("handler ran %d times", c.get("x"))
			}
		})
	}
}
