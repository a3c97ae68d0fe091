package main

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/idemhttp/idemhttptest"
)

// TestConformance: idemhttp mounted on Gin's engine with idempotent passes
// the HTTP conformance suite, the suite's application being Gin's handler
// for every path.
func TestConformance(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	idemhttptest.Run(t, func(t *testing.T, app http.Handler) http.Handler {
		g := idempotency.New(nil, nil)
		t.Cleanup(func() { _ = g.Close() })
		r := gin.New()
		r.Use(idempotent(idemhttp.New(g, nil)))
		r.Any("/*path", gin.WrapH(app))
		return r
	})
}
