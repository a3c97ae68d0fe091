package credscope

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/teststore"
)

// TestScoper: the middleware's Scope decides alone, then a shared key
// space, then the digest under the given secret, then under the stored
// one; each appends to dst, and tells when a request cannot be told apart.
func TestScoper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret := []byte("0123456789abcdef")
	digest := func(secret []byte) *MAC[req] { return New(secret, testParts) }
	fixed := func(r req) string { return strings.Join(r.creds, ",") }
	alice := req{creds: []string{"alice"}}
	underSecret := digest(secret).Scope(alice)
	for _, tc := range []struct {
		name   string
		choice Choice[req]
		r      req
		scope  string // after "dst:"; "?" any of Len bytes
		ok     bool
	}{
		{"Scope", Choice[req]{Scope: fixed, Shared: true, Secret: secret, Digest: digest}, alice, "alice", true},
		{"ScopeEmpty", Choice[req]{Scope: fixed, Shared: true, Digest: digest}, req{}, "", false},
		{"Shared", Choice[req]{Shared: true, Secret: secret, Digest: digest}, req{}, "", true},
		{"Secret", Choice[req]{Secret: secret, Digest: digest}, alice, underSecret, true},
		{"SecretNoCredentials", Choice[req]{Secret: secret, Digest: digest}, req{}, "", false},
		{"Stored", Choice[req]{Digest: digest}, alice, "?", true},
		{"StoredNoCredentials", Choice[req]{Digest: digest}, req{}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.choice
			c.Guard, c.SecretKey, c.Name = idempotency.New(teststore.Memory(t), nil), secretKey, "test"
			got, ok, err := NewScoper(c).Append(ctx, []byte("dst:"), tc.r)
			if err != nil || ok != tc.ok {
				t.Fatalf("Append = %q, %v, %v; want ok %v", got, ok, err, tc.ok)
			}
			scope, found := strings.CutPrefix(string(got), "dst:")
			switch {
			case !found:
				t.Fatalf("Append = %q: dst not kept", got)
			case tc.scope == "?" && (len(scope) != Len || scope == underSecret):
				t.Fatalf("scope %q: want one of %d bytes under the stored secret", scope, Len)
			case tc.scope != "?" && scope != tc.scope:
				t.Fatalf("scope %q, want %q", scope, tc.scope)
			}
		})
	}
}

// TestScoperSecretRefused: a given secret shorter than MinSecret panics,
// one of MinSecret serves; a stored secret that cannot be read fails the
// request with the store's error, without a scope.
func TestScoperSecretRefused(t *testing.T) {
	t.Parallel()
	digest := func(secret []byte) *MAC[req] { return New(secret, testParts) }
	func() {
		defer func() {
			if p := recover(); p == nil || !strings.Contains(p.(string), "idempotency: test: Config.ScopeSecret is shorter than 16 bytes") {
				t.Fatalf("recovered %v, want the short secret refused", p)
			}
		}()
		NewScoper(Choice[req]{Secret: make([]byte, MinSecret-1), Digest: digest, Name: "test"})
	}()
	NewScoper(Choice[req]{Secret: make([]byte, MinSecret), Digest: digest, Name: "test"})
	s := NewScoper(Choice[req]{Digest: digest, Guard: idempotency.New(teststore.Down(teststore.Memory(t)), nil), SecretKey: secretKey, Name: "test"})
	got, ok, err := s.Append(context.Background(), []byte("dst:"), req{creds: []string{"alice"}})
	if !errors.Is(err, idempotency.ErrStore) || ok || string(got) != "dst:" {
		t.Fatalf("Append with the store down = %q, %v, %v; want dst, false, ErrStore", got, ok, err)
	}
}
