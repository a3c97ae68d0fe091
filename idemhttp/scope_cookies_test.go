package idemhttp_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/memstore"
)

// The credential scope reads every cookie the client sent, as its bytes,
// including those net/http's cookie parser drops (a value with a double
// quote, a backslash or a byte outside ASCII, a name that is not a
// token, more cookies than its limit): two clients that differ only in
// such a cookie, a session an application reads its own way, are two
// clients, never one scope.
func TestCredentialScopeReadsEveryCookie(t *testing.T) {
	t.Parallel()
	scope := idemhttp.CredentialScope(testSecret)
	mk := func(cookie ...string) string {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer app-key") // shared by every user of an app
		r.Header["Cookie"] = cookie
		return scope(r)
	}
	many := func(session string) string {
		var b strings.Builder
		for i := range 3100 {
			b.WriteString("c" + itoa(i) + "=1; ")
		}
		return b.String() + "session=" + session
	}
	for _, tc := range []struct{ name, a, b string }{
		{"double quote", `theme=dark; session={"user":"alice"}`, `theme=dark; session={"user":"bob"}`},
		{"backslash", `theme=dark; session=alice\1`, `theme=dark; session=bob\1`},
		{"non-ASCII", "theme=dark; session=alice\u00e9", "theme=dark; session=bob\u00e9"},
		{"name not a token", `theme=dark; se(ssion=alice`, `theme=dark; se(ssion=bob`},
		{"more cookies than net/http reads", many("alice"), many("bob")},
	} {
		if a, b := mk(tc.a), mk(tc.b); a == b || a == "" || b == "" {
			t.Errorf("%s: scopes %q and %q, want two different scopes", tc.name, a, b)
		}
	}
	// Spelling that changes nothing the client sends keeps the scope.
	for _, tc := range []struct {
		name string
		a, b []string
	}{
		{"order", []string{"a=1; b=2"}, []string{"b=2; a=1"}},
		{"lines (HTTP/2 sends cookies apart)", []string{"a=1; b=2"}, []string{"a=1", "b=2"}},
		{"spaces and empty parts", []string{"a=1;b=2"}, []string{" a=1 ;; b=2; "}},
	} {
		if a, b := mk(tc.a...), mk(tc.b...); a != b {
			t.Errorf("%s: scopes %q and %q, want one", tc.name, a, b)
		}
	}
	// A request whose only cookie net/http cannot parse still names its
	// client.
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Cookie", `session={"user":"alice"}`)
	if scope(r) == "" {
		t.Error("a client with an unparsed session cookie is not identified")
	}
}

// End to end: two users of one app key whose sessions net/http cannot
// parse each run their own request with the same Idempotency-Key.
func TestUnparsedSessionCookiesAreTwoClients(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, paymentHandler(&c), nil)
	for _, user := range []string{"alice", "bob"} {
		h := http.Header{"Authorization": {"Bearer app-key"}, "Cookie": {`theme=dark; session={"user":"` + user + `"}`}}
		if r := e.do(req{key: "order-1", body: "100", header: h}); r.replayed() {
			t.Fatalf("%s got a replay of another user's response: %s", user, r.body)
		}
	}
	if n := c.get("100"); n != 2 {
		t.Fatalf("handler ran %d times for two users", n)
	}
}

// completeFailsFor fails the first Complete of one key, as a store that
// is full or a process that dies between claim and completion would leave
// it: claimed, never completed.
type completeFailsFor struct {
	idempotency.Store
	key    string
	failed atomic.Bool
}

func (s *completeFailsFor) Complete(ctx context.Context, key string, tok idempotency.Token, out idempotency.Outcome) error {
	if key == s.key && s.failed.CompareAndSwap(false, true) {
		return errors.New("OOM command not allowed when used memory > 'maxmemory'")
	}
	return s.Store.Complete(ctx, key, tok, out)
}

// The default scope's secret is made under a claim like any call; when
// that claim is left behind (its completion failed), the secret is made
// again once its lease lapsed, whatever the guard's policies: under
// NoTakeover or Reject the service must not answer 503 to every guarded
// request for ever.
func TestScopeSecretClaimLeftBehind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  idempotency.Config
	}{
		{"defaults", idempotency.Config{}},
		{"NoTakeover", idempotency.Config{NoTakeover: true}},
		{"Reject", idempotency.Config{OnDuplicate: idempotency.Reject}},
		{"Remember", idempotency.Config{OnFailure: idempotency.Remember}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			ms := memstore.New(&memstore.Options{Now: clk.Now, SweepInterval: -1})
			t.Cleanup(func() { _ = ms.Close() })
			store := &completeFailsFor{Store: ms, key: idemhttp.DefaultKeyPrefix + idemhttp.SecretRecord}
			cfg := tc.cfg
			cfg.Lease = time.Minute
			cfg.Logger = slog.New(slog.DiscardHandler)
			var c counter
			g := idempotency.New(store, &cfg)
			srv := httptest.NewServer(idemhttp.New(g, nil)(paymentHandler(&c)))
			t.Cleanup(srv.Close)
			e := &env{t: t, srv: srv, client: srv.Client()}
			e.do(req{key: "k", body: "b"}).wantProblem(t, http.StatusServiceUnavailable, idemhttp.ProblemStore)
			clk.Advance(2 * time.Minute) // the claim's lease lapsed
			if r := e.do(req{key: "k", body: "b"}); r.status != http.StatusCreated || c.total() != 1 {
				t.Fatalf("after the lease: %d %s, %d runs", r.status, r.body, c.total())
			}
			for range 2 { // the same server, then another one (or a restart) over the store
				r := e.do(req{key: "k", body: "b"})
				if cfg.OnDuplicate == idempotency.Reject {
					r.wantProblem(t, http.StatusConflict, idemhttp.ProblemDuplicate)
				} else if !r.replayed() {
					t.Fatalf("retry: %d %s", r.status, r.body)
				}
				srv2 := httptest.NewServer(idemhttp.New(idempotency.New(store, &cfg), nil)(paymentHandler(&c)))
				t.Cleanup(srv2.Close)
				e = &env{t: t, srv: srv2, client: srv2.Client()}
			}
			if c.total() != 1 {
				t.Fatalf("handler ran %d times", c.total())
			}
		})
	}
}
