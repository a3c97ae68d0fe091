package idemhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/credscope"
)

// MinScopeSecret is the shortest Config.ScopeSecret accepted, in bytes.
const MinScopeSecret = credscope.MinSecret

// CredentialScope returns the Scope function that is the default when
// Config.Scope is nil: a keyed digest (HMAC-SHA-256 under secret, 128 bits
// in base64url) of the request's credentials, which are the values of its
// Authorization header, its cookies (by name and value as sent, in any
// order, including those net/http's cookie parser drops) and the
// certificate its client presented over TLS. Blank values do not count; a
// request without credentials gets "", which the middleware answers with
// 401.
//
// Any change to the credentials is another client: a retry sent with a
// refreshed token or a new cookie runs the handler again. Where that can
// happen (rotating tokens, cookies set by other code), set Config.Scope to
// the stable identity that authentication found instead.
//
// It panics on a secret shorter than [MinScopeSecret], under which the
// digest would be one anyone can compute.
func CredentialScope(secret []byte) func(r *http.Request) string {
	return credentialMAC(secret).Scope
}

// HeaderScope returns a Scope function like CredentialScope whose
// credentials are the values of the named request headers instead (an API
// key header, a header an authenticating proxy in front sets): a keyed
// digest (HMAC-SHA-256 under secret) of every non-blank value of each, in
// the order of names. A request with none of them gets "", which the
// middleware answers with 401. [Config.ScopeHeaders] makes it the default.
// It panics on a secret shorter than [MinScopeSecret], as CredentialScope
// does, and on a name that is not a header field name.
func HeaderScope(secret []byte, names ...string) func(r *http.Request) string {
	return headerMAC(secret, names).Scope
}

// credentialMAC is the keyed digest behind CredentialScope.
func credentialMAC(secret []byte) *credscope.MAC[*http.Request] {
	return credscope.New(secret, func(m *credscope.State, r *http.Request) int {
		n := credscope.Values(m, 'a', r.Header.Values("Authorization"))
		m.Pairs = cookiesOf(m.Pairs, r.Header["Cookie"])
		slices.SortFunc(m.Pairs, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		})
		for _, c := range m.Pairs {
			credscope.Part(m, 'c', c[0])
			credscope.Part(m, '=', c[1])
			n++
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			credscope.Part(m, 't', r.TLS.PeerCertificates[0].Raw)
			n++
		}
		return n
	})
}

// scopeHeaders returns a copy of names, the headers of HeaderScope. It
// panics on a name that is not a header field name: no request would have
// it, and every request would be unidentified.
func scopeHeaders(names []string) []string {
	for _, n := range names {
		if !validFieldName(n) {
			panic(fmt.Sprintf("idempotency: idemhttp: scope header %q is not a header field name", n))
		}
	}
	return slices.Clone(names)
}

// headerMAC is the keyed digest behind HeaderScope.
func headerMAC(secret []byte, names []string) *credscope.MAC[*http.Request] {
	names = scopeHeaders(names)
	return credscope.New(secret, func(m *credscope.State, r *http.Request) int {
		n := 0
		for i, name := range names {
			n += credscope.Values(m, credscope.NameTag(i), r.Header.Values(name))
		}
		return n
	})
}

// cookiesOf appends to cs the name and value of every cookie in the Cookie
// field lines, as sent: net/http's parser drops cookies it finds invalid
// (a double quote or a byte outside ASCII in the value, a name that is
// not a token) and every cookie past its limit on their number, and an
// application that reads its session its own way would then have clients
// that differ in nothing the scope reads. A part without "=" is a cookie
// without a name, as browsers send them; blank values do not count.
func cookiesOf(cs [][2]string, lines []string) [][2]string {
	for _, line := range lines {
		for p := range strings.SplitSeq(line, ";") {
			name, value, ok := strings.Cut(p, "=")
			if !ok {
				name, value = "", name
			}
			if value = textproto.TrimString(value); value != "" {
				cs = append(cs, [2]string{textproto.TrimString(name), value})
			}
		}
	}
	return cs
}

// newScoper returns the scope of requests under c: Config.Scope,
// SharedKeySpace, or CredentialScope (HeaderScope of ScopeHeaders) under
// ScopeSecret or the secret kept in g's store.
func newScoper(g *idempotency.Guard, c *Config) *credscope.Scoper[*http.Request] {
	digest := credentialMAC
	if len(c.ScopeHeaders) > 0 {
		names := scopeHeaders(c.ScopeHeaders) // checked now, not at the first request
		digest = func(secret []byte) *credscope.MAC[*http.Request] { return headerMAC(secret, names) }
	}
	return credscope.NewScoper(credscope.Choice[*http.Request]{
		Scope: c.Scope, Shared: c.SharedKeySpace, Secret: c.ScopeSecret, Digest: digest,
		Guard: g, SecretKey: c.KeyPrefix + SecretRecord, Name: "idemhttp",
	})
}

// SecretRecord follows Config.KeyPrefix in the key of the record that
// keeps the default scope's secret when Config.ScopeSecret is not set. No
// response's record key can be the same (RecordKey puts a digit there).
const SecretRecord = "scope-secret"

// recordKey returns RecordKey(prefix, scope of r, key); ok is false for a
// request that cannot be told apart (no scope, and not SharedKeySpace),
// and err is set when the stored secret cannot be read or made. One
// allocation: the key.
func recordKey(ctx context.Context, s *credscope.Scoper[*http.Request], r *http.Request, prefix, key string) (recKey string, ok bool, err error) {
	var sb [64]byte
	scope, ok, err := s.Append(ctx, sb[:0], r)
	if !ok {
		return "", false, err
	}
	var buf [128]byte
	b := appendKeyHead(buf[:0], prefix, len(scope))
	return string(append(append(b, scope...), key...)), true, nil
}
