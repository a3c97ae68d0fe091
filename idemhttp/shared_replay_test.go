package idemhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/internal/teststore"
)

// TestSharedReplayUntouched: duplicates share one decoded stored response
// (idempotency.SharedResult), so nothing a replay hands to the
// ResponseWriter may alias it: an outer middleware that rewrites the
// header and trailer values it finds, in place, after a replay (which
// then sends them) changes no later replay.
func TestSharedReplayUntouched(t *testing.T) {
	t.Parallel()
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Id", "pay_1")
		_, _ = io.WriteString(w, "paid")
		w.Header().Set("X-Sum", "9")
	})
	guarded := idemhttp.New(teststore.Guard(t, nil, nil), nil)(app)
	vandal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guarded.ServeHTTP(w, r)
		if r.Header.Get("X-Vandal") == "" {
			return
		}
		for _, vs := range w.Header() {
			for i := range vs {
				vs[i] = "vandalised"
			}
		}
	})
	srv := httptest.NewServer(vandal)
	t.Cleanup(srv.Close)
	do := func(vandal bool) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer client-1")
		req.Header.Set(idemhttp.HeaderKey, `"k"`)
		if vandal {
			req.Header.Set("X-Vandal", "1")
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(body) != "paid" {
			t.Fatalf("body %q, %v", body, err)
		}
		return res
	}
	do(false)
	do(true) // a replay whose values the outer middleware rewrites
	for i := range 3 {
		res := do(false)
		if res.Header.Get(idemhttp.HeaderReplayed) != "true" || res.Header.Get("X-Id") != "pay_1" || res.Trailer.Get("X-Sum") != "9" {
			t.Fatalf("replay %d: header %v, trailer %v; want the recorded ones", i, res.Header, res.Trailer)
		}
	}
}
