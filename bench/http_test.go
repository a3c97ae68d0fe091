package bench

import (
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
// overhead of each middleware is its time less its own bare handler's.
func BenchmarkHTTP(b *testing.B) {
	b.Run("fiber", func(b *testing.B) {
		newApp := func(guarded bool) fasthttp.RequestHandler {
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
		serve := func(b *testing.B, h fasthttp.RequestHandler, key func() string) {
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod(fasthttp.MethodPost)
				ctx.Request.SetRequestURI("/payments")
				ctx.Request.Header.SetContentType("application/json")
				ctx.Request.SetBodyString(reqBody)
				ctx.Request.Header.Set("Authorization", reqAuth)
				if k := key(); k != "" {
					ctx.Request.Header.Set("X-Idempotency-Key", k)
				}
				h(&ctx)
				if c := ctx.Response.StatusCode(); c != fasthttp.StatusCreated {
					b.Fatalf("status %d: %s", c, ctx.Response.Body())
				}
			}
		}
		b.Run("bare", func(b *testing.B) { serve(b, newApp(false), func() string { return "" }) })
		b.Run("duplicate", func(b *testing.B) {
			dup := uuidLike(-httpSeq.Add(1))
			serve(b, newApp(true), func() string { return dup })
		})
		b.Run("first", func(b *testing.B) {
			serve(b, newApp(true), func() string { return uuidLike(httpSeq.Add(1)) })
		})
	})
	b.Run("net-http", func(b *testing.B) {
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Location", "/payments/pay_1")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, respBody)
		})
		guarded := func() http.Handler { return idemhttp.New(idempotency.New(nil, nil), nil)(app) }
		serve := func(b *testing.B, h http.Handler, key func() string) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(reqBody))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", reqAuth)
				if k := key(); k != "" {
					r.Header.Set(idemhttp.HeaderKey, `"`+k+`"`)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		}
		b.Run("bare", func(b *testing.B) { serve(b, app, func() string { return "" }) })
		b.Run("duplicate", func(b *testing.B) {
			dup := uuidLike(-httpSeq.Add(1))
			serve(b, guarded(), func() string { return dup })
		})
		b.Run("first", func(b *testing.B) {
			serve(b, guarded(), func() string { return uuidLike(httpSeq.Add(1)) })
		})
	})
}
