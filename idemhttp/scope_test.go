package idemhttp_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/internal/teststore"
	"github.com/idempotency-go/idempotency/memstore"
)

// The defaults keep clients apart by their credentials: the same key and
// body from four clients runs four times, each replays its own response,
// and no client can take a key first for another.
func TestTenantsApartByDefault(t *testing.T) {
	t.Parallel()
	for _, cfg := range []struct {
		name string
		mw   *idemhttp.Config
	}{
		{"nil Config, in-memory store", nil},
		{"ScopeSecret", &idemhttp.Config{ScopeSecret: testSecret}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			g := idempotency.New(nil, nil)
			t.Cleanup(func() { _ = g.Close() })
			srv := httptest.NewServer(idemhttp.New(g, cfg.mw)(paymentHandler(&c)))
			t.Cleanup(srv.Close)
			e := &env{t: t, srv: srv, client: srv.Client()}
			clients := []http.Header{
				{"Authorization": {"Bearer token-a"}},
				{"Authorization": {"Bearer token-b"}},
				{"Cookie": {"session=s1"}},
				{"Cookie": {"session=s2; theme=dark"}},
			}
			var first []*resp
			for _, h := range clients {
				first = append(first, e.do(req{key: "order-1", body: "100", header: h}))
			}
			for i, h := range clients {
				r := e.do(req{key: "order-1", body: "100", header: h})
				sameResponse(t, first[i], r)
			}
			if got := c.get("100"); got != len(clients) {
				t.Fatalf("handler ran %d times for %d clients", got, len(clients))
			}
			for i := range first {
				for j := range i {
					if first[i].header.Get("Location") == first[j].header.Get("Location") {
						t.Fatalf("clients %d and %d share a response", i, j)
					}
				}
			}
		})
	}
}

// A guarded request with nothing to tell its client apart gets 401: it
// never shares an empty scope with other such requests. Nothing runs and
// nothing is stored.
func TestUnidentifiedClientGets401(t *testing.T) {
	t.Parallel()
	emptyScope := &idemhttp.Config{Scope: func(r *http.Request) string { return r.Header.Get("X-Account") }}
	for _, tc := range []struct {
		name   string
		mw     *idemhttp.Config
		header http.Header
	}{
		{"no credentials", nil, nil},
		{"blank Authorization", nil, http.Header{"Authorization": {"  "}}},
		{"empty Authorization", nil, http.Header{"Authorization": {""}}},
		{"cookie without a value", nil, http.Header{"Cookie": {"session="}}},
		{"configured Scope returns empty", emptyScope, http.Header{"Authorization": {"Bearer x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, paymentHandler(&c), &envOptions{mw: tc.mw})
			for range 2 {
				e.do(req{key: "k", body: "b", anon: true, header: tc.header}).wantProblem(t, http.StatusUnauthorized, idemhttp.ProblemUnidentified)
			}
			if c.total() != 0 || e.store.Len() != 0 {
				t.Fatalf("handler ran %d times, %d records stored", c.total(), e.store.Len())
			}
			// Without a key, the request is not the middleware's to refuse.
			if r := e.do(req{body: "b", anon: true, header: tc.header}); r.status != http.StatusCreated {
				t.Fatalf("unguarded request: %d", r.status)
			}
		})
	}
}

// SharedKeySpace is the named opt-in to one key space: any client's key
// replays to any other client.
func TestSharedKeySpace(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, paymentHandler(&c), &envOptions{mw: &idemhttp.Config{SharedKeySpace: true}})
	first := e.do(req{key: "k", body: "b", anon: true})
	sameResponse(t, first, e.do(req{key: "k", body: "b", header: http.Header{"Authorization": {"Bearer other"}}}))
	if c.total() != 1 {
		t.Fatalf("handler ran %d times", c.total())
	}
	if _, err := e.store.Get(context.Background(), idemhttp.RecordKey("", "", "k")); err != nil {
		t.Fatalf("record in the empty scope: %v", err)
	}
}

// The scope in store keys is a keyed digest: it holds neither the
// credential nor an unkeyed digest of it, so that a dictionary of
// passwords cannot match it, and another secret gives another scope.
func TestCredentialScopeIsKeyed(t *testing.T) {
	t.Parallel()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:hunter2"))
	var c counter
	e := newEnv(t, paymentHandler(&c), nil)
	e.do(req{key: "k", header: http.Header{"Authorization": {auth}}})
	var keys []string
	_ = e.store.List(context.Background(), "", func(r idempotency.Record) bool { keys = append(keys, r.Key); return true })
	if len(keys) != 1 {
		t.Fatalf("records %q", keys)
	}
	for _, guess := range []string{auth, "alice:hunter2", "hunter2"} {
		sum := sha256.Sum256([]byte(guess))
		for _, enc := range []string{hex.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:])} {
			if strings.Contains(keys[0], enc[:12]) || strings.Contains(keys[0], guess) {
				t.Fatalf("record key %q reveals %q", keys[0], guess)
			}
		}
	}

	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", auth)
	a := idemhttp.CredentialScope(testSecret)(r)
	if b := idemhttp.CredentialScope([]byte("another secret of thirty-two b.."))(r); a == b || a == "" {
		t.Fatalf("scopes under two secrets: %q %q", a, b)
	}
	if want := recordKeyFor(auth, "k"); keys[0] != want {
		t.Fatalf("record key %q, want %q", keys[0], want)
	}
}

func recordKeyFor(auth, key string) string {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", auth)
	return idemhttp.RecordKey("", idemhttp.CredentialScope(testSecret)(r), key)
}

// Each credential counts, in any order of cookies, and nothing else does.
func TestCredentialScope(t *testing.T) {
	t.Parallel()
	scope := idemhttp.CredentialScope(testSecret)
	mk := func(h http.Header, cert string) string {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header = h
		if cert != "" {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: []byte(cert)}}}
		}
		return scope(r)
	}
	base := mk(http.Header{"Authorization": {"Bearer a"}}, "")
	for _, tc := range []struct {
		name   string
		header http.Header
		cert   string
		same   bool
	}{
		{"same token", http.Header{"Authorization": {"Bearer a"}, "User-Agent": {"x"}, "X-Forwarded-For": {"1.2.3.4"}}, "", true},
		{"other token", http.Header{"Authorization": {"Bearer b"}}, "", false},
		{"token and a cookie", http.Header{"Authorization": {"Bearer a"}, "Cookie": {"s=1"}}, "", false},
		{"token and a client certificate", http.Header{"Authorization": {"Bearer a"}}, "cert", false},
		{"a cookie instead", http.Header{"Cookie": {"Bearer=a"}}, "", false},
	} {
		if got := mk(tc.header, tc.cert); (got == base) != tc.same || got == "" {
			t.Errorf("%s: scope %q, base %q, want same=%v", tc.name, got, base, tc.same)
		}
	}
	if a, b := mk(http.Header{"Cookie": {"a=1; b=2"}}, ""), mk(http.Header{"Cookie": {"b=2", "a=1"}}, ""); a != b {
		t.Errorf("cookie order changes the scope: %q %q", a, b)
	}
	if a, b := mk(nil, "cert-a"), mk(nil, "cert-b"); a == b || a == "" {
		t.Errorf("client certificates: %q %q", a, b)
	}
	if got := mk(http.Header{"Cookie": {"a="}, "Authorization": {" "}}, ""); got != "" {
		t.Errorf("blank credentials give scope %q", got)
	}
}

// Without ScopeSecret, the default scope's secret is made once and kept
// in the store: another server, or the same one after a restart (here a
// new guard and middleware over the same store), finds it and replays;
// another store has another secret.
func TestScopeSecretKeptInStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := memstore.New(&memstore.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	var c counter
	serve := func(store idempotency.Store) *env {
		g := idempotency.New(store, nil)
		srv := httptest.NewServer(idemhttp.New(g, nil)(paymentHandler(&c)))
		t.Cleanup(srv.Close)
		return &env{t: t, srv: srv, client: srv.Client()}
	}
	// A store of another type than memstore's, as a persistent one is.
	shared := struct{ idempotency.Store }{s}
	first := serve(shared).do(req{key: "k", body: "b"})
	sameResponse(t, first, serve(shared).do(req{key: "k", body: "b"}))
	if c.total() != 1 {
		t.Fatalf("handler ran %d times across two servers of one store", c.total())
	}
	rec, err := s.Get(ctx, idemhttp.DefaultKeyPrefix+idemhttp.SecretRecord)
	if err != nil || rec.Status != idempotency.StatusCompleted || !rec.ExpiresAt.IsZero() || len(rec.Value) < 64 {
		t.Fatalf("secret record %+v, %v; want one completed, without expiry", rec, err)
	}

	other := memstore.New(&memstore.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = other.Close() })
	serve(other).do(req{key: "k", body: "b"})
	keys := func(s *memstore.Store) (out []string) {
		_ = s.List(ctx, idemhttp.DefaultKeyPrefix, func(r idempotency.Record) bool {
			if r.Key != idemhttp.DefaultKeyPrefix+idemhttp.SecretRecord {
				out = append(out, r.Key)
			}
			return true
		})
		return out
	}
	a, b := keys(s), keys(other)
	if len(a) != 1 || len(b) != 1 || a[0] == b[0] || a[0] == recordKey("k") {
		t.Fatalf("record keys under two stores' secrets: %q %q", a, b)
	}
	if c.total() != 2 {
		t.Fatalf("handler ran %d times", c.total())
	}
}

// When the secret cannot be read or made, guarded requests get 503 and
// the handler does not run (fail closed); a ScopeSecret too short panics.
func TestScopeSecretUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	corrupt := memstore.New(&memstore.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = corrupt.Close() })
	key := idemhttp.DefaultKeyPrefix + idemhttp.SecretRecord
	cl, err := corrupt.Claim(ctx, idempotency.ClaimRequest{Key: key, Lease: time.Minute})
	if err != nil || !cl.Acquired {
		t.Fatal(cl, err)
	}
	if err := corrupt.Complete(ctx, key, cl.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte(`"abcd"`)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		store idempotency.Store
	}{
		{"store down", teststore.Down(nil)},
		{"secret too short", corrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			g := idempotency.New(tc.store, nil)
			srv := httptest.NewServer(idemhttp.New(g, nil)(paymentHandler(&c)))
			t.Cleanup(srv.Close)
			e := &env{t: t, srv: srv, client: srv.Client()}
			r := e.do(req{key: "k", body: "b"})
			r.wantProblem(t, http.StatusServiceUnavailable, idemhttp.ProblemStore)
			if r.header.Get("Retry-After") != "1" || c.total() != 0 {
				t.Fatalf("Retry-After %q, %d runs", r.header.Get("Retry-After"), c.total())
			}
		})
	}
	g := idempotency.New(nil, nil)
	defer g.Close()
	defer func() {
		if p, _ := recover().(string); !strings.HasPrefix(p, "idempotency: idemhttp: ") || !strings.Contains(p, "shorter than 16 bytes") {
			t.Fatalf("panic %q", p)
		}
	}()
	idemhttp.New(g, &idemhttp.Config{ScopeSecret: []byte("short")})
}

// ScopeHeaders makes named headers the credentials: clients apart by them,
// keyed by the secret, and a request without them gets 401.
func TestScopeHeaders(t *testing.T) {
	t.Parallel()
	for _, cfg := range []struct {
		name string
		mw   *idemhttp.Config
	}{
		{"stored secret", &idemhttp.Config{ScopeHeaders: []string{"X-Api-Key"}}},
		{"ScopeSecret", &idemhttp.Config{ScopeHeaders: []string{"X-Api-Key"}, ScopeSecret: testSecret}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			g := idempotency.New(nil, nil)
			t.Cleanup(func() { _ = g.Close() })
			srv := httptest.NewServer(idemhttp.New(g, cfg.mw)(paymentHandler(&c)))
			t.Cleanup(srv.Close)
			e := &env{t: t, srv: srv, client: srv.Client()}
			a := e.do(req{key: "order-1", body: "100", header: http.Header{"X-Api-Key": {"key-a"}, "Authorization": {"Bearer same"}}})
			b := e.do(req{key: "order-1", body: "100", header: http.Header{"X-Api-Key": {"key-b"}, "Authorization": {"Bearer same"}}})
			sameResponse(t, a, e.do(req{key: "order-1", body: "100", header: http.Header{"X-Api-Key": {"key-a"}}}))
			if got := c.get("100"); got != 2 || a.header.Get("Location") == b.header.Get("Location") {
				t.Fatalf("handler ran %d times for 2 API keys; locations %q %q", got, a.header.Get("Location"), b.header.Get("Location"))
			}
			if r := e.do(req{key: "order-2", body: "100", header: http.Header{"Authorization": {"Bearer same"}}}); r.status != http.StatusUnauthorized {
				t.Fatalf("request without the scope header: %d, want 401", r.status)
			}
		})
	}
	scope := idemhttp.HeaderScope(testSecret, "X-Api-Key", "X-Tenant")
	mk := func(h http.Header) string {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header = h
		return scope(r)
	}
	plain := sha256.Sum256([]byte("key-a"))
	if s := mk(http.Header{"X-Api-Key": {"key-a"}}); s == "" || strings.Contains(s, base64.RawURLEncoding.EncodeToString(plain[:16])) {
		t.Errorf("HeaderScope = %q: empty or an unkeyed digest", s)
	}
	if a, b := mk(http.Header{"X-Api-Key": {"a"}, "X-Tenant": {"b"}}), mk(http.Header{"X-Api-Key": {"b"}, "X-Tenant": {"a"}}); a == b {
		t.Error("HeaderScope does not tell the headers apart")
	}
	if s := mk(http.Header{"X-Api-Key": {" "}}); s != "" {
		t.Errorf("blank header gives scope %q", s)
	}
}

// TestScopeSecretLengths: a secret of MinScopeSecret bytes serves, one
// byte shorter does not, whether it is Config.ScopeSecret (New panics) or
// the stored one (503, the handler not run).
func TestScopeSecretLengths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		n    int
		ok   bool
	}{
		{"AtTheMinimum", idemhttp.MinScopeSecret, true},
		{"OneShort", idemhttp.MinScopeSecret - 1, false},
	} {
		t.Run("Stored"+tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := memstore.New(&memstore.Options{SweepInterval: -1})
			t.Cleanup(func() { _ = s.Close() })
			key := idemhttp.DefaultKeyPrefix + idemhttp.SecretRecord
			cl, err := s.Claim(ctx, idempotency.ClaimRequest{Key: key, Lease: time.Minute})
			if err != nil || !cl.Acquired {
				t.Fatal(cl, err)
			}
			secret := `"` + strings.Repeat("ab", tc.n) + `"` // hex of n bytes, as JSON
			if err := s.Complete(ctx, key, cl.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte(secret)}); err != nil {
				t.Fatal(err)
			}
			var c counter
			srv := httptest.NewServer(idemhttp.New(idempotency.New(s, nil), nil)(paymentHandler(&c)))
			t.Cleanup(srv.Close)
			e := &env{t: t, srv: srv, client: srv.Client()}
			r := e.do(req{key: "k", body: "b"})
			if tc.ok {
				if r.status != http.StatusCreated || c.total() != 1 {
					t.Fatalf("status %d, %d runs; want 201, 1", r.status, c.total())
				}
				return
			}
			r.wantProblem(t, http.StatusServiceUnavailable, idemhttp.ProblemStore)
			if c.total() != 0 {
				t.Fatalf("%d runs", c.total())
			}
		})
		t.Run("Config"+tc.name, func(t *testing.T) {
			t.Parallel()
			g := idempotency.New(nil, nil)
			defer g.Close()
			defer func() {
				if p := recover(); (p == nil) != tc.ok {
					t.Fatalf("New with a ScopeSecret of %d bytes: panic %v", tc.n, p)
				}
			}()
			idemhttp.New(g, &idemhttp.Config{ScopeSecret: make([]byte, tc.n)})
		})
	}
}

// secretGate holds the completion of the scope secret's record until
// released, and reports when the secret's record is claimed again while
// held: a request waiting for it (the guard claims again as it polls).
type secretGate struct {
	idempotency.Store
	key      string
	held     chan struct{} // closed once a Complete of the secret waits
	release  chan struct{}
	reclaim  chan struct{} // a third claim of the secret's record
	claims   atomic.Int32
	heldOnce sync.Once
}

func (s *secretGate) Complete(ctx context.Context, key string, tok idempotency.Token, out idempotency.Outcome) error {
	if key == s.key {
		s.heldOnce.Do(func() { close(s.held) })
		<-s.release
	}
	return s.Store.Complete(ctx, key, tok, out)
}

func (s *secretGate) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	if req.Key == s.key && s.claims.Add(1) == 3 {
		close(s.reclaim)
	}
	return s.Store.Claim(ctx, req)
}

// The default scope's secret is made once, by the first request that
// needs it; a request arriving while it is being made waits for it, even
// under a guard whose duplicates do not wait (a negative WaitTimeout).
func TestScopeSecretWaitedFor(t *testing.T) {
	t.Parallel()
	ms := memstore.New(&memstore.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = ms.Close() })
	gate := &secretGate{Store: ms, key: idemhttp.DefaultKeyPrefix + idemhttp.SecretRecord,
		held: make(chan struct{}), release: make(chan struct{}), reclaim: make(chan struct{})}
	var c counter
	g := idempotency.New(gate, &idempotency.Config{WaitTimeout: -1})
	srv := httptest.NewServer(idemhttp.New(g, nil)(paymentHandler(&c)))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, client: srv.Client()}
	first := make(chan *resp, 1)
	go func() { first <- e.do(req{key: "a", body: "b"}) }()
	select {
	case <-gate.held:
	case <-time.After(20 * time.Second):
		t.Fatal("the secret was not made within 20 s")
	}
	second := make(chan *resp, 1)
	go func() { second <- e.do(req{key: "b", body: "b"}) }()
	select {
	case <-gate.reclaim: // the second request waited, and looks again
	case r := <-second:
		close(gate.release)
		t.Fatalf("a request arriving while the secret was made got %d, want it to wait", r.status)
	case <-time.After(20 * time.Second):
		t.Fatal("the second request neither waited nor answered within 20 s")
	}
	close(gate.release)
	for _, ch := range []chan *resp{first, second} {
		if r := <-ch; r.status != http.StatusCreated {
			t.Fatalf("status %d, want 201", r.status)
		}
	}
	if c.total() != 2 {
		t.Fatalf("%d runs, want 2", c.total())
	}
}

// CredentialScope and HeaderScope are keyed digests: under a secret
// shorter than MinScopeSecret (none at all, say, from an unset
// environment variable) anyone could compute them, and a scope seen in
// the store would give a guessed password away. They panic instead, as
// Config.ScopeSecret does.
func TestScopeFunctionsRefuseShortSecret(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer a")
	r.Header.Set("X-Api-Key", "key-a")
	for _, tc := range []struct {
		name   string
		secret []byte
		ok     bool
	}{
		{"Nil", nil, false},
		{"Empty", []byte{}, false},
		{"OneByteShort", []byte(strings.Repeat("s", idemhttp.MinScopeSecret-1)), false},
		{"Shortest", []byte(strings.Repeat("s", idemhttp.MinScopeSecret)), true},
	} {
		for _, f := range []struct {
			name  string
			scope func(secret []byte) func(*http.Request) string
		}{
			{"CredentialScope", idemhttp.CredentialScope},
			{"HeaderScope", func(secret []byte) func(*http.Request) string { return idemhttp.HeaderScope(secret, "X-Api-Key") }},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				scope, p := func() (scope func(*http.Request) string, p any) {
					defer func() { p = recover() }()
					return f.scope(tc.secret), nil
				}()
				switch {
				case tc.ok && (p != nil || scope(r) == ""):
					t.Fatalf("a secret of %d bytes: panic %v; want a scope", len(tc.secret), p)
				case !tc.ok && !strings.HasPrefix(fmt.Sprint(p), "idempotency: "):
					t.Fatalf("a secret of %d bytes: panic %v; want one starting with %q", len(tc.secret), p, "idempotency: ")
				}
			})
		}
	}
}
