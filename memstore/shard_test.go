package memstore

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpiriesHeapOrder(t *testing.T) {
	t.Parallel()
	var h expiries
	for range 1000 {
		h.push(expiryEntry{at: rand.Int64N(500)})
		if rand.IntN(4) == 0 {
			// As expire does with an entry whose record lives on.
			h[0].at += rand.Int64N(300)
			h.down(0)
		}
	}
	prev := int64(math.MinInt64)
	for len(h) > 0 {
		e := h.pop()
		if e.at < prev {
			t.Fatalf("popped %d after %d", e.at, prev)
		}
		prev = e.at
	}
}
