package idempotency

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestLargeJSONBufferNotPooled: a buffer a large result grew past
// maxPooledJSON is dropped, not kept for every later call; one at the
// bound is kept. The pool may drop any buffer (a collection, the race
// detector's random drops), so a buffer put back is looked for over many
// tries.
func TestLargeJSONBufferNotPooled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		pooled bool
	}{
		{"AtTheBound", maxPooledJSON, true},
		{"PastTheBound", maxPooledJSON + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found := false
			for range 50 {
				b := &jsonBuffer{buf: *bytes.NewBuffer(make([]byte, 0, tc.size))}
				b.enc = json.NewEncoder(&b.buf)
				putJSONBuffer(b)
				got := jsonBuffers.Get()
				if got == any(b) {
					found = true
					break
				}
				jsonBuffers.Put(got)
			}
			if found != tc.pooled {
				t.Fatalf("a buffer of %d bytes came back from the pool: %v, want %v", tc.size, found, tc.pooled)
			}
		})
	}
}

// TestLargeHashingBufferNotPooled: the same bound for the encoders keys
// and fingerprints are hashed with.
func TestLargeHashingBufferNotPooled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		pooled bool
	}{
		{"AtTheBound", maxPooledBuf, true},
		{"PastTheBound", maxPooledBuf + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found := false
			for range 50 {
				s := getHashing()
				s.e.buf = make([]byte, 0, tc.size)
				s.release()
				got := hashings.Get()
				if got == any(s) {
					found = true
					break
				}
				hashings.Put(got)
			}
			if found != tc.pooled {
				t.Fatalf("an encoder of %d bytes came back from the pool: %v, want %v", tc.size, found, tc.pooled)
			}
		})
	}
}
