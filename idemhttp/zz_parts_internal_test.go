package idemhttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
)

const zzBody = `{"amount":4200,"currency":"EUR","customer":"cus_123","description":"order 1001","metadata":{"cart":"c_42"}}`

func zzReq() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(zzBody))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc")
	r.Header.Set(HeaderKey, `"000000000000000000000000000000000001"`)
	return r
}

func BenchmarkZZParts(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/payments/pay_1")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"pay_1","amount":4200,"currency":"EUR","status":"succeeded"}`)
	})
	g := idempotency.New(nil, nil)
	hh := New(g, nil)(app).(*handler)
	r := zzReq()
	hh.ServeHTTP(httptest.NewRecorder(), r)
	b.Run("request", func(b *testing.B) {
		for b.Loop() {
			zzReq()
		}
	})
	b.Run("parseKey", func(b *testing.B) {
		for b.Loop() {
			_, _ = parseKey(r.Header.Values(HeaderKey), hh.cfg.MaxKeyLength)
		}
	})
	b.Run("recordKey", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = hh.scope.recordKey(context.Background(), r, "", "k")
		}
	})
	body := []byte(zzBody)
	b.Run("readBody", func(b *testing.B) {
		for b.Loop() {
			rr := zzReq()
			_, _ = readBody(nil, rr, 1<<20)
		}
	})
	b.Run("fingerprint", func(b *testing.B) {
		for b.Loop() {
			_ = hh.cfg.Fingerprint(r, body)
		}
	})
	key, _ := parseKey(r.Header.Values(HeaderKey), hh.cfg.MaxKeyLength)
	recKey, _, _ := hh.scope.recordKey(context.Background(), r, "", key)
	fp := idempotency.WithFingerprint(hh.cfg.Fingerprint(r, body))
	var s storedResponse
	b.Run("do", func(b *testing.B) {
		for b.Loop() {
			var optBuf [4]idempotency.CallOption
			opts := append(append(optBuf[:0], hh.opts...), fp)
			s, _ = hh.run(httptest.NewRecorder(), r, recKey, body, opts)
		}
	})
	b.Run("writeTo", func(b *testing.B) {
		for b.Loop() {
			s.writeTo(httptest.NewRecorder())
		}
	})
	b.Run("bareWrite", func(b *testing.B) {
		for b.Loop() {
			app(httptest.NewRecorder(), r)
		}
	})
}

func BenchmarkZZServe(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/payments/pay_1")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"pay_1","amount":4200,"currency":"EUR","status":"succeeded"}`)
	})
	g := idempotency.New(nil, nil)
	hh := New(g, nil)(app).(*handler)
	hh.ServeHTTP(httptest.NewRecorder(), zzReq())
	b.Run("dup", func(b *testing.B) {
		for b.Loop() {
			hh.ServeHTTP(httptest.NewRecorder(), zzReq())
		}
	})
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			app.ServeHTTP(httptest.NewRecorder(), zzReq())
		}
	})
}

func BenchmarkZZFirst(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/payments/pay_1")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"pay_1","amount":4200,"currency":"EUR","status":"succeeded"}`)
	})
	g := idempotency.New(nil, nil)
	hh := New(g, nil)(app).(*handler)
	i := 0
	for b.Loop() {
		i++
		r := zzReq()
		r.Header.Set(HeaderKey, `"`+strconv.Itoa(i)+`"`)
		hh.ServeHTTP(httptest.NewRecorder(), r)
	}
}
