package idemhttp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

// Methods are case-sensitive, so Methods: {"post"} would guard no request
// any client sends (they send POST) and let every payment through
// unguarded, silently: New refuses a standard method in another case,
// and keeps nonstandard methods as they are.
func TestMethodsInAnotherCase(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	for _, m := range []string{"post", "Patch", "pUT", "delete"} {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			defer func() {
				p, _ := recover().(string)
				if !strings.HasPrefix(p, "idempotency: idemhttp: ") || !strings.Contains(p, strings.ToUpper(m)) {
					t.Fatalf("panic %q, want one that names %s", p, strings.ToUpper(m))
				}
			}()
			idemhttp.New(g, &idemhttp.Config{Methods: []string{http.MethodPost, m}})
		})
	}
	var c counter
	e := newEnv(t, paymentHandler(&c), &envOptions{mw: &idemhttp.Config{Methods: []string{"CHARGE", "post-ish"}}})
	e.do(req{method: "CHARGE", key: "k"})
	if r := e.do(req{method: "CHARGE", key: "k"}); !r.replayed() || c.total() != 1 {
		t.Fatalf("a nonstandard method is not guarded: %d, %d runs", r.status, c.total())
	}
}

// Every limit of Config is checked on both sides of its bound: New takes
// the smallest and largest values allowed and panics, with a message, one
// past them.
func TestConfigLimitsAtTheirBounds(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	for _, c := range []struct {
		name string
		cfg  idemhttp.Config
		ok   bool
	}{
		{"MaxKeyLength1", idemhttp.Config{MaxKeyLength: 1}, true},
		{"MaxKeyLength1024", idemhttp.Config{MaxKeyLength: 1024}, true},
		{"MaxKeyLength1025", idemhttp.Config{MaxKeyLength: 1025}, false},
		{"MaxKeyLengthNegative", idemhttp.Config{MaxKeyLength: -1}, false},
		{"MaxRequestBytes1", idemhttp.Config{MaxRequestBytes: 1}, true},
		{"MaxRequestBytesNegative", idemhttp.Config{MaxRequestBytes: -1}, false},
		{"MaxResponseBytes1", idemhttp.Config{MaxResponseBytes: 1}, true},
		{"MaxResponseBytesNegative", idemhttp.Config{MaxResponseBytes: -1}, false},
		{"MaxWaiters1", idemhttp.Config{MaxWaiters: 1}, true},
		{"MaxWaitersNegative", idemhttp.Config{MaxWaiters: -1}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				p := recover()
				if s, _ := p.(string); c.ok != (p == nil) || (p != nil && !strings.HasPrefix(s, "idempotency: idemhttp: invalid Config.")) {
					t.Fatalf("New panicked with %v; want a panic: %v", p, !c.ok)
				}
			}()
			idemhttp.New(g, &c.cfg)
		})
	}
}
