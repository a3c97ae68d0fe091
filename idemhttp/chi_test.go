package idemhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// The middleware under chi, mounted both ways chi offers: r.Use for a
// whole router and r.With for one route. Route parameters still reach the
// handler, a replay skips the handler, and a key sent to another route is
// refused as reused.
func TestChiRouter(t *testing.T) {
	t.Parallel()
	var c counter
	g := idempotency.New(nil, nil)
	t.Cleanup(func() { _ = g.Close() })
	mw := idemhttp.New(g, nil)
	r := chi.NewRouter()
	r.Route("/accounts/{account}", func(r chi.Router) {
		r.Use(mw)
		r.Post("/payments", func(w http.ResponseWriter, req *http.Request) {
			n := c.add("payments")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "payment %d for %s", n, chi.URLParam(req, "account"))
		})
	})
	r.With(mw).Post("/refunds/{id}", func(w http.ResponseWriter, req *http.Request) {
		n := c.add("refunds")
		fmt.Fprintf(w, "refund %d of %s", n, chi.URLParam(req, "id"))
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	post := func(path, key string) (int, string, bool) {
		t.Helper()
		rq, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`{}`))
		rq.Header.Set(idemhttp.HeaderKey, `"`+key+`"`)
		rq.Header.Set("Authorization", defaultAuth)
		res, err := srv.Client().Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(b), res.Header.Get(idemhttp.HeaderReplayed) == "true"
	}
	for _, tc := range []struct {
		name, path, key string
		status          int
		body            string
		replayed        bool
	}{
		{"first payment", "/accounts/acc_1/payments", "k1", http.StatusCreated, "payment 1 for acc_1", false},
		{"replayed payment", "/accounts/acc_1/payments", "k1", http.StatusCreated, "payment 1 for acc_1", true},
		{"same key, other account", "/accounts/acc_2/payments", "k1", http.StatusUnprocessableEntity, "", false},
		{"other key", "/accounts/acc_2/payments", "k2", http.StatusCreated, "payment 2 for acc_2", false},
		{"first refund", "/refunds/r_9", "k3", http.StatusOK, "refund 1 of r_9", false},
		{"replayed refund", "/refunds/r_9", "k3", http.StatusOK, "refund 1 of r_9", true},
	} {
		status, body, replayed := post(tc.path, tc.key)
		if status != tc.status || replayed != tc.replayed || (tc.body != "" && body != tc.body) {
			t.Errorf("%s: %d %q replayed=%v; want %d %q replayed=%v", tc.name, status, body, replayed, tc.status, tc.body, tc.replayed)
		}
	}
	if p, r := c.get("payments"), c.get("refunds"); p != 2 || r != 1 {
		t.Errorf("handlers ran %d payments and %d refunds, want 2 and 1", p, r)
	}
}
