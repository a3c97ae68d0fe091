package idemhttp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idempotency-go/idempotency"
)

// MinScopeSecret is the shortest Config.ScopeSecret accepted, in bytes.
const MinScopeSecret = 16

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
		cookies := cookiesOf(r.Header["Cookie"])
		slices.SortFunc(cookies, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		})
		for _, c := range cookies {
			part(m, 'c', c[0])
			part(m, '=', c[1])
			n++
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

// HeaderScope returns a Scope function like CredentialScope whose
// credentials are the values of the named request headers instead (an API
// key header, a header an authenticating proxy in front sets): a keyed
// digest (HMAC-SHA-256 under secret) of every non-blank value of each, in
// the order of names. A request with none of them gets "", which the
// middleware answers with 401. [Config.ScopeHeaders] makes it the default.
func HeaderScope(secret []byte, names ...string) func(r *http.Request) string {
	secret = slices.Clone(secret)
	names = slices.Clone(names)
	pool := sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}
	return func(r *http.Request) string {
		m := pool.Get().(hash.Hash)
		defer func() { m.Reset(); pool.Put(m) }()
		n := 0
		for i, name := range names {
			for _, v := range r.Header.Values(name) {
				if strings.TrimSpace(v) != "" {
					part(m, byte('0'+i%64), v)
					n++
				}
			}
		}
		if n == 0 {
			return ""
		}
		var sum [sha256.Size]byte
		return base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0])[:16])
	}
}

// cookiesOf returns the name and value of every cookie in the Cookie
// field lines, as sent: net/http's parser drops cookies it finds invalid
// (a double quote or a byte outside ASCII in the value, a name that is
// not a token) and every cookie past its limit on their number, and an
// application that reads its session its own way would then have clients
// that differ in nothing the scope reads. A part without "=" is a cookie
// without a name, as browsers send them; blank values do not count.
func cookiesOf(lines []string) [][2]string {
	var cs [][2]string
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

// part writes a tagged, length-prefixed part, so that no two lists of
// parts hash alike.
func part(h hash.Hash, tag byte, s string) {
	var b [1 + binary.MaxVarintLen64]byte
	b[0] = tag
	h.Write(b[:1+binary.PutUvarint(b[1:], uint64(len(s)))])
	h.Write([]byte(s))
}

// scoper finds the scope of a request by the configuration.
type scoper struct {
	fixed  func(*http.Request) string // Scope or CredentialScope(ScopeSecret); nil: see below
	shared bool                       // SharedKeySpace: one key space
	// digest makes the default scope under a secret: CredentialScope, or
	// HeaderScope of Config.ScopeHeaders.
	digest func(secret []byte) func(*http.Request) string

	// Otherwise, the default scope under a secret kept in the store.
	g         *idempotency.Guard
	secretKey string
	stored    atomic.Pointer[func(*http.Request) string]
}

func newScoper(g *idempotency.Guard, c *Config) *scoper {
	digest := CredentialScope
	if len(c.ScopeHeaders) > 0 {
		names := c.ScopeHeaders
		digest = func(secret []byte) func(*http.Request) string { return HeaderScope(secret, names...) }
	}
	switch {
	case c.Scope != nil:
		return &scoper{fixed: c.Scope}
	case c.SharedKeySpace:
		return &scoper{shared: true}
	case c.ScopeSecret != nil:
		if len(c.ScopeSecret) < MinScopeSecret {
			panic("idempotency: idemhttp: Config.ScopeSecret is shorter than 16 bytes")
		}
		return &scoper{fixed: digest(c.ScopeSecret)}
	}
	// The secret is made under the guard's store, codec and lease, but
	// not its duplicate policies: a claim of it left behind (a failed
	// completion, a crash) is taken over once its lease lapses, since
	// making another secret has no effect to repeat, and a duplicate gets
	// the stored secret. Under NoTakeover every guarded request would get
	// 503 for ever.
	cfg := g.Config()
	cfg.NoTakeover, cfg.OnDuplicate, cfg.OnFailure = false, idempotency.ReturnStored, idempotency.Release
	return &scoper{g: idempotency.New(g.Store(), &cfg), secretKey: c.KeyPrefix + SecretRecord, digest: digest}
}

// SecretRecord follows Config.KeyPrefix in the key of the record that
// keeps the default scope's secret when Config.ScopeSecret is not set. No
// response's record key can be the same (RecordKey puts a digit there).
const SecretRecord = "scope-secret"

// scope returns the scope of r, "" for a request that cannot be told
// apart, and an error when the stored secret cannot be read or made.
func (s *scoper) scope(ctx context.Context, r *http.Request) (string, error) {
	switch {
	case s.shared:
		return "", nil
	case s.fixed != nil:
		return s.fixed(r), nil
	}
	if f := s.stored.Load(); f != nil {
		return (*f)(r), nil
	}
	secret, err := s.loadSecret(ctx)
	if err != nil {
		return "", err
	}
	f := s.digest(secret)
	s.stored.CompareAndSwap(nil, &f)
	return (*s.stored.Load())(r), nil
}

// loadSecret reads the secret of the default scope from the store, making
// it first if there is none: one secret for every process and server of
// the store, across restarts, created at most once (the guard's claim).
func (s *scoper) loadSecret(ctx context.Context) ([]byte, error) {
	v, err := idempotency.Do(ctx, s.g, s.secretKey, func(context.Context) (string, error) {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		return hex.EncodeToString(b), nil
	}, idempotency.WithTTL(idempotency.NoExpiry), idempotency.WithWaitTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("idempotency: idemhttp: scope secret: %w", err)
	}
	b, err := hex.DecodeString(v)
	if err == nil && len(b) < MinScopeSecret {
		err = errors.New("too short")
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: idemhttp: stored scope secret: %w: %w", idempotency.ErrCorrupt, err)
	}
	return b, nil
}
