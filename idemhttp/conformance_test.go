package idemhttp_test

import (
	"net/http"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/idemhttp/idemhttptest"
)

// idemhttp passes the HTTP conformance suite in several configurations.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// store: nil for the guard's private in-memory store.
		store func(t *testing.T) idempotency.Store
		cfg   *idemhttp.Config
	}{
		{name: "defaults"},
		{
			name:  "filestore, ScopeSecret, own error format",
			store: func(t *testing.T) idempotency.Store { return newFileStore(t) },
			cfg: &idemhttp.Config{ScopeSecret: testSecret, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, e *idemhttp.Error) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(e.Status)
				_, _ = w.Write([]byte(e.Problem + "\n"))
			}},
		},
		{
			name: "Scope from the credentials, Required, 64 KiB responses",
			cfg: &idemhttp.Config{
				Scope:            func(r *http.Request) string { return r.Header.Get("Authorization") },
				Required:         true,
				MaxResponseBytes: 64 << 10,
			},
		},
		{
			name: "Keep of its own that keeps what the default keeps",
			cfg: &idemhttp.Config{Keep: func(status int, r *http.Request) bool {
				return status < 500 && status != http.StatusTooManyRequests && idemhttp.DefaultKeep(status, r)
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			idemhttptest.Run(t, func(t *testing.T, app http.Handler) http.Handler {
				var s idempotency.Store
				if tc.store != nil {
					s = tc.store(t)
				}
				g := idempotency.New(s, nil)
				t.Cleanup(func() { _ = g.Close() })
				return idemhttp.New(g, tc.cfg)(app)
			})
		})
	}
}

func newFileStore(t *testing.T) idempotency.Store {
	s, err := filestore.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
