package idemhttp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// recordVersion starts every encoded storedResponse, so that a later
// format can be told apart.
const recordVersion = 'h'

// MarshalResult implements idempotency.ResultMarshaler: the response as
// length-prefixed fields, the body as it is.
func (s storedResponse) MarshalResult() ([]byte, error) {
	n := 16 + len(s.Body) + len(s.NotReplayable)
	for _, h := range []http.Header{s.Header, s.Trailer} {
		for k, vs := range h {
			n += 2*binary.MaxVarintLen32 + len(k)
			for _, v := range vs {
				n += binary.MaxVarintLen32 + len(v)
			}
		}
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(s.Status))
	b = appendBytes(b, []byte(s.NotReplayable))
	b = appendHeader(b, s.Header)
	b = appendBytes(b, s.Body)
	b = appendHeader(b, s.Trailer)
	return b, nil
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

func appendHeader(b []byte, h http.Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(h)))
	for k, vs := range h {
		b = appendBytes(b, []byte(k))
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendBytes(b, []byte(v))
		}
	}
	return b
}

// errRecordFormat marks bytes MarshalResult did not write.
var errRecordFormat = fmt.Errorf("%w: not a stored response of this version", errStoredInvalid)

// UnmarshalResult implements idempotency.ResultUnmarshaler. The bytes
// come from the store: every length is checked against what is left, and
// anything else is an error matching ErrCorrupt.
func (s *storedResponse) UnmarshalResult(data []byte) error {
	d := decoder{data: data}
	if len(data) == 0 || data[0] != recordVersion {
		return errRecordFormat
	}
	d.data = data[1:]
	status := d.uvarint()
	s.NotReplayable = string(d.bytes())
	s.Header = d.header()
	s.Body = d.bytes()
	s.Trailer = d.header()
	if d.err == nil && len(d.data) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err == nil && status > 999 {
		d.err = fmt.Errorf("status %d", status)
	}
	if d.err != nil {
		return fmt.Errorf("%w: %v", errRecordFormat, d.err)
	}
	s.Status = int(status)
	return nil
}

type decoder struct {
	data []byte
	err  error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data)
	if n <= 0 {
		d.err = errors.New("bad length")
		return 0
	}
	d.data = d.data[n:]
	return v
}

// count reads a number of items each taking at least two bytes.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.data)/2) {
		d.err = errors.New("count past the end")
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.data)) {
		d.err = errors.New("length past the end")
		return nil
	}
	p := d.data[:n:n]
	d.data = d.data[n:]
	if n == 0 {
		return nil
	}
	// A copy: the data may be the store's own buffer.
	return bytes.Clone(p)
}

func (d *decoder) header() http.Header {
	n := d.count()
	if d.err != nil || n == 0 {
		return nil
	}
	h := make(http.Header, min(n, 32)) // a hostile count must not size the map
	for range n {
		k := string(d.bytes())
		m := d.count()
		if d.err != nil {
			return nil
		}
		var vs []string // nil for a name stored without values
		for range m {
			vs = append(vs, string(d.bytes()))
		}
		if d.err != nil {
			return nil
		}
		h[k] = vs
	}
	return h
}
