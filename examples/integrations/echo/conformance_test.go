package main

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/idemhttp/idemhttptest"
)

// TestConformance: idemhttp mounted on Echo's router with idempotent
// passes the HTTP conformance suite, the suite's application being Echo's
// handler for every path.
func TestConformance(t *testing.T) {
	t.Parallel()
	idemhttptest.Run(t, func(t *testing.T, app http.Handler) http.Handler {
		g := idempotency.New(nil, nil)
		t.Cleanup(func() { _ = g.Close() })
		e := echo.New()
		e.Use(idempotent(idemhttp.New(g, nil)))
		e.Any("/*", echo.WrapHandler(app))
		return e
	})
}
