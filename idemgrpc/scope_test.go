package idemgrpc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemgrpc"
	"github.com/idempotency-go/idempotency/internal/teststore"
)

// TestTenantsApartByDefault: under the defaults, two clients sending the
// same key and request are two calls, each replayed its own response; a
// client cannot read another's response, nor keep it from running by
// sending its key first.
func TestTenantsApartByDefault(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), nil)
	req := newStruct(t, map[string]any{"amount": 1})
	a := e.callAs("Bearer client-a", methodCharge, "k", req)
	b := e.callAs("Bearer client-b", methodCharge, "k", req)
	if a.err != nil || b.err != nil || a.replayed() || b.replayed() {
		t.Fatalf("first calls: %v, %v, replayed %v, %v; want two calls run", a.err, b.err, a.replayed(), b.replayed())
	}
	if got := runs.Load(); got != 2 {
		t.Fatalf("handler ran %d times for two clients, want 2", got)
	}
	for _, c := range []struct {
		auth   string
		charge float64
	}{{"Bearer client-a", 1}, {"Bearer client-b", 2}} {
		r := e.callAs(c.auth, methodCharge, "k", req)
		if r.err != nil || !r.replayed() || r.resp.Fields["charge"].GetNumberValue() != c.charge {
			t.Fatalf("%s again: %v, replayed %v, %v; want its own charge %v replayed", c.auth, r.err, r.replayed(), r.resp, c.charge)
		}
	}
	if got := runs.Load(); got != 2 {
		t.Fatalf("handler ran %d times, want 2", got)
	}
}

// TestUnidentifiedCall: a keyed call that does not identify its client
// gets codes.Unauthenticated and does not run, under the default scope and
// under a Scope that returns ""; an empty scope is never shared. A call
// without a key passes through as before.
func TestUnidentifiedCall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  *idemgrpc.Config
		auth string
	}{
		{"DefaultNoCredentials", nil, ""},
		{"DefaultBlankCredentials", nil, "  "},
		{"GivenSecretNoCredentials", &idemgrpc.Config{ScopeSecret: []byte("0123456789abcdef")}, ""},
		{"ScopeEmpty", &idemgrpc.Config{Scope: func(context.Context) string { return "" }}, "Bearer client-a"},
		// Scope wins over SharedKeySpace: "" is still refused.
		{"ScopeEmptyWithSharedKeySpace", &idemgrpc.Config{Scope: func(context.Context) string { return "" }, SharedKeySpace: true}, "Bearer client-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int64
			e := newEnv(t, charge(&runs), &envOptions{cfg: tc.cfg})
			req := newStruct(t, map[string]any{"amount": 1})
			for range 2 {
				r := e.callAs(tc.auth, methodCharge, "k", req)
				wantCode(t, r, codes.Unauthenticated)
				if !strings.HasPrefix(status.Convert(r.err).Message(), "idempotency: ") {
					t.Fatalf("message %q", status.Convert(r.err).Message())
				}
			}
			if got := runs.Load(); got != 0 {
				t.Fatalf("handler ran %d times, want 0", got)
			}
			if n := e.store.Len(); n > 1 { // the stored secret at most
				t.Fatalf("%d records in the store, want no call's", n)
			}
			if r := e.callAs(tc.auth, methodCharge, "", req); r.err != nil || runs.Load() != 1 {
				t.Fatalf("a call without a key: %v, %d runs; want it run unguarded", r.err, runs.Load())
			}
		})
	}
}

// TestSharedKeySpace: opted in, every client shares one key space.
func TestSharedKeySpace(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), &envOptions{cfg: &idemgrpc.Config{SharedKeySpace: true}})
	req := newStruct(t, map[string]any{"amount": 1})
	if r := e.callAs("", methodCharge, "k", req); r.err != nil {
		t.Fatal(r.err)
	}
	r := e.callAs("Bearer client-b", methodCharge, "k", req)
	if r.err != nil || !r.replayed() || runs.Load() != 1 {
		t.Fatalf("another client: %v, replayed %v, %d runs; want the first response replayed", r.err, r.replayed(), runs.Load())
	}
	if _, err := e.guard.Lookup(context.Background(), idemgrpc.RecordKey("", "", methodCharge, "k")); err != nil {
		t.Fatalf("the record of the shared key space: %v", err)
	}
	if _, err := e.store.Get(context.Background(), idemgrpc.DefaultKeyPrefix+idemgrpc.SecretRecord); err == nil {
		t.Fatal("a scope secret was kept in the store of a shared key space")
	}
}

// TestScopeSecret: under a given secret, the scope in the store key is
// CredentialScope's under that secret, no secret is kept in the store,
// and the scope is keyed: no plain SHA-256 of the credentials.
func TestScopeSecret(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), &envOptions{cfg: &idemgrpc.Config{ScopeSecret: secret}})
	if r := e.call(methodCharge, "k", newStruct(t, map[string]any{"amount": 1})); r.err != nil {
		t.Fatal(r.err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", clientA))
	scope := idemgrpc.CredentialScope(secret)(ctx)
	if _, err := e.guard.Lookup(context.Background(), idemgrpc.RecordKey("", scope, methodCharge, "k")); err != nil {
		t.Fatalf("the record under CredentialScope(secret): %v", err)
	}
	if _, err := e.store.Get(context.Background(), idemgrpc.DefaultKeyPrefix+idemgrpc.SecretRecord); err == nil {
		t.Fatal("a scope secret was kept in the store though one was given")
	}
	sum := sha256.Sum256([]byte(clientA))
	for _, plain := range []string{hex.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:16]), base64.RawURLEncoding.EncodeToString(sum[:])} {
		if strings.Contains(scope, plain) || strings.Contains(plain, scope) {
			t.Fatalf("scope %q is a plain digest of the credentials", scope)
		}
	}
	other := idemgrpc.CredentialScope([]byte("fedcba9876543210fedcba9876543210"))(ctx)
	if other == scope || other == "" {
		t.Fatalf("scope under another secret %q, under the secret %q", other, scope)
	}
}

// TestStoredSecretShared: without ScopeSecret, the secret kept in the
// store serves every interceptor of that store (another server, a
// restart): a retry that reaches another server is replayed.
func TestStoredSecretShared(t *testing.T) {
	t.Parallel()
	store := teststore.Memory(t)
	var runs atomic.Int64
	one := newEnv(t, charge(&runs), &envOptions{store: store})
	two := newEnv(t, charge(&runs), &envOptions{store: store})
	req := newStruct(t, map[string]any{"amount": 1})
	if r := one.call(methodCharge, "k", req); r.err != nil {
		t.Fatal(r.err)
	}
	r := two.call(methodCharge, "k", req)
	if r.err != nil || !r.replayed() || runs.Load() != 1 {
		t.Fatalf("on the second server: %v, replayed %v, %d runs; want a replay", r.err, r.replayed(), runs.Load())
	}
}

// TestScopeSecretUnavailable: while the store cannot give the secret, a
// keyed call gets codes.Unavailable and does not run; once it can, the
// call runs. A stored secret that is not one is never replaced.
func TestScopeSecretUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("StoreDown", func(t *testing.T) {
		t.Parallel()
		flaky := teststore.Down(teststore.Memory(t))
		var runs atomic.Int64
		e := newEnv(t, charge(&runs), &envOptions{store: flaky})
		req := newStruct(t, map[string]any{"amount": 1})
		wantCode(t, e.call(methodCharge, "k", req), codes.Unavailable)
		if runs.Load() != 0 {
			t.Fatal("handler ran without a scope")
		}
		flaky.Down.Store(false)
		if r := e.call(methodCharge, "k", req); r.err != nil || runs.Load() != 1 {
			t.Fatalf("store back: %v, %d runs; want the call run", r.err, runs.Load())
		}
	})
	t.Run("Corrupt", func(t *testing.T) {
		t.Parallel()
		store := teststore.Memory(t)
		ctx := context.Background()
		key := idemgrpc.DefaultKeyPrefix + idemgrpc.SecretRecord
		c, err := store.Claim(ctx, idempotency.ClaimRequest{Key: key, Lease: time.Minute})
		if err != nil || !c.Acquired {
			t.Fatalf("claim: %v, %+v", err, c)
		}
		if err := store.Complete(ctx, key, c.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte(`"0a0b"`)}); err != nil {
			t.Fatal(err)
		}
		var runs atomic.Int64
		e := newEnv(t, charge(&runs), &envOptions{store: store})
		wantCode(t, e.call(methodCharge, "k", newStruct(t, map[string]any{"amount": 1})), codes.Unavailable)
		rec, err := store.Get(ctx, key)
		if err != nil || string(rec.Value) != `"0a0b"` || runs.Load() != 0 {
			t.Fatalf("after the call: %q, %v, %d runs; want the record kept and no run", rec.Value, err, runs.Load())
		}
	})
}

// TestTLSClientCertificate: over mutual TLS, the certificate a client
// presents identifies it without any metadata: two certificates are two
// clients, the same certificate one.
func TestTLSClientCertificate(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	serverCert := ca.issue(t, "server", true)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	serverCreds := credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	})
	var runs atomic.Int64
	clientA, clientB := ca.issue(t, "client-a", false), ca.issue(t, "client-b", false)
	dial := func(cert tls.Certificate) grpc.DialOption {
		return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			RootCAs:      pool,
			ServerName:   "server",
			MinVersion:   tls.VersionTLS13,
		}))
	}
	a := newEnv(t, charge(&runs), &envOptions{server: []grpc.ServerOption{grpc.Creds(serverCreds)}, dial: []grpc.DialOption{dial(clientA)}})
	// The same server's store and secret, reached by client B.
	b := newEnv(t, charge(&runs), &envOptions{store: a.store, server: []grpc.ServerOption{grpc.Creds(serverCreds)}, dial: []grpc.DialOption{dial(clientB)}})
	req := newStruct(t, map[string]any{"amount": 1})
	for i, e := range []*env{a, b} {
		if r := e.callAs("", methodCharge, "k", req); r.err != nil || r.replayed() {
			t.Fatalf("client %d: %v, replayed %v; want its call run", i, r.err, r.replayed())
		}
	}
	if r := a.callAs("", methodCharge, "k", req); r.err != nil || !r.replayed() || r.resp.Fields["charge"].GetNumberValue() != 1 {
		t.Fatalf("client A again: %v, replayed %v, %v; want its own response", r.err, r.replayed(), r.resp)
	}
	if got := runs.Load(); got != 2 {
		t.Fatalf("handler ran %d times, want 2", got)
	}
}

// ca is a certificate authority of a test.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: cert, key: key}
}

// issue makes a certificate for name, a server's or a client's.
func (c *ca) issue(t *testing.T, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.DNSNames = []string{name}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestScopeMetadata: with ScopeMetadata, the named metadata (an API key)
// tells clients apart instead of "authorization", in any case of its
// name; a call without it gets codes.Unauthenticated.
func TestScopeMetadata(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  *idemgrpc.Config
	}{
		{"StoredSecret", &idemgrpc.Config{ScopeMetadata: []string{"X-Api-Key"}}},
		{"ScopeSecret", &idemgrpc.Config{ScopeMetadata: []string{"x-api-key"}, ScopeSecret: []byte("0123456789abcdef")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int64
			e := newEnv(t, charge(&runs), &envOptions{cfg: tc.cfg})
			req := newStruct(t, map[string]any{"amount": 1})
			call := func(kv ...string) reply {
				ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(),
					append([]string{idemgrpc.MetadataKey, "k", "authorization", "Bearer same"}, kv...)...), 20*time.Second)
				defer cancel()
				r := reply{resp: new(structpb.Struct)}
				r.err = e.conn.Invoke(ctx, methodCharge, req, r.resp, grpc.Header(&r.header))
				return r
			}
			a, b := call("x-api-key", "key-a"), call("x-api-key", "key-b")
			if a.err != nil || b.err != nil || runs.Load() != 2 {
				t.Fatalf("two API keys: %v, %v, %d runs; want two calls run", a.err, b.err, runs.Load())
			}
			if r := call("x-api-key", "key-a"); r.err != nil || !r.replayed() || r.resp.Fields["charge"].GetNumberValue() != 1 {
				t.Fatalf("key-a again: %v, replayed %v, %v; want its own response", r.err, r.replayed(), r.resp)
			}
			wantCode(t, call(), codes.Unauthenticated)
			wantCode(t, call("x-api-key", " "), codes.Unauthenticated)
			if got := runs.Load(); got != 2 {
				t.Fatalf("handler ran %d times, want 2", got)
			}
		})
	}
	scope := idemgrpc.MetadataScope([]byte("0123456789abcdef"), "X-Api-Key", "x-tenant")
	in := func(kv ...string) string {
		return scope(metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...)))
	}
	if in("x-api-key", "a", "x-tenant", "b") == in("x-api-key", "b", "x-tenant", "a") || in("x-api-key", "a") == in("x-tenant", "a") {
		t.Error("MetadataScope does not tell the keys apart")
	}
	if in("x-api-key", "a") == "" || in("authorization", "Bearer a") != "" {
		t.Error("MetadataScope reads other metadata than it names")
	}
}

// TestScopeFunctionsRefuseShortSecret: CredentialScope and MetadataScope
// are keyed digests. Under a secret shorter than MinScopeSecret (none at
// all, say, from an unset environment variable) the digest would be one
// anyone can compute, and a scope seen in the store would give a guessed
// token away; they panic instead, as Config.ScopeSecret does.
func TestScopeFunctionsRefuseShortSecret(t *testing.T) {
	t.Parallel()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer a", "x-api-key", "key-a"))
	for _, tc := range []struct {
		name   string
		secret []byte
		ok     bool
	}{
		{"Nil", nil, false},
		{"Empty", []byte{}, false},
		{"OneByteShort", []byte(strings.Repeat("s", idemgrpc.MinScopeSecret-1)), false},
		{"Shortest", []byte(strings.Repeat("s", idemgrpc.MinScopeSecret)), true},
	} {
		for _, f := range []struct {
			name  string
			scope func(secret []byte) func(context.Context) string
		}{
			{"CredentialScope", idemgrpc.CredentialScope},
			{"MetadataScope", func(secret []byte) func(context.Context) string { return idemgrpc.MetadataScope(secret, "x-api-key") }},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				scope, p := func() (scope func(context.Context) string, p any) {
					defer func() { p = recover() }()
					return f.scope(tc.secret), nil
				}()
				switch {
				case tc.ok && (p != nil || scope(ctx) == ""):
					t.Fatalf("a secret of %d bytes: panic %v; want a scope", len(tc.secret), p)
				case !tc.ok && !strings.HasPrefix(fmt.Sprint(p), "idempotency: "):
					t.Fatalf("a secret of %d bytes: panic %v; want one starting with %q", len(tc.secret), p, "idempotency: ")
				}
			})
		}
	}
}

// TestStoredSecretLost: a store that loses the secret's record splits
// the servers until they restart: a server that read the secret keeps it,
// so its own records stay reachable, while a server that starts after
// makes another, and a retry that reaches it runs the handler again.
// Servers started after the loss agree with each other.
func TestStoredSecretLost(t *testing.T) {
	t.Parallel()
	store := teststore.Memory(t)
	var runs atomic.Int64
	old := newEnv(t, charge(&runs), &envOptions{store: store})
	req := newStruct(t, map[string]any{"amount": 1})
	if r := old.call(methodCharge, "k1", req); r.err != nil {
		t.Fatal(r.err)
	}
	if err := store.Delete(context.Background(), idemgrpc.DefaultKeyPrefix+idemgrpc.SecretRecord); err != nil {
		t.Fatal(err)
	}
	if r := old.call(methodCharge, "k1", req); r.err != nil || !r.replayed() || runs.Load() != 1 {
		t.Fatalf("the old server after the loss: %v, replayed %v, %d runs; want its record replayed", r.err, r.replayed(), runs.Load())
	}
	fresh := newEnv(t, charge(&runs), &envOptions{store: store})
	if r := fresh.call(methodCharge, "k1", req); r.err != nil || r.replayed() || runs.Load() != 2 {
		t.Fatalf("a server started after the loss: %v, replayed %v, %d runs; want the call run again", r.err, r.replayed(), runs.Load())
	}
	if r := old.call(methodCharge, "k2", req); r.err != nil || runs.Load() != 3 {
		t.Fatalf("a new key on the old server: %v, %d runs", r.err, runs.Load())
	}
	if r := fresh.call(methodCharge, "k2", req); r.err != nil || r.replayed() || runs.Load() != 4 {
		t.Fatalf("its retry on the new server: %v, replayed %v, %d runs; want it run again", r.err, r.replayed(), runs.Load())
	}
	restarted := newEnv(t, charge(&runs), &envOptions{store: store})
	if r := restarted.call(methodCharge, "k2", req); r.err != nil || !r.replayed() || r.resp.Fields["charge"].GetNumberValue() != 4 {
		t.Fatalf("a restarted server: %v, replayed %v, %v; want the new server's response", r.err, r.replayed(), r.resp)
	}
}

// TestStoredSecretRace: many first calls on several servers of one store
// race to make the secret (held until every one of them is claiming it):
// it is made once (one claim of its record acquired), every other call
// waits for it instead of failing, and every server agrees on it, so one
// client's key runs its handler once.
func TestStoredSecretRace(t *testing.T) {
	t.Parallel()
	const servers, calls = 4, 32
	store := &secretClaims{Store: teststore.Memory(t), racers: calls, all: make(chan struct{}), others: make(chan struct{})}
	var runs atomic.Int64
	var envs []*env
	for range servers {
		envs = append(envs, newEnv(t, charge(&runs), &envOptions{store: store, cfg: &idemgrpc.Config{Wait: 20 * time.Second}}))
	}
	req := newStruct(t, map[string]any{"amount": 1})
	replies := make([]reply, calls)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() { replies[i] = envs[i%servers].call(methodCharge, "k", req) })
	}
	wg.Wait()
	for i, r := range replies {
		if r.err != nil || r.resp.Fields["charge"].GetNumberValue() != 1 {
			t.Fatalf("call %d on server %d: %v, %v; want the one charge", i, i%servers, r.err, r.resp)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	if n := store.acquired.Load(); n != 1 {
		t.Fatalf("the secret's record was claimed %d times, want once", n)
	}
}

// secretClaims holds the claims of the default scope secret's record
// until racers of them have arrived, and the secret's completion until
// the others have been answered; it counts the claims acquired.
type secretClaims struct {
	idempotency.Store
	racers   int64
	arrived  atomic.Int64
	all      chan struct{} // closed when racers claims have arrived
	acquired atomic.Int64
	answered atomic.Int64  // claims not acquired
	others   chan struct{} // closed when racers-1 claims were not acquired
}

func (s *secretClaims) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	if req.Key != idemgrpc.DefaultKeyPrefix+idemgrpc.SecretRecord {
		return s.Store.Claim(ctx, req)
	}
	if s.arrived.Add(1) == s.racers {
		close(s.all)
	}
	select {
	case <-s.all:
	case <-ctx.Done(): // the call's own bound
		return idempotency.Claim{}, ctx.Err()
	}
	c, err := s.Store.Claim(ctx, req)
	switch {
	case err == nil && c.Acquired:
		s.acquired.Add(1)
	case err == nil && s.answered.Add(1) == s.racers-1:
		close(s.others)
	}
	return c, err
}

func (s *secretClaims) Complete(ctx context.Context, key string, token idempotency.Token, out idempotency.Outcome) error {
	if key == idemgrpc.DefaultKeyPrefix+idemgrpc.SecretRecord {
		select {
		case <-s.others:
		case <-time.After(20 * time.Second):
			return errors.New("timed out after 20s waiting for the other claims of the secret")
		}
	}
	return s.Store.Complete(ctx, key, token, out)
}

// TestScopeTooLong: a Scope so long that the record key would pass
// idempotency.MaxKeyLen gets codes.Internal, saying so, and the handler
// does not run; a record key of exactly MaxKeyLen serves.
func TestScopeTooLong(t *testing.T) {
	t.Parallel()
	fits := idempotency.MaxKeyLen
	for len(idemgrpc.RecordKey("", strings.Repeat("s", fits), methodCharge, "k")) > idempotency.MaxKeyLen {
		fits--
	}
	for _, tc := range []struct {
		name  string
		scope int // bytes
		code  codes.Code
		runs  int64
	}{
		{"AtTheBound", fits, codes.OK, 1},
		{"PastTheBound", fits + 1, codes.Internal, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scope := strings.Repeat("s", tc.scope)
			var runs atomic.Int64
			e := newEnv(t, charge(&runs), &envOptions{cfg: &idemgrpc.Config{Scope: func(context.Context) string { return scope }}})
			r := e.call(methodCharge, "k", newStruct(t, map[string]any{"amount": 1}))
			wantCode(t, r, tc.code)
			if msg := status.Convert(r.err).Message(); r.err != nil && !strings.Contains(msg, "scope is too long") {
				t.Fatalf("message %q; want it to name the scope", msg)
			}
			if runs.Load() != tc.runs || int64(e.store.Len()) != tc.runs {
				t.Fatalf("%d runs, %d records; want %d", runs.Load(), e.store.Len(), tc.runs)
			}
		})
	}
}
