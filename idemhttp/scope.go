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
	return credentialMAC(secret).scope
}

// HeaderScope returns a Scope function like CredentialScope whose
// credentials are the values of the named request headers instead (an API
// key header, a header an authenticating proxy in front sets): a keyed
// digest (HMAC-SHA-256 under secret) of every non-blank value of each, in
// the order of names. A request with none of them gets "", which the
// middleware answers with 401. [Config.ScopeHeaders] makes it the default.
func HeaderScope(secret []byte, names ...string) func(r *http.Request) string {
	return headerMAC(secret, names).scope
}

// credentialMAC is the keyed digest behind CredentialScope.
func credentialMAC(secret []byte) *macScope {
	return newMACScope(secret, func(m *macState, r *http.Request) int {
		n := 0
		for _, v := range r.Header.Values("Authorization") {
			if strings.TrimSpace(v) != "" {
				part(m, 'a', v)
				n++
			}
		}
		m.cookies = cookiesOf(m.cookies[:0], r.Header["Cookie"])
		slices.SortFunc(m.cookies, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		})
		for _, c := range m.cookies {
			part(m, 'c', c[0])
			part(m, '=', c[1])
			n++
		}
		clear(m.cookies) // the pool keeps no credentials
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			part(m, 't', r.TLS.PeerCertificates[0].Raw)
			n++
		}
		return n
	})
}

// headerMAC is the keyed digest behind HeaderScope.
func headerMAC(secret []byte, names []string) *macScope {
	names = slices.Clone(names)
	return newMACScope(secret, func(m *macState, r *http.Request) int {
		n := 0
		for i, name := range names {
			for _, v := range r.Header.Values(name) {
				if strings.TrimSpace(v) != "" {
					part(m, byte('0'+i%64), v)
					n++
				}
			}
		}
		return n
	})
}

// macScope makes a scope as a keyed digest (HMAC-SHA-256) of a request's
// credentials, which parts writes; 128 bits of it in base64url, always
// macScopeLen bytes. Its states are pooled: a request costs no
// allocation but the scope itself.
type macScope struct {
	pool  sync.Pool // of *macState
	parts func(m *macState, r *http.Request) int
}

// macScopeLen is the length of every scope a macScope makes.
var macScopeLen = base64.RawURLEncoding.EncodedLen(16)

type macState struct {
	mac     hash.Hash
	buf     []byte // parts not yet written to mac
	sum     [sha256.Size]byte
	cookies [][2]string
}

func newMACScope(secret []byte, parts func(*macState, *http.Request) int) *macScope {
	secret = slices.Clone(secret)
	s := &macScope{parts: parts}
	s.pool.New = func() any { return &macState{mac: hmac.New(sha256.New, secret)} }
	return s
}

// scope is the Scope function.
func (s *macScope) scope(r *http.Request) string {
	var b [32]byte
	sc, ok := s.appendScope(b[:0], r)
	if !ok {
		return ""
	}
	return string(sc)
}

// appendScope appends the scope of r to dst; ok is false, and nothing
// appended, for a request without credentials.
func (s *macScope) appendScope(dst []byte, r *http.Request) (_ []byte, ok bool) {
	m := s.pool.Get().(*macState)
	defer func() {
		m.mac.Reset()
		clear(m.buf)
		if cap(m.buf) > 64<<10 {
			m.buf = nil // an outsized credential: not kept for every request
		}
		m.buf = m.buf[:0]
		s.pool.Put(m)
	}()
	if s.parts(m, r) == 0 {
		return dst, false
	}
	m.mac.Write(m.buf)
	return base64.RawURLEncoding.AppendEncode(dst, m.mac.Sum(m.sum[:0])[:16]), true
}

// part adds a tagged, length-prefixed part, so that no two lists of parts
// hash alike.
func part[S string | []byte](m *macState, tag byte, s S) {
	m.buf = append(m.buf, tag)
	m.buf = binary.AppendUvarint(m.buf, uint64(len(s)))
	m.buf = append(m.buf, s...)
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

// scoper finds the scope of a request by the configuration.
type scoper struct {
	fixed  func(*http.Request) string // Scope; nil: see below
	mac    *macScope                  // the default scope under ScopeSecret
	shared bool                       // SharedKeySpace: one key space
	// digest makes the default scope under a secret: CredentialScope, or
	// HeaderScope of Config.ScopeHeaders.
	digest func(secret []byte) *macScope

	// Otherwise, the default scope under a secret kept in the store.
	g         *idempotency.Guard
	secretKey string
	stored    atomic.Pointer[macScope]
}

func newScoper(g *idempotency.Guard, c *Config) *scoper {
	digest := credentialMAC
	if len(c.ScopeHeaders) > 0 {
		names := c.ScopeHeaders
		digest = func(secret []byte) *macScope { return headerMAC(secret, names) }
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
		return &scoper{mac: digest(c.ScopeSecret)}
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

// recordKey returns RecordKey(prefix, scope of r, key); ok is false for a
// request that cannot be told apart (no scope, and not SharedKeySpace),
// and err is set when the stored secret cannot be read or made. A keyed
// digest is written straight into the key: one allocation.
func (s *scoper) recordKey(ctx context.Context, r *http.Request, prefix, key string) (recKey string, ok bool, err error) {
	switch {
	case s.shared:
		return RecordKey(prefix, "", key), true, nil
	case s.fixed != nil:
		scope := s.fixed(r)
		return RecordKey(prefix, scope, key), scope != "", nil
	}
	mac := s.mac
	if mac == nil {
		if mac = s.stored.Load(); mac == nil {
			secret, err := s.loadSecret(ctx)
			if err != nil {
				return "", false, err
			}
			s.stored.CompareAndSwap(nil, s.digest(secret))
			mac = s.stored.Load()
		}
	}
	var buf [128]byte
	b := appendKeyHead(buf[:0], prefix, macScopeLen)
	if b, ok = mac.appendScope(b, r); !ok {
		return "", false, nil
	}
	return string(append(b, key...)), true, nil
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
