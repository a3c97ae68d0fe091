package credscope

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// req is a request of the tests: its credentials, each a part tagged 'a',
// and cookies collected into Pairs.
type req struct {
	creds   []string
	cookies [][2]string
}

func testMAC(secret string) *MAC[req] { return New([]byte(secret), testParts) }

func testParts(m *State, r req) int {
	n := Values(m, 'a', r.creds)
	m.Pairs = append(m.Pairs, r.cookies...)
	for _, c := range m.Pairs {
		Part(m, 'c', c[0])
		Part(m, '=', c[1])
	}
	return n + len(m.Pairs)
}

// TestScope: a scope is Len bytes of base64url, the same for the same
// credentials and secret, another for other credentials, another secret,
// or the same bytes split into other parts; none without credentials.
func TestScope(t *testing.T) {
	t.Parallel()
	s := testMAC("0123456789abcdef")
	a := s.Scope(req{creds: []string{"Bearer a"}})
	if len(a) != Len || strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Fatalf("scope %q: want %d bytes of base64url", a, Len)
	}
	for _, tc := range []struct {
		name string
		mac  *MAC[req]
		r    req
		same bool
	}{
		{"SameCredentials", s, req{creds: []string{"Bearer a"}}, true},
		{"OtherCredentials", s, req{creds: []string{"Bearer b"}}, false},
		{"OtherSecret", testMAC("0123456789abcdeF"), req{creds: []string{"Bearer a"}}, false},
		{"SplitOtherwise", s, req{creds: []string{"Bearer", " a"}}, false},
		{"MoreParts", s, req{creds: []string{"Bearer a", "x"}}, false},
		{"BlankNotCounted", s, req{creds: []string{" ", "Bearer a", "\t"}}, true},
		{"NameTags", New([]byte("0123456789abcdef"), func(m *State, r req) int {
			return Values(m, NameTag(0), r.creds)
		}), req{creds: []string{"Bearer a"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.mac.Scope(tc.r); (got == a) != tc.same {
				t.Fatalf("scope %q against %q: same = %v, want %v", got, a, got == a, tc.same)
			}
		})
	}
	// Without the lengths, the tag of the second part would read as the
	// end of the first.
	if s.Scope(req{creds: []string{"Beareraa"}}) == s.Scope(req{creds: []string{"Bearer", "a"}}) {
		t.Fatal("parts Bearer and a hash as the one part Beareraa")
	}
	if got := s.Scope(req{creds: []string{"", " \t"}}); got != "" {
		t.Fatalf("scope of blank credentials = %q, want \"\"", got)
	}
	if NameTag(0) == NameTag(1) || NameTag(1) == 'a' {
		t.Fatal("name tags alike")
	}
	if got := s.Scope(req{}); got != "" {
		t.Fatalf("scope without credentials = %q, want \"\"", got)
	}
	dst, ok := s.Append([]byte("head:"), req{})
	if ok || string(dst) != "head:" {
		t.Fatalf("Append without credentials = %q, %v; want head: unchanged, false", dst, ok)
	}
	dst, ok = s.Append([]byte("head:"), req{creds: []string{"Bearer a"}})
	if !ok || string(dst) != "head:"+a {
		t.Fatalf("Append = %q, %v; want %q, true", dst, ok, "head:"+a)
	}
}

// TestShortSecretRefused: under a secret shorter than MinSecret the
// digest would be one anyone can compute; New panics instead.
func TestShortSecretRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secret string
		ok     bool
	}{
		{"None", "", false},
		{"OneByteShort", strings.Repeat("s", MinSecret-1), false},
		{"Shortest", strings.Repeat("s", MinSecret), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := func() (p any) {
				defer func() { p = recover() }()
				testMAC(tc.secret)
				return nil
			}()
			if (p == nil) != tc.ok || p != nil && !strings.HasPrefix(fmt.Sprint(p), "idempotency: ") {
				t.Fatalf("New with a secret of %d bytes: panic %v, want a panic %v", len(tc.secret), p, !tc.ok)
			}
		})
	}
}

// TestSecretCopied: a caller that changes its secret after New changes no
// scope.
func TestSecretCopied(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef")
	s := New(secret, testParts)
	r := req{creds: []string{"Bearer a"}}
	before := s.Scope(r)
	copy(secret, "XXXXXXXXXXXXXXXX")
	if after := s.Scope(req{creds: []string{"Bearer b"}}); after == before {
		t.Fatal("other credentials, same scope")
	}
	if again := s.Scope(r); again != before {
		t.Fatalf("scope %q after the caller's secret changed, was %q", again, before)
	}
}

// TestStatePooled: the state a scope is computed in is kept for the next
// request without its credentials (the buffer cleared, the pairs
// dropped), and its buffer only unless an outsized credential grew it past
// 64 KiB. The pool may drop a state (a collection, the race detector), so
// each is looked for over many tries.
func TestStatePooled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cred int // bytes of the credential
		kept bool
	}{
		{"Small", 100, true},
		{"Outsized", 100 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testMAC("0123456789abcdef")
			r := req{creds: []string{"Bearer " + strings.Repeat("x", tc.cred)}, cookies: [][2]string{{"session", "s3cr3t"}}}
			seen := false
			for range 50 {
				if _, ok := s.Append(nil, r); !ok {
					t.Fatal("request not identified")
				}
				m := s.pool.Get().(*State)
				if len(m.buf) != 0 || len(m.Pairs) != 0 {
					t.Fatalf("a pooled state holds %d bytes and %d pairs", len(m.buf), len(m.Pairs))
				}
				if cap(m.Pairs) > 0 && m.Pairs[:1][0] != ([2]string{}) {
					t.Fatalf("a pooled state keeps the pair %q", m.Pairs[:1][0])
				}
				if m.buf != nil {
					seen = true
					if !tc.kept || cap(m.buf) > maxPooledBuf {
						t.Fatalf("a buffer of %d bytes kept after a credential of %d", cap(m.buf), tc.cred)
					}
					if bytes.Contains(m.buf[:cap(m.buf)], []byte("Bearer")) {
						t.Fatal("a pooled buffer keeps the credential")
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

// TestStateReset: a buffer of up to 64 KiB is kept for the next request,
// a larger one dropped, and so are the pairs (a request with thousands of
// cookies); either way nothing of the request stays.
func TestStateReset(t *testing.T) {
	t.Parallel()
	pairBound := maxPooledBuf / int(unsafe.Sizeof([2]string{}))
	for _, tc := range []struct {
		name      string
		cap       int // of the buffer
		pairs     int // capacity of the pairs
		kept      bool
		pairsKept bool
	}{
		{"Small", 128, 4, true, true},
		{"AtTheBound", maxPooledBuf, pairBound, true, true},
		{"PastTheBound", maxPooledBuf + 1, 4, false, true},
		{"PairsPastTheBound", 128, pairBound + 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := testMAC("0123456789abcdef").pool.Get().(*State)
			m.buf = append(make([]byte, 0, tc.cap), "Bearer token"...)
			m.Pairs = append(make([][2]string, 0, tc.pairs), [2]string{"session", "s3cr3t"})
			m.reset()
			if len(m.buf) != 0 || len(m.Pairs) != 0 || cap(m.Pairs) > 0 && m.Pairs[:1][0] != ([2]string{}) {
				t.Fatalf("after reset: %d bytes, %d pairs", len(m.buf), len(m.Pairs))
			}
			if kept := m.buf != nil; kept != tc.kept {
				t.Fatalf("buffer of %d bytes kept = %v, want %v", tc.cap, kept, tc.kept)
			}
			if kept := m.Pairs != nil; kept != tc.pairsKept {
				t.Fatalf("room for %d pairs kept = %v, want %v", tc.pairs, kept, tc.pairsKept)
			}
			if m.buf != nil && bytes.Contains(m.buf[:cap(m.buf)], []byte("Bearer")) {
				t.Fatal("the kept buffer holds the credential")
			}
		})
	}
}

// TestStable: scopes are in the keys of stored records, so that the same
// credentials under the same secret must make the same scope in every
// version: another would put every client in a new key space. The tags of
// named values are part of it. The figures are HMAC-SHA-256 computed apart
// (Python's hmac over the tagged, length-prefixed parts).
func TestStable(t *testing.T) {
	t.Parallel()
	named := New([]byte("0123456789abcdef"), func(m *State, r req) int {
		n := 0
		for i, c := range r.creds {
			n += Values(m, NameTag(i), []string{c})
		}
		return n
	})
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"Credentials", testMAC("0123456789abcdef").Scope(req{creds: []string{"Bearer a"}, cookies: [][2]string{{"s", "1"}}}), "n0Gt_46biA2DFQWlZ7VhcQ"},
		{"Named", named.Scope(req{creds: []string{"a", "b", "c"}}), "u-AhN7XZ0Iw5Z2Wtoh1Ipg"},
		{"Tags", string([]byte{NameTag(0), NameTag(1), NameTag(63), NameTag(64)}), "01o0"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
