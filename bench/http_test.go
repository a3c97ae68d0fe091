package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"
	fiberidem "github.com/gofiber/fiber/v2/middleware/idempotency"
	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/internal/testbench"
	"github.com/valyala/fasthttp"
)

// The request and response of the HTTP cases: a small JSON POST answered
// 201 with a JSON body and a Location header.
const (
	reqBody  = `{"amount":4200,"currency":"EUR","customer":"cus_123","description":"order 1001","metadata":{"cart":"c_42"}}`
	respBody = `{"id":"pay_1","amount":4200,"currency":"EUR","status":"succeeded"}`
	// reqAuth identifies the client: idemhttp's default scope answers 401
	// to a keyed request without credentials. Both stacks get it.
	reqAuth = "Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc"
)

// httpSeq numbers first-request keys across the process.
var httpSeq atomic.Int64

// uuidLike returns a distinct 36-character key: fiber's middleware by
// default accepts only keys of a UUID's length.
func uuidLike(n int64) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 36-len(s)) + s
}

// BenchmarkHTTP: a duplicate and a first request through gofiber v2's
// idempotency middleware (memory storage) over its bare fasthttp handler,
// and through idemhttp (default memstore) over a bare net/http handler.
// Both stacks are called in process, without sockets: fiber's
// app.Handler() with a fasthttp.RequestCtx (reused, as fasthttp's server
// does), net/http's handler with httptest.NewRequest and NewRecorder. The
// overhead of each middleware is its time less its own bare handler's:
// the paired cases measure it with bare and guarded requests alternated
// in rounds, so that both meet the same load.
func BenchmarkHTTP(b *testing.B) {
	stacks := []struct {
		name          string
		bare, guarded func() func(key string) error
	}{
		{"fiber", func() func(string) error { return fiberCall(fiberApp(false)) }, func() func(string) error { return fiberCall(fiberApp(true)) }},
		{"net-http", func() func(string) error { return netHTTPCall(netHTTPApp) },
			func() func(string) error {
				return netHTTPCall(idemhttp.New(idempotency.New(nil, nil), nil)(netHTTPApp))
			}},
	}
	for _, st := range stacks {
		b.Run(st.name, func(b *testing.B) {
			b.Run("bare", func(b *testing.B) { serve(b, st.bare(), func() string { return "" }) })
			b.Run("duplicate", func(b *testing.B) {
				dup := uuidLike(-httpSeq.Add(1))
				serve(b, st.guarded(), func() string { return dup })
			})
			b.Run("first", func(b *testing.B) {
				serve(b, st.guarded(), func() string { return uuidLike(httpSeq.Add(1)) })
			})
			b.Run("paired", func(b *testing.B) {
				b.Run("duplicate", func(b *testing.B) {
					dup := uuidLike(-httpSeq.Add(1))
					pairedHTTP(b, st.bare(), st.guarded(), func() string { return dup })
				})
				b.Run("first", func(b *testing.B) {
					pairedHTTP(b, st.bare(), st.guarded(), func() string { return uuidLike(httpSeq.Add(1)) })
				})
			})
		})
	}
}

// serve makes b.N requests through call, keyed by key ("": none).
func serve(b *testing.B, call func(key string) error, key func() string) {
	b.ReportAllocs()
	for b.Loop() {
		if err := call(key()); err != nil {
			b.Fatal(err)
		}
	}
}

// pairedHTTP alternates unkeyed requests to the bare handler with keyed
// ones to the guarded stack, in rounds of 16, and reports the guarded
// request's extra time (extra-ns/op).
func pairedHTTP(b *testing.B, bare, guarded func(key string) error, key func() string) {
	testbench.PairedRounds(b, 1, 16,
		func(context.Context, int) error { return bare("") },
		func(context.Context, int) error { return guarded(key()) })
}

// fiberApp is the fiber stack: the handler, and with guarded fiber's
// idempotency middleware in front of it.
func fiberApp(guarded bool) fasthttp.RequestHandler {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if guarded {
		app.Use(fiberidem.New())
	}
	app.Post("/payments", func(c *fiber.Ctx) error {
		_ = c.Body()
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Set(fiber.HeaderLocation, "/payments/pay_1")
		return c.Status(fiber.StatusCreated).SendString(respBody)
	})
	return app.Handler()
}

// fiberCall returns a function making one request through h on a
// RequestCtx it reuses, as fasthttp's server does.
func fiberCall(h fasthttp.RequestHandler) func(key string) error {
	var ctx fasthttp.RequestCtx
	return func(key string) error {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI("/payments")
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBodyString(reqBody)
		ctx.Request.Header.Set("Authorization", reqAuth)
		if key != "" {
			ctx.Request.Header.Set("X-Idempotency-Key", key)
		}
		h(&ctx)
		if c := ctx.Response.StatusCode(); c != fasthttp.StatusCreated {
			return fmt.Errorf("status %d: %s", c, ctx.Response.Body())
		}
		return nil
	}
}

// netHTTPApp is the net/http handler.
var netHTTPApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/payments/pay_1")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, respBody)
})

// netHTTPCall returns a function making one request through h with
// httptest.NewRequest and NewRecorder.
func netHTTPCall(h http.Handler) func(key string) error {
	return func(key string) error {
		r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(reqBody))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", reqAuth)
		if key != "" {
			r.Header.Set(idemhttp.HeaderKey, `"`+key+`"`)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			return fmt.Errorf("status %d: %s", w.Code, w.Body)
		}
		return nil
	}
}
