package idempotency

import (
	"bytes"
	"encoding/json"
	"sync"
)

// A first call encodes its result, hands the bytes to Store.Complete and
// is done with them: a store keeps its own copy (the conformance suite
// checks that the caller may reuse the slice). With the default codec the
// guard therefore encodes into a pooled buffer rather than paying for
// json.Marshal's fresh copy of its output. The bytes are the same: an
// Encoder writes what Marshal returns, and a newline, which is cut.
// A guard's local cache (Config.LocalCache) keeps its own copy too.

// jsonBuffer is a buffer with its Encoder, reused across calls.
type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonBuffers = sync.Pool{New: func() any {
	b := new(jsonBuffer)
	b.enc = json.NewEncoder(&b.buf)
	return b
}}

// maxPooledJSON is the largest buffer put back in the pool: one large
// result must not hold its memory for every later call.
const maxPooledJSON = 64 << 10

// marshal returns what json.Marshal(v) returns, in b's buffer: valid until
// b is used again or put back.
func (b *jsonBuffer) marshal(v any) ([]byte, error) {
	b.buf.Reset()
	if err := b.enc.Encode(v); err != nil {
		return nil, err
	}
	out := b.buf.Bytes()
	return out[:len(out)-1], nil
}

// getJSONBuffer returns a buffer for a call of g, or nil when g must
// encode into fresh bytes.
func (g *Guard) getJSONBuffer() *jsonBuffer {
	if !g.poolJSON {
		return nil
	}
	return jsonBuffers.Get().(*jsonBuffer)
}

func putJSONBuffer(b *jsonBuffer) {
	if b != nil && b.buf.Cap() <= maxPooledJSON {
		jsonBuffers.Put(b)
	}
}
