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
//
// A first pass checks the record and counts its fields without copying;
// then the names and values become substrings of one copy of the bytes
// around the body, their slices parts of one array, and the body a copy of
// its own. The data may be the store's own buffer: nothing refers to it.
func (s *storedResponse) UnmarshalResult(data []byte) error {
	if len(data) == 0 || data[0] != recordVersion {
		return errRecordFormat
	}
	d := decoder{data: data[1:]}
	status := d.uvarint()
	d.bytes() // NotReplayable
	hn, hv := d.skipHeader()
	body := d.bytes()
	bodyEnd := len(data) - len(d.data)
	tn, tv := d.skipHeader()
	if d.err == nil && len(d.data) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err == nil && status > 999 {
		d.err = fmt.Errorf("status %d", status)
	}
	if d.err != nil {
		return fmt.Errorf("%w: %v", errRecordFormat, d.err)
	}

	head := data[:bodyEnd-len(body)]
	d = decoder{data: head[1:], str: string(head)}
	d.uvarint()
	s.NotReplayable = d.text()
	s.Header = d.header(hn, hv)
	s.Body = nil
	if len(body) > 0 {
		s.Body = bytes.Clone(body)
	}
	s.Trailer = nil
	if tn > 0 {
		tail := data[bodyEnd:]
		d = decoder{data: tail, str: string(tail)}
		s.Trailer = d.header(tn, tv)
	}
	s.Status = int(status)
	return nil
}

// decoder reads an encoded storedResponse.
type decoder struct {
	data []byte // what is left to read
	str  string // all the bytes read, as a string: text is a substring
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

// bytes reads a length-prefixed field: a part of the data, not a copy.
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
	return p
}

// text reads a length-prefixed field as a substring of d.str.
func (d *decoder) text() string {
	p := d.bytes()
	at := len(d.str) - len(d.data) - len(p)
	return d.str[at : at+len(p)]
}

// skipHeader checks a header and returns its number of names and values.
func (d *decoder) skipHeader() (names, values int) {
	names = d.count()
	for range names {
		d.bytes()
		m := d.count()
		for range m {
			d.bytes()
		}
		values += m
		if d.err != nil {
			return 0, 0
		}
	}
	return names, values
}

// header reads a header that skipHeader checked and counted.
func (d *decoder) header(names, values int) http.Header {
	d.count()
	if names == 0 {
		return nil
	}
	h := make(http.Header, names)
	vs := make([]string, values)
	for range names {
		k := d.text()
		m := d.count()
		if m == 0 {
			h[k] = nil // a name stored without values
			continue
		}
		for i := range m {
			vs[i] = d.text()
		}
		h[k], vs = vs[:m:m], vs[m:]
	}
	return h
}
