package idemhttp_test

import (
	"net/http"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// Which response headers a replay carries, by configuration: sensitive
// headers stay out even when OmitHeaders names others, unless
// ReplaySensitiveHeaders says otherwise.
func TestOmittedHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      idemhttp.Config
		replayed []string // of Set-Cookie, Authentication-Info, X-Request-Id, X-Plain
	}{
		{"defaults", idemhttp.Config{}, []string{"X-Request-Id", "X-Plain"}},
		{"omit others too", idemhttp.Config{OmitHeaders: []string{"x-request-id"}}, []string{"X-Plain"}},
		{"replay sensitive", idemhttp.Config{ReplaySensitiveHeaders: true}, []string{"Set-Cookie", "Authentication-Info", "X-Request-Id", "X-Plain"}},
		{"replay sensitive, omit others", idemhttp.Config{ReplaySensitiveHeaders: true, OmitHeaders: []string{"X-Request-Id"}}, []string{"Set-Cookie", "Authentication-Info", "X-Plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			all := []string{"Set-Cookie", "Authentication-Info", "X-Request-Id", "X-Plain"}
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for _, h := range all {
					w.Header().Set(h, "v")
				}
				w.WriteHeader(http.StatusCreated)
			}), &envOptions{mw: &tc.cfg})
			first := e.do(req{key: "k"})
			replay := e.do(req{key: "k"})
			if !replay.replayed() {
				t.Fatalf("second response not a replay: %d %s", replay.status, replay.body)
			}
			want := map[string]bool{}
			for _, h := range tc.replayed {
				want[h] = true
			}
			for _, h := range all {
				if first.header.Get(h) != "v" {
					t.Errorf("first response lacks %s", h)
				}
				if got := replay.header.Get(h) == "v"; got != want[h] {
					t.Errorf("replay carries %s: %v, want %v", h, got, want[h])
				}
			}
		})
	}
}
