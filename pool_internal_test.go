package idempotency

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

// TestPooledBuffersBounded: a buffer a large result (or key) grew past its
// pool's bound is dropped, not kept for every later call; one at the bound
// is kept. The pool may drop anything (a collection, the race detector's
// random drops), so a buffer put back is looked for over many tries.
func TestPooledBuffersBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pool  *sync.Pool
		bound int
		put   func(size int) any // makes a pooled value of size and releases it as the package does
	}{
		{"JSONBuffer", &jsonBuffers, maxPooledJSON, func(size int) any {
			b := &jsonBuffer{buf: *bytes.NewBuffer(make([]byte, 0, size))}
			b.enc = json.NewEncoder(&b.buf)
			putJSONBuffer(b)
			return b
		}},
		{"Hashing", &hashings, maxPooledBuf, func(size int) any {
			s := getHashing()
			s.e.buf = make([]byte, 0, size)
			s.release()
			return s
		}},
	} {
		for _, c := range []struct {
			name   string
			size   int
			pooled bool
		}{
			{"AtTheBound", tc.bound, true},
			{"PastTheBound", tc.bound + 1, false},
		} {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				found := false
				for range 50 {
					v := tc.put(c.size)
					got := tc.pool.Get()
					if got == v {
						found = true
						break
					}
					tc.pool.Put(got)
				}
				if found != c.pooled {
					t.Fatalf("a buffer of %d bytes came back from the pool: %v, want %v", c.size, found, c.pooled)
				}
			})
		}
	}
}
