package idemhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/memstore"
)

// BenchmarkMiddleware measures a small JSON POST against the same handler
// without the middleware (baseline), in process (recorder) and over a
// loopback connection (loopback). x-baseline and allocs-x-baseline are the
// ratios of time and allocations per request to the baseline of the same
// run.
func BenchmarkMiddleware(b *testing.B) {
	body := `{"amount":4200,"currency":"EUR","customer":"cus_123","description":"order 1001","metadata":{"cart":"c_42"}}`
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/payments/pay_1")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"pay_1","amount":4200,"currency":"EUR","status":"succeeded"}`)
	})
	// A fresh store per sub-benchmark, so that no run pays for the
	// records of another.
	guarded := func(b *testing.B) http.Handler {
		s := memstore.New(&memstore.Options{SweepInterval: -1})
		b.Cleanup(func() { _ = s.Close() })
		return idemhttp.New(idempotency.New(s, nil), nil)(app)
	}

	type transport func(b *testing.B, h http.Handler, key func(i int) string)
	recorder := func(b *testing.B, h http.Handler, key func(int) string) {
		for i := 0; b.Loop(); i++ {
			r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(body))
			if k := key(i); k != "" {
				r.Header.Set(idemhttp.HeaderKey, k)
			}
			r.Header.Set("Authorization", defaultAuth)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusCreated {
				b.Fatalf("status %d", w.Code)
			}
		}
	}
	loopback := func(b *testing.B, h http.Handler, key func(int) string) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		for i := 0; b.Loop(); i++ {
			r, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", strings.NewReader(body))
			if k := key(i); k != "" {
				r.Header.Set(idemhttp.HeaderKey, k)
			}
			r.Header.Set("Authorization", defaultAuth)
			res, err := c.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	}

	run := 0
	for _, tr := range []struct {
		name string
		do   transport
	}{{"recorder", recorder}, {"loopback", loopback}} {
		var baseNs, baseAllocs float64
		measure := func(handler func(*testing.B) http.Handler, key func(int) string, isBase bool) func(b *testing.B) {
			return func(b *testing.B) {
				h := handler(b)
				b.ReportAllocs()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				tr.do(b, h, key)
				runtime.ReadMemStats(&m1)
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				allocs := float64(m1.Mallocs-m0.Mallocs) / float64(b.N)
				if isBase {
					baseNs, baseAllocs = ns, allocs
					return
				}
				if baseNs > 0 && baseAllocs > 0 {
					b.ReportMetric(ns/baseNs, "x-baseline")
					b.ReportMetric(allocs/baseAllocs, "allocs-x-baseline")
				}
			}
		}
		run++
		prefix := "r" + strconv.Itoa(run) + "-"
		b.Run(tr.name+"/baseline", measure(func(*testing.B) http.Handler { return app }, func(int) string { return `"` + prefix + "base" + `"` }, true))
		b.Run(tr.name+"/first-call", measure(guarded, func(i int) string { return `"` + prefix + strconv.Itoa(i) + `"` }, false))
		b.Run(tr.name+"/replay", measure(guarded, func(int) string { return `"` + prefix + "same" + `"` }, false))
		b.Run(tr.name+"/no-key", measure(guarded, func(int) string { return "" }, false))
	}
}

// BenchmarkKeyReused measures the middleware's own error response: a
// request whose key was used with another body gets 422 problem+json.
func BenchmarkKeyReused(b *testing.B) {
	s := memstore.New(&memstore.Options{SweepInterval: -1})
	b.Cleanup(func() { _ = s.Close() })
	h := idemhttp.New(idempotency.New(s, nil), nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	send := func(body string) int {
		r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(body))
		r.Header.Set(idemhttp.HeaderKey, `"reused"`)
		r.Header.Set("Authorization", defaultAuth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if c := send("first"); c != http.StatusCreated {
		b.Fatalf("first: %d", c)
	}
	b.ReportAllocs()
	for b.Loop() {
		if c := send("other"); c != http.StatusUnprocessableEntity {
			b.Fatalf("status %d", c)
		}
	}
}
