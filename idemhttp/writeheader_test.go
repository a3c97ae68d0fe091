package idemhttp_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// WriteHeader takes every code net/http takes, streamed or held
// (Config.Join): 100 Continue and 103 Early Hints are informational, not
// the response, and 999 is a status like any other; the response recorded
// and replayed is the final one.
func TestWriteHeaderRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		codes  []int // written in turn, then the body
		status int   // the response the client gets
	}{
		{"100 then 201", []int{http.StatusContinue, http.StatusCreated}, http.StatusCreated},
		{"103 then 201", []int{http.StatusEarlyHints, http.StatusCreated}, http.StatusCreated},
		{"199 then 201", []int{199, http.StatusCreated}, http.StatusCreated},
		{"200", []int{http.StatusOK}, http.StatusOK},
		{"999", []int{999}, 999},
	} {
		for _, join := range []bool{false, true} {
			t.Run(tc.name+"/Join="+strconv.FormatBool(join), func(t *testing.T) {
				t.Parallel()
				var c counter
				h := func(w http.ResponseWriter, r *http.Request) {
					c.add("x")
					for _, code := range tc.codes {
						w.WriteHeader(code)
					}
					_, _ = w.Write([]byte("body"))
				}
				cfg := &idemhttp.Config{StoreServerErrors: true} // 999 is kept too
				var e *env
				if join {
					e = joinEnv(t, &fakeJoin{}, cfg, h)
				} else {
					e = newEnv(t, http.HandlerFunc(h), &envOptions{mw: cfg})
				}
				first := e.do(req{key: "k"})
				if first.status != tc.status || string(first.body) != "body" {
					t.Fatalf("first response %d %q, want %d %q", first.status, first.body, tc.status, "body")
				}
				sameResponse(t, first, e.do(req{key: "k"}))
				if c.total() != 1 {
					t.Fatalf("handler ran %d times, want 1", c.total())
				}
			})
		}
	}
}
