package idemhttp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// MinScopeSecret is the shortest Config.ScopeSecret accepted, in bytes.
const MinScopeSecret = 16

// CredentialScope returns the Scope function that is the default when
// Config.Scope is nil: a keyed digest (HMAC-SHA-256 under secret, 128 bits
// in base64url) of the request's credentials, which are the values of its
// Authorization header, its cookies (by name and value, in any order) and
// the certificate its client presented over TLS. Blank values do not
// count; a request without credentials gets "", which the middleware
// answers with 401.
//
// Any change to the credentials is another client: a retry sent with a
// refreshed token or a new cookie runs the handler again. Where that can
// happen (rotating tokens, cookies set by other code), set Config.Scope to
// the stable identity that authentication found instead.
func CredentialScope(secret []byte) func(r *http.Request) string {
	secret = slices.Clone(secret)
	pool := sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}
	return func(r *http.Request) string {
		m := pool.Get().(hash.Hash)
		defer func() { m.Reset(); pool.Put(m) }()
		n := 0
		for _, v := range r.Header.Values("Authorization") {
			if strings.TrimSpace(v) != "" {
				part(m, 'a', v)
				n++
			}
		}
		var cookies []*http.Cookie
		if len(r.Header["Cookie"]) > 0 {
			cookies = r.Cookies()
		}
		slices.SortFunc(cookies, func(a, b *http.Cookie) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return strings.Compare(a.Value, b.Value)
		})
		for _, c := range cookies {
			if c.Value != "" {
				part(m, 'c', c.Name)
				part(m, '=', c.Value)
				n++
			}
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			part(m, 't', string(r.TLS.PeerCertificates[0].Raw))
			n++
		}
		if n == 0 {
			return ""
		}
		var sum [sha256.Size]byte
		return base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0])[:16])
	}
}

// part writes a tagged, length-prefixed part, so that no two lists of
// parts hash alike.
func part(h hash.Hash, tag byte, s string) {
	var b [1 + binary.MaxVarintLen64]byte
	b[0] = tag
	h.Write(b[:1+binary.PutUvarint(b[1:], uint64(len(s)))])
	h.Write([]byte(s))
}

// scopeFunc returns the scope function c calls for: Scope, none under
// SharedKeySpace, or CredentialScope. It panics when the default needs a
// secret that would not outlive the process while the store's records do.
func scopeFunc(g *idempotency.Guard, c *Config) func(*http.Request) string {
	switch {
	case c.Scope != nil:
		return c.Scope
	case c.SharedKeySpace:
		return nil
	case c.ScopeSecret != nil:
		if len(c.ScopeSecret) < MinScopeSecret {
			panic("idempotency: idemhttp: Config.ScopeSecret is shorter than 16 bytes")
		}
		return CredentialScope(c.ScopeSecret)
	}
	if _, inMemory := g.Store().(*memstore.Store); !inMemory {
		panic("idempotency: idemhttp: Config.ScopeSecret is required with a store that outlives the process " +
			"(or set Config.Scope, or Config.SharedKeySpace for a single client)")
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	return CredentialScope(secret)
}
