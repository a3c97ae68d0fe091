package idemhttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// Scopes are part of stored record keys: the digest of given credentials
// under a given secret never changes, or an upgrade would put every client
// in a new key space and retries would run handlers again.
func TestScopeGolden(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Add("Authorization", "Bearer client-a")
	r.Header.Add("Cookie", `session=abc; theme="dark"; b=2`)
	r.Header.Add("X-Api-Key", "key-a")
	for _, tc := range []struct {
		name, got, want string
	}{
		{"CredentialScope", idemhttp.CredentialScope(secret)(r), "ykyvg434axn-fuzjNJShYA"},
		{"HeaderScope", idemhttp.HeaderScope(secret, "X-Api-Key", "Authorization")(r), "qHqMLaHyH0rJS6zy4ZWTGw"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
