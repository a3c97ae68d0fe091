package idemhttp_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// A Keep that panics, once the handler ran and its response went out,
// must not release the key: that would run the handler again for a
// response the client has. The response is kept (recorded, replayed),
// and the panic goes on up the stack once the key is settled, under
// either failure policy.
func TestKeepPanicsAfterTheResponse(t *testing.T) {
	t.Parallel()
	for _, policy := range []idempotency.FailurePolicy{idempotency.Release, idempotency.Remember} {
		for _, flush := range []bool{false, true} {
			t.Run(map[bool]string{false: "buffered", true: "flushed"}[flush]+"/Remember="+map[bool]string{false: "false", true: "true"}[policy == idempotency.Remember], func(t *testing.T) {
				t.Parallel()
				var c counter
				var panics atomic.Int32
				keep := func(status int, r *http.Request) bool {
					if c.get("x") == 1 {
						panic("keep: bug")
					}
					return true
				}
				recovery := func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						defer func() {
							if recover() != nil {
								panics.Add(1)
							}
						}()
						next.ServeHTTP(w, r)
					})
				}
				e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Run", itoa(c.add("x")))
					w.WriteHeader(http.StatusCreated)
					_, _ = w.Write([]byte("paid"))
					if flush {
						http.NewResponseController(w).Flush()
					}
				}), &envOptions{outer: recovery, guard: &idempotency.Config{OnFailure: policy}, mw: &idemhttp.Config{Keep: keep}})
				first := e.do(req{key: "k"})
				if first.status != http.StatusCreated {
					t.Fatalf("first: %d %s", first.status, first.body)
				}
				e.waitServed()
				if panics.Load() != 1 {
					t.Fatalf("the panic of Keep reached the outer middleware %d times", panics.Load())
				}
				r := e.do(req{key: "k"})
				if n := c.get("x"); n != 1 {
					t.Fatalf("handler ran %d times; retry got %d %q", n, r.status, r.body)
				}
				// Framing aside (a flushed original went chunked), the
				// replay is the response.
				first.header.Del("Content-Length")
				r.header.Del("Content-Length")
				sameResponse(t, first, r)
			})
		}
	}
}
