package idemgrpc

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/idempotency-go/idempotency"
)

// Config configures UnaryServerInterceptor. The zero value, like a nil
// *Config, means defaults.
type Config struct {
	// Methods are the full method names ("/package.Service/Method") the
	// interceptor guards; calls to other methods pass through untouched,
	// key or not. Default nil: every unary method.
	Methods []string
	// Required answers codes.InvalidArgument to a guarded call without
	// MetadataKey. Default false: such calls pass through unguarded.
	Required bool
	// Scope returns the identity of the client a call comes from (the
	// authenticated peer, the account, the id of an API key), read from
	// the call's context. It is part of the record key, so that one
	// client's key can never replay another client's response, nor be
	// taken first by another client. It appears in store keys: return an
	// identifier, not a secret, and keep it short (a call whose record key
	// would pass idempotency.MaxKeyLen gets codes.Internal and does not
	// run). A call for which it returns "" gets codes.Unauthenticated and
	// the handler does not run: an empty scope is never shared.
	//
	// Default nil: the scope is a keyed digest (HMAC-SHA-256 under
	// ScopeSecret) of the call's credentials, which are its
	// "authorization" metadata and its TLS client certificate
	// ([CredentialScope]), or the metadata ScopeMetadata names. A keyed
	// call without any of them gets codes.Unauthenticated.
	Scope func(ctx context.Context) string
	// ScopeSecret keys the digest of credentials that is the default
	// Scope, so that a scope seen in the store, a listing or a log cannot
	// be matched against guessed tokens. Use at least 32 random bytes
	// ([MinScopeSecret] at least), the same on every server that shares
	// the store, and keep it for as long as records live: another secret
	// puts every client in a new key space, so that retries run the
	// handler again.
	//
	// Default nil: a secret of 32 random bytes made on the first guarded
	// call and kept in the guard's store, without expiry, under KeyPrefix
	// followed by [SecretRecord]; every process and server of the store
	// then uses it, across restarts (a claim of it left behind is taken
	// over once its lease lapsed, even under the guard's NoTakeover).
	// Whoever can read that record can test guesses against the scopes in
	// store keys. A store that loses it (deleted, evicted) splits the
	// servers until they restart: one that read it keeps it, one that
	// starts later makes another, and a retry that reaches another server
	// than its call runs the handler again. Set ScopeSecret from a secret
	// manager where that matters.
	// While the store cannot give the secret, guarded calls get
	// codes.Unavailable and the handler does not run. Unused when Scope is
	// set or SharedKeySpace.
	ScopeSecret []byte
	// ScopeMetadata, when set, names the metadata keys whose values are a
	// client's credentials for the default scope (see [MetadataScope]),
	// instead of "authorization" and the TLS client certificate: an API
	// key, or a key an authenticating proxy in front of this server sets.
	// Keyed by ScopeSecret (or the stored secret) as the default is.
	// Unused when Scope is set or SharedKeySpace. A name that is not a
	// metadata key (letters, digits, "-", "_" and "." only) makes
	// UnaryServerInterceptor panic. Default none.
	ScopeMetadata []string
	// SharedKeySpace puts every call in one key space, whoever makes it:
	// one client's key replays its response to any other client that
	// sends that key and request, and a client that sends a key first
	// keeps another from running. Only for a service with a single client
	// (or one trusted caller). Unused when Scope is set. Default false.
	SharedKeySpace bool
	// KeyPrefix starts every record key, to keep these records apart from
	// other users of the store. Default "idemgrpc:".
	KeyPrefix string
	// MaxKeyLength is the longest key accepted in MetadataKey, in bytes.
	// Default 255; at most 1024.
	MaxKeyLength int
	// Wait is how long a duplicate waits for a first call that is still
	// running, to replay its response, before it gets codes.Aborted.
	// Default 0 (or negative): codes.Aborted at once. Under the guard's
	// Wait policy duplicates wait until their call's context ends instead,
	// and under Reject they get codes.AlreadyExists whenever the key was
	// seen before.
	Wait time.Duration
	// TTL is how long responses are remembered. Default 0: the guard's
	// Config.TTL.
	TTL time.Duration
	// ReleaseCodes are the status codes of handler errors that release the
	// key, so that a retry runs the handler again; errors with other codes
	// are stored and replayed. An error that is not a gRPC status counts
	// as codes.Unknown. Default nil: DefaultReleaseCodes; an empty non-nil
	// slice stores every error.
	ReleaseCodes []codes.Code
}

// DefaultReleaseCodes are the codes of transient failures, after which
// the same call may well succeed: the default Config.ReleaseCodes.
var DefaultReleaseCodes = []codes.Code{
	codes.Internal,
	codes.Unavailable,
	codes.DeadlineExceeded,
	codes.Canceled,
	codes.Unknown,
	codes.ResourceExhausted,
}

// Defaults of Config.
const (
	// DefaultKeyPrefix starts record keys.
	DefaultKeyPrefix = "idemgrpc:"
	// DefaultMaxKeyLength is the longest key accepted.
	DefaultMaxKeyLength = 255

	// maxMaxKeyLength leaves room in the guard's key for a prefix, a
	// scope and a method name.
	maxMaxKeyLength = 1024
)

// withDefaults returns c with defaults filled in; it panics on an invalid
// value, since a Config is written by a programmer, not read from input.
func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.KeyPrefix == "" {
		d.KeyPrefix = DefaultKeyPrefix
	}
	switch {
	case d.MaxKeyLength == 0:
		d.MaxKeyLength = DefaultMaxKeyLength
	case d.MaxKeyLength < 0 || d.MaxKeyLength > maxMaxKeyLength:
		panic(fmt.Sprintf("idempotency: idemgrpc: invalid Config.MaxKeyLength %d (want 1..%d, or 0 for the default)", d.MaxKeyLength, maxMaxKeyLength))
	}
	if d.TTL < 0 && d.TTL != idempotency.NoExpiry {
		panic(fmt.Sprintf("idempotency: idemgrpc: invalid Config.TTL %v (want > 0, 0 for the guard's, or idempotency.NoExpiry)", d.TTL))
	}
	d.ScopeMetadata = slices.Clone(d.ScopeMetadata)
	if d.ReleaseCodes == nil {
		d.ReleaseCodes = DefaultReleaseCodes
	}
	for _, c := range d.ReleaseCodes {
		if c == codes.OK {
			panic("idempotency: idemgrpc: Config.ReleaseCodes holds codes.OK, which is not an error")
		}
	}
	return d
}

// ClientConfig configures UnaryClientInterceptor. The zero value, like a
// nil *ClientConfig, means defaults.
type ClientConfig struct {
	// Methods are the full method names ("/package.Service/Method") that
	// get a key; calls to other methods are sent untouched. Default nil:
	// every unary method.
	Methods []string
	// NewKey returns a fresh key for one logical call. It must not repeat:
	// two calls with one key and different requests get
	// codes.InvalidArgument, and with equal requests the second gets the
	// first one's response. Default NewKey (128 random bits).
	NewKey func() string
}
