// Command echo serves payments with Echo behind idemhttp, mounted with
// echo.WrapMiddleware, and retries every request once with the same
// Idempotency-Key: each payment is made once, and the retry gets the first
// response back, errors included.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// idempotent mounts idemhttp middleware on Echo. Echo writes the response
// of a handler's returned error after the middleware chain has returned,
// where idemhttp can no longer record it; so the error is written inside,
// with c.Error, and the replay of a failed request is the same error.
func idempotent(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	wrapped := echo.WrapMiddleware(mw)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return wrapped(func(c echo.Context) error {
			if err := next(c); err != nil {
				c.Error(err)
			}
			return nil
		})
	}
}

func run(out io.Writer) error {
	g := idempotency.New(nil, nil) // in-memory; use a shared store with several servers
	defer g.Close()

	payments := 0
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	api := e.Group("/accounts/:account", idempotent(idemhttp.New(g, &idemhttp.Config{
		Required: true,
		Scope:    func(r *http.Request) string { return r.Header.Get("X-Account") }, // your authentication
	})))
	api.POST("/payments", func(c echo.Context) error {
		if c.Param("account") != "acct-1" {
			return echo.NewHTTPError(http.StatusNotFound, "no such account")
		}
		payments++
		return c.JSON(http.StatusCreated, map[string]any{"payment": payments, "account": c.Param("account")})
	})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Shutdown(context.Background())

	for _, c := range []struct{ path, key string }{
		{"/accounts/acct-1/payments", "pay-1"},
		{"/accounts/acct-1/payments", "pay-2"},
		{"/accounts/acct-9/payments", "pay-3"},
	} {
		for attempt := 1; attempt <= 2; attempt++ {
			req, err := http.NewRequest(http.MethodPost, "http://"+lis.Addr().String()+c.path, strings.NewReader(`{"amount":42}`))
			if err != nil {
				return err
			}
			req.Header.Set(idemhttp.HeaderKey, c.key)
			req.Header.Set("X-Account", "acct-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s attempt %d: %d %s (replayed: %q)\n", c.key, attempt, resp.StatusCode,
				strings.TrimSpace(string(body)), resp.Header.Get(idemhttp.HeaderReplayed))
		}
	}
	fmt.Fprintf(out, "payments made: %d\n", payments)
	if payments != 2 {
		return errors.New("a payment ran twice")
	}
	return nil
}
