package idemhttp

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency"
)

// Config configures the middleware. The zero value, like a nil *Config,
// means defaults.
type Config struct {
	// Methods are the request methods the middleware guards; requests with
	// other methods pass through untouched, key or not. Methods are
	// case-sensitive: New panics on a standard method in another case
	// ("post"), which would guard nothing. Default POST and PATCH.
	Methods []string
	// Required answers 400 to a guarded request without an Idempotency-Key.
	// Default false: such requests pass through unguarded.
	Required bool
	// Scope returns the identity of the client a request comes from: the
	// authenticated user, the account, the id of an API key. It is part of
	// the record key, so that one client's key can never replay another
	// client's response, nor be taken first by another client. It appears
	// in store keys: return an identifier, not a secret, and keep it short
	// (a few hundred bytes at most). A request for which it returns ""
	// gets 401 (ProblemUnidentified) and the handler does not run: an
	// empty scope is never shared.
	//
	// Default nil: the scope is a keyed digest (HMAC-SHA-256 under
	// ScopeSecret) of the request's credentials, which are its
	// Authorization header, its cookies and its TLS client certificate
	// (CredentialScope). A guarded request without any of them gets 401.
	Scope func(r *http.Request) string
	// ScopeSecret keys the digest of credentials that is the default
	// Scope, so that a scope seen in the store, a listing or a log cannot
	// be matched against guessed passwords or tokens. Use at least 32
	// random bytes (MinScopeSecret at least), the same on every server
	// that shares the store, and keep it for as long as records live:
	// another secret puts every client in a new key space, so that retries
	// run the handler again.
	//
	// Default nil: a secret of 32 random bytes made on the first guarded
	// request and kept in the guard's store, without expiry, under
	// Config.KeyPrefix followed by SecretRecord; every process and server
	// of the store then uses it, across restarts (a claim of it left
	// behind is taken over once its lease lapsed, even under the guard's
	// NoTakeover, since making another secret repeats no effect).
	// Whoever can read that record can test guesses against the scopes
	// in store keys. A store that loses it (deleted, evicted) splits the
	// servers until they restart: one that read it keeps it, one that
	// starts later makes another, and a retry that reaches another server
	// than its request runs the handler again. Set ScopeSecret from a
	// secret manager where that matters. While the store cannot give the
	// secret, guarded requests get 503. Unused when Scope is set or
	// SharedKeySpace.
	ScopeSecret []byte
	// ScopeHeaders, when set, names the request headers whose values are
	// a client's credentials for the default scope (see [HeaderScope]),
	// instead of Authorization, cookies and the TLS client certificate:
	// an API key header, or a header an authenticating proxy in front of
	// this one sets. Keyed by ScopeSecret (or the stored secret) as the
	// default is. Unused when Scope is set or SharedKeySpace. A name that
	// is not a header field name makes New panic. Default none.
	ScopeHeaders []string
	// SharedKeySpace puts every request in one key space, whoever sends
	// it: one client's key replays its response to any other client that
	// sends that key, and a client that sends a key first keeps another
	// from running. Only for a service with a single client (or one
	// trusted caller, such as a job queue). Default false.
	SharedKeySpace bool
	// KeyPrefix starts every record key, to keep these records apart from
	// other users of the store. Default "idemhttp:".
	KeyPrefix string
	// MaxKeyLength is the longest Idempotency-Key accepted, in bytes.
	// Default 255; at most 1024.
	MaxKeyLength int
	// MaxRequestBytes bounds the body of a guarded request; a larger body
	// gets 413 and the handler does not run. Default 1 MiB.
	MaxRequestBytes int64
	// MaxResponseBytes bounds the response kept for replay: the body and
	// the names and values of the stored headers and trailers. A larger
	// response still reaches the client in full; if it is kept (Keep),
	// duplicates get 409 (ProblemNotReplayable) and the handler does not
	// run again, and if not it is released like any other. Default 1 MiB.
	MaxResponseBytes int64
	// Wait is how long a duplicate waits for a first request that is still
	// running, to replay its response, before it gets 409. A waiting
	// duplicate holds only its fingerprint, not its body: if the first
	// request ends without a response to replay (it was released), the
	// duplicate gets 409 with Retry-After and its client sends it again.
	// Default 0 (or negative): 409 at once, as the draft describes. Under
	// the guard's Wait policy the guard itself makes duplicates wait until
	// their request ends, holding their bodies (prefer Config.Wait), and
	// under Reject they get 409 whenever the key was seen before.
	Wait time.Duration
	// MaxWaiters bounds how many duplicates of one key wait at once in
	// this process (Wait); more get 409 at once. Default 16.
	MaxWaiters int
	// TTL is how long responses are remembered. Default 0: the guard's
	// Config.TTL.
	TTL time.Duration
	// Keep decides which responses are final: kept, they are recorded and
	// replayed to every retry; not kept, the key is released and a retry
	// runs the handler again. It is called once the handler returned, with
	// the status it wrote. A handler can veto keeping its response with
	// Discard. A Keep that panics keeps the response (the handler ran and
	// must not run again), and its panic goes on once the key is settled. Default DefaultKeep: 2xx, 3xx and 4xx except 408, 425 and
	// 429 are kept; 5xx (unless StoreServerErrors) and those three, which
	// tell the client to try again, are released.
	Keep func(status int, r *http.Request) bool
	// StoreServerErrors makes the default Keep keep 5xx responses too, and
	// replay them like others. Ignored when Keep is set. Default false.
	StoreServerErrors bool
	// ReplayHeaders, when not nil, is the allowlist of response headers
	// that are stored and replayed (and trailers likewise); others reach
	// the first response only. Content-Type and Content-Encoding, which
	// say what the stored body is, are always kept. SensitiveHeaders
	// still need ReplaySensitiveHeaders, and OmitHeaders still win.
	// Default nil: every header but the ones always left out is replayed,
	// since a handler's headers (Location, ETag) belong to its response;
	// an allowlist is the safer choice when middleware inside this one, or
	// the handler, sets headers that belong to one client or one response.
	ReplayHeaders []string
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
	// body (r.Body is read by then). Default: the method, the escaped
	// path and query, and the body (DefaultFingerprint).
	Fingerprint func(r *http.Request, body []byte) string
	// ProblemBase is prepended to the Problem* names to form the type URI
	// of error responses. Default DefaultProblemBase.
	ProblemBase string
	// Join, when set, runs each guarded call inside a transaction that the
	// handler's writes and the stored response commit in together:
	// pgstore.JoinTx, for a guard on a pgstore store, whose handlers get
	// the transaction with pgstore.TxFromRequest. The handler's response
	// is then held, not streamed, and reaches the client only once the
	// transaction committed (see [Joiner]). Default nil: no join; the
	// response streams to the client as it is written.
	Join Joiner
	// ErrorHandler writes the middleware's own error responses (400, 401,
	// 409, 413, 422, 500, 503), for an API whose errors have another
	// format. Headers the middleware sets for the error, such as
	// Retry-After, are on w already; the handler writes the status
	// e.Status and a body. Default WriteProblem: an RFC 9457
	// application/problem+json document.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, e *Error)
}

// Joiner runs call, the guarded call of one request under the record key
// key of g, inside a transaction it opens: call's context carries the
// transaction, the guard's store claims key, records the response and
// commits in it (or rolls it back when the response is released), and
// Joiner returns call's error. A Joiner that cannot join g's store returns
// an error without running call; the request then gets 500.
// pgstore.JoinTx is one.
//
// Behind a Joiner the middleware holds the handler's response until call
// returned: a client never sees a response whose effects did not commit.
// A kept response goes out once the Joiner returned nil; if it returned an
// error instead (the commit failed), nothing was committed and the client
// gets 503 (ProblemStore) with Retry-After, so that it retries with the
// same key. A released response (5xx, 408, 425, 429, Discard) rolled back
// and goes out as the handler wrote it. Flush does nothing
// (http.ResponseController's Flush reports http.ErrNotSupported), Hijack
// is refused, and a body larger than Config.MaxResponseBytes cannot be held:
// Write returns ErrResponseTooLarge from then on, the transaction rolls
// back, and the client gets 500 (ProblemResponseTooLarge). A handler that
// panics, or whose client leaves before it returns, rolls back too.
type Joiner func(ctx context.Context, g *idempotency.Guard, key string, call func(ctx context.Context) error) error

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

	// DefaultMaxWaiters bounds the duplicates of one key waiting at once.
	DefaultMaxWaiters = 16

	// maxMaxKeyLength leaves room in the guard's key for a prefix and a
	// scope.
	maxMaxKeyLength = 1024
)

// standardMethods are the methods of RFC 9110 and RFC 5789.
var standardMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace,
}

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
	for _, m := range d.Methods {
		if u := strings.ToUpper(m); u != m && slices.Contains(standardMethods, u) {
			// Methods are case-sensitive: no client sends "post".
			panic(fmt.Sprintf("idempotency: idemhttp: Config.Methods has %q, which guards no request: methods are case-sensitive (want %s)", m, u))
		}
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
	switch {
	case d.MaxWaiters == 0:
		d.MaxWaiters = DefaultMaxWaiters
	case d.MaxWaiters < 0:
		panic(fmt.Sprintf("idempotency: idemhttp: invalid Config.MaxWaiters %d (want > 0, or 0 for the default)", d.MaxWaiters))
	}
	if d.Keep == nil {
		d.Keep = DefaultKeep
		if d.StoreServerErrors {
			d.Keep = func(status int, r *http.Request) bool { return status >= 500 || DefaultKeep(status, r) }
		}
	}
	if d.ErrorHandler == nil {
		d.ErrorHandler = WriteProblem
	}
	if d.Fingerprint == nil {
		d.Fingerprint = DefaultFingerprint
	}
	if d.ProblemBase == "" {
		d.ProblemBase = DefaultProblemBase
	}
	return d
}
