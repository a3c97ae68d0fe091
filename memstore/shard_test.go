package memstore

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestExpiriesHeapOrder(t *testing.T) {
	t.Parallel()
	var h expiries
	base := time.Unix(0, 0)
	for range 1000 {
		h.push(expiryEntry{at: base.Add(time.Duration(rand.IntN(500)) * time.Second)})
	}
	prev := time.Time{}
	for len(h) > 0 {
		e := h.pop()
		if e.at.Before(prev) {
			t.Fatalf("popped %v after %v", e.at, prev)
		}
		prev = e.at
	}
}
