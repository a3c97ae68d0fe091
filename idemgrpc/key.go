package idemgrpc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
)

// MetadataKey is the metadata key of a call's idempotency key. Its value
// is an opaque string chosen by the client, unique per logical call and
// the same across that call's retries.
const MetadataKey = "idempotency-key"

// ReplayedKey is the header metadata key set to "true" on a response
// replayed from the store, whose handler did not run for this call.
const ReplayedKey = "idempotent-replayed"

// RecordKey returns the guard key under which the outcome of a call to
// method (a full method name) with key from the client scope is recorded,
// for operators who look it up or forget it (Guard.Lookup, Guard.Forget).
// prefix is Config.KeyPrefix ("" means DefaultKeyPrefix).
//
// The scope and the method are length-prefixed, so that no two (scope,
// method, key) triples share a record.
func RecordKey(prefix, scope, method, key string) string {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return prefix + strconv.Itoa(len(scope)) + ":" + scope + strconv.Itoa(len(method)) + ":" + method + key
}

// fingerprint identifies a call's content: its method and the
// deterministic marshalling of its request.
func fingerprint(method string, req []byte) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(method)))])
	h.Write([]byte(method))
	h.Write(req)
	return string(h.Sum(nil))
}

// NewKey returns 128 random bits, base64url-encoded: the default
// ClientConfig.NewKey.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
