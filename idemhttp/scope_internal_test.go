package idemhttp

import (
	"net/http"
	"strings"
	"testing"
)

// TestScopeBufferPooled: the buffer a scope is computed in is kept for
// the next request, unless an outsized credential grew it past 64 KiB. The
// pool may drop a state (a collection, the race detector), so each is
// looked for over many tries.
func TestScopeBufferPooled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cred int // bytes of the Authorization value
		kept bool
	}{
		{"Small", 100, true},
		{"Outsized", 100 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := credentialMAC([]byte("secret"))
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Bearer "+strings.Repeat("x", tc.cred))
			seen := false
			for range 50 {
				if _, ok := s.appendScope(nil, r); !ok {
					t.Fatal("request not identified")
				}
				m := s.pool.Get().(*macState)
				if m.buf != nil {
					seen = true
					if !tc.kept || cap(m.buf) > 64<<10 {
						t.Fatalf("a buffer of %d bytes kept after a credential of %d", cap(m.buf), tc.cred)
					}
				}
				s.pool.Put(m)
				if seen {
					break
				}
			}
			if tc.kept && !seen {
				t.Fatal("the buffer was never kept")
			}
		})
	}
}
