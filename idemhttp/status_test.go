package idemhttp_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// firstThen answers status (with body, if any) on its first run and 201
// afterwards, counting runs: a retry that runs again gets 201, a replay
// the first status.
func firstThen(c *counter, status int, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.add("x") > 1 {
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// Every status on both sides of each boundary of the default Keep: a
// plain 500 is released like 501, 408/425/429 are released while their
// neighbours are kept.
func TestStatusBoundaries(t *testing.T) {
	t.Parallel()
	released := map[int]bool{408: true, 425: true, 429: true}
	for _, status := range []int{200, 201, 299, 300, 304, 399, 400, 404, 407, 408, 409, 424, 425, 426, 428, 429, 430, 499, 500, 501, 502, 503, 599} {
		for _, storeErrors := range []bool{false, true} {
			kept := !released[status] && (status < 500 || storeErrors)
			t.Run(strconv.Itoa(status)+"/StoreServerErrors="+strconv.FormatBool(storeErrors), func(t *testing.T) {
				t.Parallel()
				var c counter
				e := newEnv(t, firstThen(&c, status, nil), &envOptions{mw: &idemhttp.Config{StoreServerErrors: storeErrors}})
				if r := e.do(req{key: "k"}); r.status != status {
					t.Fatalf("first: %d", r.status)
				}
				r := e.do(req{key: "k"})
				switch {
				case kept && (r.status != status || !r.replayed() || c.get("x") != 1):
					t.Fatalf("retry: %d replayed=%v after %d runs; want the kept %d replayed", r.status, r.replayed(), c.get("x"), status)
				case !kept && (r.status != http.StatusCreated || r.replayed() || c.get("x") != 2):
					t.Fatalf("retry: %d replayed=%v after %d runs; want a second run", r.status, r.replayed(), c.get("x"))
				}
			})
		}
	}
}

// A response that is not kept is released whatever its size: only a kept
// response too large to store is recorded as not replayable.
func TestOversizedResponseFollowsKeep(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 70<<10)
	for _, tc := range []struct {
		status int
		kept   bool
	}{
		{http.StatusCreated, true},
		{http.StatusBadRequest, true},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, firstThen(&c, tc.status, big), &envOptions{mw: &idemhttp.Config{MaxResponseBytes: 64 << 10}})
			if r := e.do(req{key: "k"}); r.status != tc.status || len(r.body) != len(big) {
				t.Fatalf("first: %d, %d bytes", r.status, len(r.body))
			}
			r := e.do(req{key: "k"})
			if tc.kept {
				r.wantProblem(t, http.StatusConflict, idemhttp.ProblemNotReplayable)
				if c.get("x") != 1 {
					t.Fatalf("handler ran %d times", c.get("x"))
				}
				return
			}
			if r.status != http.StatusCreated || c.get("x") != 2 {
				t.Fatalf("retry: %d after %d runs; want a second run", r.status, c.get("x"))
			}
		})
	}
}

// Keep replaces the default policy; Discard vetoes keeping one response;
// the guard's Observer sees why a response was not kept.
func TestKeepAndDiscard(t *testing.T) {
	t.Parallel()
	keep503 := func(status int, r *http.Request) bool { return status == http.StatusServiceUnavailable || status < 400 }
	for _, tc := range []struct {
		name    string
		keep    func(int, *http.Request) bool
		status  int
		discard bool
		kept    bool
	}{
		{"Keep keeps a 503", keep503, http.StatusServiceUnavailable, false, true},
		{"Keep releases a 400", keep503, http.StatusBadRequest, false, false},
		{"Keep keeps a 200", keep503, http.StatusOK, false, true},
		{"Discard releases a 201", nil, http.StatusCreated, true, false},
		{"Discard releases a 400", nil, http.StatusBadRequest, true, false},
		{"Discard wins over Keep", keep503, http.StatusServiceUnavailable, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			var mu sync.Mutex
			var executed []error
			obs := idempotency.ObserverFunc(func(_ context.Context, ev idempotency.Event) {
				if ev.Kind == idempotency.EventExecuted {
					mu.Lock()
					executed = append(executed, ev.Err)
					mu.Unlock()
				}
			})
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := c.add("x")
				if tc.discard && n == 1 && !idemhttp.Discard(r) {
					t.Error("Discard reports an unguarded request")
				}
				if n > 1 {
					w.WriteHeader(http.StatusAccepted)
					return
				}
				w.WriteHeader(tc.status)
			}), &envOptions{mw: &idemhttp.Config{Keep: tc.keep}, guard: &idempotency.Config{Observer: obs}})
			e.do(req{key: "k"})
			r := e.do(req{key: "k"})
			if tc.kept != r.replayed() || tc.kept != (c.get("x") == 1) {
				t.Fatalf("retry: %d replayed=%v after %d runs; want kept=%v", r.status, r.replayed(), c.get("x"), tc.kept)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(executed) == 0 || errors.Is(executed[0], idemhttp.ErrDiscarded) == tc.kept {
				t.Fatalf("observed %v; want ErrDiscarded=%v", executed, !tc.kept)
			}
		})
	}
	if idemhttp.Discard(httptestRequest()) {
		t.Fatal("Discard reports a request the middleware never saw as guarded")
	}
}

func httptestRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://example.com/", nil)
	return r
}

// Under the guard's Remember policy a 5xx is a remembered failure, but a
// response that asks for a retry (429, Discard) is still released.
func TestRetryResponsesReleasedUnderRemember(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		status     int
		discard    bool
		remembered bool // else released: the retry runs the handler again
	}{
		{"429", http.StatusTooManyRequests, false, false},
		{"408", http.StatusRequestTimeout, false, false},
		{"Discard", http.StatusOK, true, false},
		{"500", http.StatusInternalServerError, false, true},
		{"503", http.StatusServiceUnavailable, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.add("x") > 1 {
					w.WriteHeader(http.StatusCreated)
					return
				}
				if tc.discard {
					idemhttp.Discard(r)
				}
				w.WriteHeader(tc.status)
			}), &envOptions{guard: &idempotency.Config{OnFailure: idempotency.Remember}})
			e.do(req{key: "k"})
			r := e.do(req{key: "k"})
			switch {
			case tc.remembered && (r.status != http.StatusInternalServerError || c.get("x") != 1):
				t.Fatalf("retry: %d after %d runs; want the remembered failure (500) and one run", r.status, c.get("x"))
			case !tc.remembered && (r.status != http.StatusCreated || c.get("x") != 2):
				t.Fatalf("retry: %d after %d runs; want a second run", r.status, c.get("x"))
			}
		})
	}
}

// Under Remember, a handler that panics before writing its status leaves a
// remembered failure, as an error would; one aborted with
// http.ErrAbortHandler is released, like a client that left.
func TestPanicBeforeTheStatusUnderRemember(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		value      any
		remembered bool
	}{
		{"Panic", "card declined by a bug", true},
		{"AbortHandler", http.ErrAbortHandler, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.add("x") == 1 {
					panic(tc.value)
				}
				w.WriteHeader(http.StatusCreated)
			}), &envOptions{
				guard: &idempotency.Config{OnFailure: idempotency.Remember},
				outer: func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						defer func() {
							if p := recover(); p != nil {
								http.Error(w, "internal error", http.StatusInternalServerError)
							}
						}()
						h.ServeHTTP(w, r)
					})
				},
			})
			e.do(req{key: "k"})
			r := e.do(req{key: "k"})
			switch {
			case tc.remembered && (r.status != http.StatusInternalServerError || c.get("x") != 1):
				t.Fatalf("retry: %d after %d runs; want the remembered failure (500) and one run", r.status, c.get("x"))
			case !tc.remembered && (r.status != http.StatusCreated || c.get("x") != 2):
				t.Fatalf("retry: %d after %d runs; want a second run", r.status, c.get("x"))
			}
		})
	}
}
