package idemtype_test

import (
	"testing"

	"github.com/idempotency-go/idempotency/idemtype"
)

// TestMemo: an empty Memo holds nothing; it gives back what was last
// stored, nil included.
func TestMemo(t *testing.T) {
	t.Parallel()
	var m idemtype.Memo
	if got := m.Load(); got != nil {
		t.Fatalf("empty Memo: %v, want nil", got)
	}
	m.Store("decoded")
	if got := m.Load(); got != "decoded" {
		t.Fatalf("after Store: %v, want decoded", got)
	}
	m.Store(nil)
	if got := m.Load(); got != nil {
		t.Fatalf("after Store(nil): %v, want nil", got)
	}
}
