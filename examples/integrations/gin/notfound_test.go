package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// TestUnmatchedRoute: with idempotent on the whole engine, a keyed request
// that no route matches gets Gin's 404, and so does its retry, replayed:
// the status Gin writes after the chain is the one recorded.
func TestUnmatchedRoute(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	g := idempotency.New(nil, nil)
	t.Cleanup(func() { _ = g.Close() })
	r := gin.New()
	r.Use(idempotent(idemhttp.New(g, &idemhttp.Config{SharedKeySpace: true})))
	r.POST("/payments", func(c *gin.Context) { c.String(http.StatusCreated, "paid") })
	srv := httptest.NewServer(r)
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
	if bodies[0] != bodies[1] {
		t.Fatalf("replayed body %q, first %q", bodies[1], bodies[0])
	}
}
