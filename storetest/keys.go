package storetest

// Keys and values: any key bytes, values of any size.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// OddKeys are keys that naive stores confuse: path separators and their
// sanitised forms, case, unicode normalisation, NUL, invalid UTF-8,
// whitespace and a 4 KiB key.
func OddKeys() []string {
	return []string{
		"a/b", "a_b", "a\\b", "a:b", "a.b", "a%2Fb", "a b", "a\tb", "A/B",
		"../../etc/passwd", "..", ".", "/", "", " ",
		"café", "cafe\u0301", "caf\u00e9 ", "日本語", "\U0001F600",
		"nul\x00", "nul", "nul\x00x", "\xff\xfe", "\xff", "\x80abc",
		"a\nb", "a\r\nb", "con", "CON", "aux.txt",
		strings.Repeat("k", 4096), strings.Repeat("k", 4095) + "l", strings.Repeat("\x00", 64),
		"{slot}a", "{slot}b", "idempotency:a", "*", "?", "[a]",
	}
}

func testOddKeys(t *testing.T, s idemtype.Store) {
	keys := OddKeys()[:0:0]
	for _, k := range OddKeys() {
		if k != "" { // the guard rejects empty keys before a store sees them
			keys = append(keys, k)
		}
	}
	for i, k := range keys {
		r := mustAcquire(t, s, req(k, longLease))
		complete(t, s, k, r.Token, idemtype.StatusCompleted, []byte(fmt.Sprint(i)), time.Hour)
	}
	for i, k := range keys {
		g := get(t, s, k)
		if g.Key != k || string(g.Value) != fmt.Sprint(i) {
			t.Fatalf("key %q: got record of %q with value %q, want value %d", k, g.Key, g.Value, i)
		}
		c := mustNotAcquire(t, s, req(k, longLease))
		if string(c.Record.Value) != fmt.Sprint(i) {
			t.Fatalf("key %q: duplicate claim saw value %q, want %d", k, c.Record.Value, i)
		}
	}
}

func testFingerprintKept(t *testing.T, s idemtype.Store) {
	fp := strings.Repeat("f", 64)
	r := idemtype.ClaimRequest{Key: "k", Fingerprint: fp, Lease: longLease, TTL: time.Hour, Takeover: true}
	tok := mustAcquire(t, s, r).Token
	complete(t, s, "k", tok, idemtype.StatusCompleted, []byte("v"), time.Hour)
	other := r
	other.Fingerprint = "other"
	if c := mustNotAcquire(t, s, other); c.Record.Fingerprint != fp {
		t.Fatalf("duplicate with another fingerprint saw %q, want %q", c.Record.Fingerprint, fp)
	}
}

func testLargeValue(t *testing.T, s idemtype.Store) {
	v := make([]byte, 1<<20)
	for i := range v {
		v[i] = byte(i*7 + i>>8) // every byte value, incl. NUL and invalid UTF-8
	}
	r := mustAcquire(t, s, req("big", longLease))
	complete(t, s, "big", r.Token, idemtype.StatusCompleted, v, time.Hour)
	if g := get(t, s, "big"); !bytes.Equal(g.Value, v) {
		t.Fatalf("1 MiB value came back with %d bytes, not equal", len(g.Value))
	}
	if c := mustNotAcquire(t, s, req("big", longLease)); !bytes.Equal(c.Record.Value, v) {
		t.Fatal("1 MiB value differs in the duplicate's claim reply")
	}
}

func testEmptyValue(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, nil, time.Hour)
	if g := get(t, s, "k"); g.Status != idemtype.StatusCompleted || len(g.Value) != 0 {
		t.Fatalf("record completed without value = %+v", g)
	}
}
