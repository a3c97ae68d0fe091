package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// serve starts Gin with idempotent on the whole engine and the routes
// that route adds.
func serve(t *testing.T, route func(r *gin.Engine)) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	g := idempotency.New(nil, nil)
	t.Cleanup(func() { _ = g.Close() })
	r := gin.New()
	r.Use(idempotent(idemhttp.New(g, &idemhttp.Config{SharedKeySpace: true})))
	route(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status         int
	body, replayed string
}

// post sends a POST with an Idempotency-Key.
func post(t *testing.T, url, key string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("1"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(idemhttp.HeaderKey, key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, string(b), res.Header.Get(idemhttp.HeaderReplayed)}
}

// TestUnmatchedRoute: a keyed request that no route matches gets Gin's
// 404, and so does its retry, replayed: the status Gin writes after the
// chain is the one recorded.
func TestUnmatchedRoute(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(r *gin.Engine) {
		r.POST("/payments", func(c *gin.Context) { c.String(http.StatusCreated, "paid") })
	})
	first, retry := post(t, srv.URL+"/refunds", `"k"`), post(t, srv.URL+"/refunds", `"k"`)
	if first.status != http.StatusNotFound || first.replayed != "" || retry != (answer{first.status, first.body, "true"}) {
		t.Fatalf("first %+v, retry %+v; want 404, then it replayed", first, retry)
	}
}

// TestHijack: a handler that hijacks the connection does so through the
// middleware, which records that its response cannot be replayed; the
// retry gets 409 and the handler does not run again.
func TestHijack(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	srv := serve(t, func(r *gin.Engine) {
		r.POST("/raw", func(c *gin.Context) {
			runs.Add(1)
			conn, buf, err := c.Writer.Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
			_ = buf.Flush()
		})
	})
	if a := post(t, srv.URL+"/raw", `"h"`); a.status != http.StatusOK || a.body != "hi" {
		t.Fatalf("first: %+v", a)
	}
	// The retry may come while the first request is still being settled.
	deadline := time.Now().Add(20 * time.Second)
	a := post(t, srv.URL+"/raw", `"h"`)
	for strings.Contains(a.body, "/in-progress") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		a = post(t, srv.URL+"/raw", `"h"`)
	}
	if a.status != http.StatusConflict || !strings.Contains(a.body, "/response-not-replayable") || runs.Load() != 1 {
		t.Fatalf("retry: %+v after %d runs; want 409 response-not-replayable after 1", a, runs.Load())
	}
}
