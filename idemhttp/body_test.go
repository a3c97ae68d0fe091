package idemhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/memstore"
)

// The middleware reads a guarded request's body whatever its declared
// length says, bounds it by MaxRequestBytes, and hands the handler the
// whole body, its length and a GetBody that gives it again.
func TestRequestBodyLengths(t *testing.T) {
	t.Parallel()
	const limit = 1000
	full := strings.Repeat("0123456789", 100) // exactly the limit
	for _, tc := range []struct {
		name     string
		body     string
		declared int64 // ContentLength; -1: unknown (chunked)
		want     int   // status
	}{
		{"declared, at the limit", full, limit, http.StatusCreated},
		{"declared, empty", "", 0, http.StatusCreated},
		{"unknown length, at the limit", full, -1, http.StatusCreated},
		{"unknown length, over the limit", full + "!", -1, http.StatusRequestEntityTooLarge},
		{"declared over the limit", full + "!", limit + 1, http.StatusRequestEntityTooLarge},
		// Not a buffer of the declared size: the limit bounds it.
		{"declared far over the limit", full + "!", 1 << 50, http.StatusRequestEntityTooLarge},
		{"declared shorter than the body, over the limit", full + "!", 5, http.StatusRequestEntityTooLarge},
		{"declared shorter than the body, within the limit", full[:20], 5, http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runs := 0
			store := memstore.New(&memstore.Options{SweepInterval: -1})
			t.Cleanup(func() { _ = store.Close() })
			h := idemhttp.New(idempotency.New(store, nil), &idemhttp.Config{SharedKeySpace: true, MaxRequestBytes: limit})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					runs++
					got, _ := io.ReadAll(r.Body)
					if string(got) != tc.body || r.ContentLength != int64(len(tc.body)) {
						t.Errorf("handler got %d bytes, ContentLength %d; want %d", len(got), r.ContentLength, len(tc.body))
					}
					again, err := r.GetBody()
					if err != nil {
						t.Fatal(err)
					}
					if b, _ := io.ReadAll(again); string(b) != tc.body {
						t.Errorf("GetBody gave %d bytes, want %d", len(b), len(tc.body))
					}
					w.WriteHeader(http.StatusCreated)
				}))
			r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(tc.body)))
			r.ContentLength = tc.declared
			r.Header.Set(idemhttp.HeaderKey, `"k"`)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want || (runs == 1) != (tc.want == http.StatusCreated) {
				t.Fatalf("status %d after %d runs, want %d", w.Code, runs, tc.want)
			}
		})
	}
}

// A request body over MaxRequestBytes gets 413 and the connection is
// closed after it, so that the server reads no more of the body: whether
// the length was declared or not (chunked).
func TestRequestTooLargeClosesTheConnection(t *testing.T) {
	t.Parallel()
	const limit = 1000
	body := strings.Repeat("x", limit+1)
	for _, tc := range []struct {
		name   string
		length int64 // ContentLength; -1: unknown (chunked)
	}{
		{"Declared", limit + 1},
		{"Chunked", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.add("x")
			}), &envOptions{mw: &idemhttp.Config{MaxRequestBytes: limit}})
			r, err := http.NewRequest(http.MethodPost, e.srv.URL, io.MultiReader(strings.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			r.ContentLength = tc.length
			r.Header.Set("Authorization", defaultAuth)
			r.Header.Set(idemhttp.HeaderKey, `"k"`)
			res, err := e.client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge || !res.Close || c.total() != 0 {
				t.Fatalf("status %d, Close %v, handler ran %d times; want 413, the connection closed, no run", res.StatusCode, res.Close, c.total())
			}
		})
	}
}
