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

// scoper finds the scope of a request by the configuration.
type scoper struct {
	fixed  func(*http.Request) string // Scope or CredentialScope(ScopeSecret); nil: see below
	shared bool                       // SharedKeySpace: one key space

	// Otherwise, the default scope under a secret kept in the store.
	g         *idempotency.Guard
	secretKey string
	stored    atomic.Pointer[func(*http.Request) string]
}

func newScoper(g *idempotency.Guard, c *Config) *scoper {
	switch {
	case c.Scope != nil:
		return &scoper{fixed: c.Scope}
	case c.SharedKeySpace:
		return &scoper{shared: true}
	case c.ScopeSecret != nil:
		if len(c.ScopeSecret) < MinScopeSecret {
			panic("idempotency: idemhttp: Config.ScopeSecret is shorter than 16 bytes")
		}
		return &scoper{fixed: CredentialScope(c.ScopeSecret)}
	}
	return &scoper{g: g, secretKey: c.KeyPrefix + SecretRecord}
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
	f := CredentialScope(secret)
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
	if errors.Is(err, idempotency.ErrDuplicate) {
		// The guard's Reject policy: read what the first call kept.
		var rec idempotency.Record
		if rec, err = s.g.Lookup(ctx, s.secretKey); err == nil {
			err = s.g.Config().Codec.Unmarshal(rec.Value, &v)
		}
	}
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
