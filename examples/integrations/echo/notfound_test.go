package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// TestUnmatchedRoute: with idempotent on the whole router, a keyed request
// that no route matches gets Echo's 404, and so does its retry, replayed
// byte for byte: the error Echo answers is written inside the middleware.
func TestUnmatchedRoute(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	t.Cleanup(func() { _ = g.Close() })
	e := echo.New()
	e.Use(idempotent(idemhttp.New(g, &idemhttp.Config{SharedKeySpace: true})))
	e.POST("/payments", func(c echo.Context) error { return c.String(http.StatusCreated, "paid") })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	var bodies []string
	for _, replayed := range []string{"", "true"} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/refunds", strings.NewReader("1"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(idemhttp.HeaderKey, `"k"`)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusNotFound || res.Header.Get(idemhttp.HeaderReplayed) != replayed {
			t.Fatalf("%d %q, replayed %q; want 404, replayed %q", res.StatusCode, b, res.Header.Get(idemhttp.HeaderReplayed), replayed)
		}
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] || bodies[0] == "" {
		t.Fatalf("replayed body %q, first %q", bodies[1], bodies[0])
	}
}
