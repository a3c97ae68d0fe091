package idempotency

import "encoding/json"

// Codec turns results into bytes for the store and back. Encodings must
// not be empty: an empty stored value means "completed without a value".
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec encodes with encoding/json. It is the default Codec.
type JSONCodec struct{}

// Marshal implements Codec.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// ResultMarshaler is implemented by result types that encode themselves
// into the bytes the store keeps, bypassing [Config.Codec]: a result that
// carries a large binary payload (an HTTP response's body) would grow by a
// third as base64 inside JSON. The result type alone decides how a record
// is read back: a type whose value implements ResultMarshaler must have a
// pointer that implements [ResultUnmarshaler]. The encoding must not be
// empty (an empty value means "completed without a value").
type ResultMarshaler interface {
	MarshalResult() ([]byte, error)
}

// ResultUnmarshaler decodes what [ResultMarshaler] encoded. Data comes
// from the store: treat it as untrusted and return an error, never panic,
// on bytes it did not write.
type ResultUnmarshaler interface {
	UnmarshalResult(data []byte) error
}
