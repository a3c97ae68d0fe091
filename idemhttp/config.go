package idemhttp

import (
	"fmt"
	"net/http"
	"time"

	"github.com/idempotency-go/idempotency"
)

// Config configures the middleware. The zero value, like a nil *Config,
// means defaults.
type Config struct {
	// Methods are the request methods the middleware guards; requests with
	// other methods pass through untouched, key or not. Default POST and
	// PATCH.
	Methods []string
	// Required answers 400 to a guarded request without an Idempotency-Key.
	// Default false: such requests pass through unguarded.
	Required bool
	// Scope returns the identity of the client a request comes from: the
	// authenticated user, the account, the id of an API key. It is part of
	// the record key, so that one client's key can never replay another
	// client's response. It appears in store keys: return an identifier,
	// not a secret, and keep it short (a few hundred bytes at most). Default
	// nil: all clients share one key space, which suits only a service
	// with a single client.
	Scope func(r *http.Request) string
	// KeyPrefix starts every record key, to keep these records apart from
	// other users of the store. Default "idemhttp:".
	KeyPrefix string
	// MaxKeyLength is the longest Idempotency-Key accepted, in bytes.
	// Default 255; at most 1024.
	MaxKeyLength int
	// MaxRequestBytes bounds the body of a guarded request; a larger body
	// gets 413 and the handler does not run. Default 1 MiB.
	MaxRequestBytes int64
	// MaxResponseBytes bounds the response body kept for replay. A larger
	// response still reaches the client in full, but duplicates get 409
	// (ProblemNotReplayable) and the handler does not run again. Default
	// 1 MiB.
	MaxResponseBytes int64
	// Wait is how long a duplicate waits for a first request that is still
	// running, to replay its response, before it gets 409. Default 0 (or
	// negative): 409 at once, as the draft describes. Under the guard's
	// Wait policy duplicates wait until their request ends instead, and
	// under Reject they get 409 whenever the key was seen before.
	Wait time.Duration
	// TTL is how long responses are remembered. Default 0: the guard's
	// Config.TTL.
	TTL time.Duration
	// StoreServerErrors stores 5xx responses and replays them like others.
	// Default false: a 5xx response releases the key, so that a retry runs
	// the handler again.
	StoreServerErrors bool
	// OmitHeaders are response headers that are neither stored nor
	// replayed, besides the ones always left out: hop-by-hop headers and
	// SensitiveHeaders (unless ReplaySensitiveHeaders). For headers that
	// must not reach the store or a second response, such as a
	// per-response request id. Default: none.
	OmitHeaders []string
	// ReplaySensitiveHeaders stores and replays SensitiveHeaders like any
	// other header, for a handler whose cookies are meant for whoever
	// holds the key. Default false: they reach the first response only,
	// and never the store.
	ReplaySensitiveHeaders bool
	// Fingerprint identifies a request's content: the same key with
	// another fingerprint gets 422. It is called with the whole request
	// body. Default: the method, the escaped path and query, and the body
	// (DefaultFingerprint).
	Fingerprint func(r *http.Request, body []byte) string
	// ProblemBase is prepended to the Problem* names to form the type URI
	// of error responses. Default DefaultProblemBase.
	ProblemBase string
}

// SensitiveHeaders are the response headers that are neither stored nor
// replayed unless Config.ReplaySensitiveHeaders is set: a cookie or an
// authentication response belongs to the client that got it first, and the
// store should not hold session secrets.
var SensitiveHeaders = []string{"Set-Cookie", "Authentication-Info", "Proxy-Authentication-Info"}

// Defaults of Config.
const (
	// DefaultKeyPrefix starts record keys.
	DefaultKeyPrefix = "idemhttp:"
	// DefaultMaxKeyLength is the longest Idempotency-Key accepted.
	DefaultMaxKeyLength = 255
	// DefaultMaxRequestBytes bounds guarded request bodies.
	DefaultMaxRequestBytes = 1 << 20
	// DefaultMaxResponseBytes bounds stored response bodies.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultProblemBase is the base of the problem type URIs.
	DefaultProblemBase = "https://idempotency-go.dev/problems/"

	// maxMaxKeyLength leaves room in the guard's key for a prefix and a
	// scope.
	maxMaxKeyLength = 1024
)

// withDefaults returns c with defaults filled in; it panics on an invalid
// value, since a Config is written by a programmer, not read from input.
func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.Methods == nil {
		d.Methods = []string{http.MethodPost, http.MethodPatch}
	}
	if d.KeyPrefix == "" {
		d.KeyPrefix = DefaultKeyPrefix
	}
	switch {
	case d.MaxKeyLength == 0:
		d.MaxKeyLength = DefaultMaxKeyLength
	case d.MaxKeyLength < 0 || d.MaxKeyLength > maxMaxKeyLength:
		panic(fmt.Sprintf("idempotency: idemhttp: invalid Config.MaxKeyLength %d (want 1..%d, or 0 for the default)", d.MaxKeyLength, maxMaxKeyLength))
	}
	switch {
	case d.MaxRequestBytes == 0:
		d.MaxRequestBytes = DefaultMaxRequestBytes
	case d.MaxRequestBytes < 0:
		panic(fmt.Sprintf("idempotency: idemhttp: invalid Config.MaxRequestBytes %d (want > 0, or 0 for the default)", d.MaxRequestBytes))
	}
	switch {
	case d.MaxResponseBytes == 0:
		d.MaxResponseBytes = DefaultMaxResponseBytes
	case d.MaxResponseBytes < 0:
		panic(fmt.Sprintf("idempotency: idemhttp: invalid Config.MaxResponseBytes %d (want > 0, or 0 for the default)", d.MaxResponseBytes))
	}
	if d.TTL < 0 && d.TTL != idempotency.NoExpiry {
		panic(fmt.Sprintf("idempotency: idemhttp: invalid Config.TTL %v (want > 0, 0 for the guard's, or idempotency.NoExpiry)", d.TTL))
	}
	if d.Fingerprint == nil {
		d.Fingerprint = DefaultFingerprint
	}
	if d.ProblemBase == "" {
		d.ProblemBase = DefaultProblemBase
	}
	return d
}
