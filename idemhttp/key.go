package idemhttp

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"strconv"
)

// RecordKey returns the guard key under which the response to a request
// with Idempotency-Key key from the client scope is recorded, for
// operators who look it up or forget it (Guard.Lookup, Guard.Forget).
// prefix is Config.KeyPrefix ("" means DefaultKeyPrefix).
//
// The scope is length-prefixed, so that no two (scope, key) pairs share a
// record: scope "a" with key "bc" and scope "ab" with key "c" are apart.
func RecordKey(prefix, scope, key string) string {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	var buf [128]byte
	return string(append(append(appendKeyHead(buf[:0], prefix, len(scope)), scope...), key...))
}

// appendKeyHead appends what precedes a scope of scopeLen bytes in a
// RecordKey (prefix not empty).
func appendKeyHead(dst []byte, prefix string, scopeLen int) []byte {
	return append(strconv.AppendInt(append(dst, prefix...), int64(scopeLen), 10), ':')
}

// DefaultFingerprint is the default Config.Fingerprint: a digest of the
// method, the escaped path and query, and the body. Headers are left out:
// clients legitimately change some between retries (dates, tracing).
func DefaultFingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, part := range [][]byte{[]byte(r.Method), []byte(r.URL.EscapedPath()), []byte(r.URL.RawQuery), body} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
		h.Write(part)
	}
	var sum [sha256.Size]byte
	return string(h.Sum(sum[:0]))
}
