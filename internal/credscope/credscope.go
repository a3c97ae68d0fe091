// Package credscope makes the default client scope of the middlewares that
// guard requests from many clients (idemhttp, idemgrpc): a keyed digest
// (HMAC-SHA-256 under a secret, 128 bits in base64url) of a request's
// credentials, so that one client's key never replays another client's
// response, and a scope seen in the store cannot be matched against
// guessed passwords or tokens.
package credscope

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// MinSecret is the shortest secret accepted, in bytes.
const MinSecret = 16

// Len is the length of every scope a MAC makes.
var Len = base64.RawURLEncoding.EncodedLen(16)

// MAC makes the scopes of requests of type R under one secret: parts
// writes a request's credentials into a State and returns how many it
// wrote. States are pooled: a request costs no allocation but the scope.
type MAC[R any] struct {
	pool  sync.Pool // of *State
	parts func(m *State, r R) int
}

// State is the digest of one request's credentials as parts writes them.
type State struct {
	mac hash.Hash
	buf []byte // parts not yet written to mac
	sum [sha256.Size]byte
	// Pairs is room for parts to collect and sort name-value pairs
	// (cookies) in; it is cleared after each request, so that the pool
	// keeps no credentials.
	Pairs [][2]string
}

// New returns the MAC of secret over the credentials parts writes. It
// panics on a secret shorter than MinSecret: the digest under it would be
// one anyone can compute.
func New[R any](secret []byte, parts func(m *State, r R) int) *MAC[R] {
	if len(secret) < MinSecret {
		panic(fmt.Sprintf("idempotency: a scope secret of %d bytes, shorter than %d", len(secret), MinSecret))
	}
	secret = slices.Clone(secret)
	s := &MAC[R]{parts: parts}
	s.pool.New = func() any { return &State{mac: hmac.New(sha256.New, secret)} }
	return s
}

// Scope returns the scope of r, or "" for a request without credentials.
func (s *MAC[R]) Scope(r R) string {
	var b [32]byte
	sc, ok := s.Append(b[:0], r)
	if !ok {
		return ""
	}
	return string(sc)
}

// Append appends the scope of r (Len bytes) to dst; ok is false, and
// nothing appended, for a request without credentials.
func (s *MAC[R]) Append(dst []byte, r R) (_ []byte, ok bool) {
	m := s.pool.Get().(*State)
	defer func() {
		m.reset()
		s.pool.Put(m)
	}()
	if s.parts(m, r) == 0 {
		return dst, false
	}
	m.mac.Write(m.buf)
	return base64.RawURLEncoding.AppendEncode(dst, m.mac.Sum(m.sum[:0])[:16]), true
}

// reset readies m for the next request, keeping none of this one's
// credentials.
func (m *State) reset() {
	m.mac.Reset()
	clear(m.buf)
	if cap(m.buf) > maxPooledBuf {
		m.buf = nil // an outsized credential: not kept for every request
	}
	m.buf = m.buf[:0]
	clear(m.Pairs)
	if cap(m.Pairs) > maxPooledPairs {
		m.Pairs = nil // thousands of cookies: as an outsized credential
	}
	m.Pairs = m.Pairs[:0]
}

// maxPooledBuf bounds the buffers a pooled State keeps, and maxPooledPairs
// its room for pairs, to as many bytes.
const (
	maxPooledBuf   = 64 << 10
	maxPooledPairs = maxPooledBuf / int(unsafe.Sizeof([2]string{}))
)

// Values adds each non-blank value of vs as a part tagged tag, and
// returns how many it added: blank values are no credentials.
func Values(m *State, tag byte, vs []string) int {
	n := 0
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			Part(m, tag, v)
			n++
		}
	}
	return n
}

// NameTag is the tag of the values of the i-th of a list of names (headers,
// metadata keys) whose values are the credentials.
func NameTag(i int) byte { return byte('0' + i%64) }

// Part adds a part of the credentials: tagged and length-prefixed, so that
// no two lists of parts hash alike.
func Part[S string | []byte](m *State, tag byte, s S) {
	m.buf = append(m.buf, tag)
	m.buf = binary.AppendUvarint(m.buf, uint64(len(s)))
	m.buf = append(m.buf, s...)
}
