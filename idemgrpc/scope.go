package idemgrpc

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/credscope"
)

// MinScopeSecret is the shortest Config.ScopeSecret accepted, in bytes.
const MinScopeSecret = credscope.MinSecret

// SecretRecord follows Config.KeyPrefix in the key of the record that
// keeps the default scope's secret when Config.ScopeSecret is not set. No
// call's record key can be the same (RecordKey puts a digit there).
const SecretRecord = "scope-secret"

// CredentialScope returns the Scope function that is the default when
// Config.Scope is nil: a keyed digest (HMAC-SHA-256 under secret, 128 bits
// in base64url) of the call's credentials, which are the values of its
// "authorization" metadata (where per-RPC credentials such as OAuth
// tokens go) and the certificate its client presented over TLS. Blank
// values do not count; a call without credentials gets "", which the
// interceptor answers with codes.Unauthenticated.
//
// Any change to the credentials is another client: a retry sent with a
// refreshed token runs the handler again. Where that can happen, set
// Config.Scope to the stable identity that authentication found instead.
// The credentials are those the interceptor sees: behind a proxy that
// authenticates callers and reaches this server over mutual TLS without
// their "authorization" metadata, or an interceptor in front that replaces
// it, every caller has the proxy's credentials and is one client; set
// Config.Scope, or Config.ScopeMetadata to what carries the caller.
//
// It panics on a secret shorter than [MinScopeSecret], under which the
// digest would be one anyone can compute.
func CredentialScope(secret []byte) func(ctx context.Context) string {
	return credentialMAC(secret).Scope
}

// MetadataScope returns a Scope function like CredentialScope whose
// credentials are the values of the named metadata keys instead (an API
// key, a key an authenticating proxy in front sets): a keyed digest
// (HMAC-SHA-256 under secret) of every non-blank value of each, in the
// order of names. Keys are matched as gRPC does, in any case. A call with
// none of them gets "", which the interceptor answers with
// codes.Unauthenticated. [Config.ScopeMetadata] makes it the default. It
// panics on a secret shorter than [MinScopeSecret], as CredentialScope
// does, and on a name that is not a metadata key.
func MetadataScope(secret []byte, names ...string) func(ctx context.Context) string {
	return metadataMAC(secret, names).Scope
}

// scopeKeys returns names as metadata keeps them, in lower case: the keys
// of MetadataScope. It panics on a name that is not a metadata key: no
// call would have it, and every call would be unidentified.
func scopeKeys(names []string) []string {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = strings.ToLower(n)
		if keys[i] == "" || strings.Trim(keys[i], "abcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
			panic(fmt.Sprintf("idempotency: idemgrpc: scope metadata key %q is not a metadata key", n))
		}
	}
	return keys
}

// metadataMAC is the keyed digest behind MetadataScope.
func metadataMAC(secret []byte, names []string) *credscope.MAC[context.Context] {
	keys := scopeKeys(names)
	return credscope.New(secret, func(m *credscope.State, ctx context.Context) int {
		md, _ := metadata.FromIncomingContext(ctx)
		n := 0
		for i, k := range keys {
			n += credscope.Values(m, credscope.NameTag(i), md[k])
		}
		return n
	})
}

// credentialMAC is the keyed digest behind CredentialScope.
func credentialMAC(secret []byte) *credscope.MAC[context.Context] {
	return credscope.New(secret, func(m *credscope.State, ctx context.Context) int {
		md, _ := metadata.FromIncomingContext(ctx)
		n := credscope.Values(m, 'a', md["authorization"])
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
				credscope.Part(m, 't', ti.State.PeerCertificates[0].Raw)
				n++
			}
		}
		return n
	})
}

// newScoper returns the scope of calls under c: Config.Scope,
// SharedKeySpace, or CredentialScope (MetadataScope of ScopeMetadata)
// under ScopeSecret or the secret kept in g's store.
func newScoper(g *idempotency.Guard, c *Config) *credscope.Scoper[context.Context] {
	digest := credentialMAC
	if len(c.ScopeMetadata) > 0 {
		names := scopeKeys(c.ScopeMetadata) // checked now, not at the first call
		digest = func(secret []byte) *credscope.MAC[context.Context] { return metadataMAC(secret, names) }
	}
	return credscope.NewScoper(credscope.Choice[context.Context]{
		Scope: c.Scope, Shared: c.SharedKeySpace, Secret: c.ScopeSecret, Digest: digest,
		Guard: g, SecretKey: c.KeyPrefix + SecretRecord, Name: "idemgrpc",
	})
}
