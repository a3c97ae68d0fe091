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
