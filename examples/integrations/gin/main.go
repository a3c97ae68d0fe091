// Command gin serves payments with Gin behind idemhttp, through a small
// adapter, and retries every request once with the same Idempotency-Key:
// each payment is made once, and the retry gets the first response back.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gin:", err)
		os.Exit(1)
	}
}

// idempotent mounts net/http middleware such as idemhttp's on Gin: the
// rest of the chain runs inside it, writing through the middleware's
// ResponseWriter, and nothing runs when the middleware answers by itself
// (a replay, a conflict). Gin holds a status back until the body's first
// byte and writes it after the chain; here it is written before the chain
// returns into the middleware, which records the response then. The
// status starts as Gin's own (404 or 405 for a path no route matches),
// and what the middleware answered is final: Gin writes nothing after it.
func idempotent(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Writer
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gw := &writer{ResponseWriter: orig, w: w, status: orig.Status(), size: -1}
			c.Request, c.Writer = r, gw
			c.Next()
			gw.WriteHeaderNow()
		})).ServeHTTP(orig, c.Request)
		orig.WriteHeaderNow()
		c.Writer = orig
		c.Abort() // the handlers ran inside, or must not run
	}
}

// writer is a gin.ResponseWriter that writes, flushes and hijacks
// through w; the rest (CloseNotify, Pusher) is the original's.
type writer struct {
	gin.ResponseWriter
	w      http.ResponseWriter
	status int
	size   int // -1 until the header is written
}

func (w *writer) Header() http.Header { return w.w.Header() }
func (w *writer) Status() int         { return w.status }
func (w *writer) Size() int           { return w.size }
func (w *writer) Written() bool       { return w.size != -1 }

func (w *writer) WriteHeader(code int) {
	if code > 0 && !w.Written() {
		w.status = code
	}
}

func (w *writer) WriteHeaderNow() {
	if !w.Written() {
		w.size = 0
		w.w.WriteHeader(w.status)
	}
}

func (w *writer) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	n, err := w.w.Write(b)
	w.size += n
	return n, err
}

func (w *writer) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

func (w *writer) Flush() {
	w.WriteHeaderNow()
	_ = http.NewResponseController(w.w).Flush()
}

// Hijack hijacks through the middleware, which records that the
// connection left HTTP; nothing is written after it.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.w).Hijack()
	if err == nil {
		w.size = 0
	}
	return conn, rw, err
}

// Unwrap returns the middleware's writer, for http.ResponseController
// (deadlines).
func (w *writer) Unwrap() http.ResponseWriter { return w.w }

func run(out io.Writer) error {
	g := idempotency.New(nil, nil) // in-memory; use a shared store with several servers
	defer g.Close()

	gin.SetMode(gin.ReleaseMode)
	payments := 0
	r := gin.New()
	api := r.Group("/accounts/:account", idempotent(idemhttp.New(g, &idemhttp.Config{
		Required: true,
		Scope:    func(r *http.Request) string { return r.Header.Get("X-Account") }, // your authentication
	})))
	api.POST("/payments", func(c *gin.Context) {
		if c.Param("account") != "acct-1" {
			c.JSON(http.StatusNotFound, gin.H{"error": "no such account"})
			return
		}
		payments++
		c.JSON(http.StatusCreated, gin.H{"payment": payments, "account": c.Param("account")})
	})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Shutdown(context.Background())

	for _, c := range []struct{ path, key string }{
		{"/accounts/acct-1/payments", "pay-1"},
		{"/accounts/acct-1/payments", "pay-2"},
		{"/accounts/acct-9/payments", "pay-3"},
		{"/accounts/acct-1/payments", ""}, // no key: refused, Required
	} {
		for attempt := 1; attempt <= 2; attempt++ {
			req, err := http.NewRequest(http.MethodPost, "http://"+lis.Addr().String()+c.path, strings.NewReader(`{"amount":42}`))
			if err != nil {
				return err
			}
			if c.key != "" {
				req.Header.Set(idemhttp.HeaderKey, c.key)
			}
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
			if resp.StatusCode == http.StatusBadRequest {
				body = []byte(resp.Header.Get("Content-Type"))
			}
			fmt.Fprintf(out, "%q attempt %d: %d %s (replayed: %q)\n", c.key, attempt, resp.StatusCode,
				strings.TrimSpace(string(body)), resp.Header.Get(idemhttp.HeaderReplayed))
		}
	}
	fmt.Fprintf(out, "payments made: %d\n", payments)
	if payments != 2 {
		return errors.New("a payment ran twice")
	}
	return nil
}
