package idemhttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp"
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
