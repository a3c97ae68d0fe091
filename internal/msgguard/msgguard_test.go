package msgguard

import (
	"encoding/hex"
	"testing"
)

// Record keys and fingerprints are stored: they must never change.
func TestStable(t *testing.T) {
	t.Parallel()
	if got, want := RecordKey("idem:", "billing", "orders:7"), "idem:7:billingorders:7"; got != want {
		t.Errorf("RecordKey = %q, want %q", got, want)
	}
	if got, want := hex.EncodeToString([]byte(Fingerprint([]byte("orders.new"), []byte("A")))), "7913462a83b662789e8333f0afe9980394a865a028850d75b50e093014c7a300"; got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}

// The length framing keeps head and body apart, as the name's length
// keeps name and key apart.
func TestFramed(t *testing.T) {
	t.Parallel()
	if Fingerprint([]byte("ab"), []byte("c")) == Fingerprint([]byte("a"), []byte("bc")) {
		t.Error("Fingerprint(ab, c) == Fingerprint(a, bc)")
	}
	if RecordKey("p", "ab", "c") == RecordKey("p", "a", "bc") {
		t.Error("RecordKey(ab, c) == RecordKey(a, bc)")
	}
}
