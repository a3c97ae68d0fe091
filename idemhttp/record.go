package idemhttp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// recordVersion starts every encoded storedResponse, so that a later
// format can be told apart.
const recordVersion = 'h'

// MarshalResult implements idempotency.ResultMarshaler: the response as
// length-prefixed fields, the body as it is.
func (s storedResponse) MarshalResult() ([]byte, error) {
	if s.enc != nil {
		return s.enc, nil
	}
	hdr := s.headerBlock()
	n := 1 + 3*binary.MaxVarintLen64 + len(s.NotReplayable) + len(hdr) + s.bodyLen()
	for k, vs := range s.Trailer {
		n += 2*binary.MaxVarintLen32 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen32 + len(v)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(s.Status))
	b = appendBytes(b, s.NotReplayable)
	b = append(b, hdr...)
	if s.body != "" {
		b = appendBytes(b, s.body)
	} else {
		b = appendBytes(b, s.Body)
	}
	b = appendHeader(b, s.Trailer)
	return b, nil
}

func appendBytes[S string | []byte](b []byte, p S) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// appendHeader appends h as a header block: the number of names, then
// each field (appendField).
func appendHeader(b []byte, h http.Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(h)))
	for k, vs := range h {
		b = appendField(b, k, vs)
	}
	return b
}

// appendField appends a name and the number of its values, then the
// values, each length-prefixed.
func appendField(b []byte, name string, values []string) []byte {
	b = appendBytes(b, name)
	b = binary.AppendUvarint(b, uint64(len(values)))
	for _, v := range values {
		b = appendBytes(b, v)
	}
	return b
}

// headerBlock returns n encoded fields as a header block.
func headerBlock(n int, fields []byte) string {
	if n == 0 {
		return ""
	}
	var c [binary.MaxVarintLen64]byte
	var b strings.Builder
	b.Grow(len(c) + len(fields))
	b.Write(binary.AppendUvarint(c[:0], uint64(n)))
	b.Write(fields)
	return b.String()
}

// errRecordFormat marks bytes MarshalResult did not write.
var errRecordFormat = fmt.Errorf("%w: not a stored response of this version", errStoredInvalid)

// UnmarshalResult implements idempotency.ResultUnmarshaler. The bytes
// come from the store: every length is checked against what is left, the
// status, header names and values are checked as a replay would write
// them (validate), and anything else is an error matching ErrCorrupt.
//
// The header stays encoded, and the replay decodes it straight into the
// writer; it and the body are substrings of one copy of the data, which
// may be the store's own buffer: nothing refers to it.
func (s *storedResponse) UnmarshalResult(data []byte) error {
	if len(data) == 0 || data[0] != recordVersion {
		return errRecordFormat
	}
	d := decoder[[]byte]{data: data[1:]}
	status := d.uvarint()
	notReplayable := d.bytes()
	rest := d.data
	hn, _ := d.skipHeader()
	hdrLen := len(rest) - len(d.data)
	body := d.bytes()
	tail := d.data
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
	*s = storedResponse{Status: int(status), NotReplayable: string(notReplayable)}
	if hn > 0 || len(body) > 0 {
		raw := string(rest[:len(rest)-len(tail)]) // the header block and the body
		if hn > 0 {
			s.hdr = raw[:hdrLen]
		}
		s.body = raw[len(raw)-len(body):]
	}
	if tn > 0 {
		t := decoder[string]{data: string(tail)}
		s.Trailer = t.header(tn, tv)
	}
	if s.NotReplayable != "" {
		return nil // answered with a problem, never written as it is
	}
	// Checked once here rather than at every replay: the decoded
	// response is shared by the duplicates that follow (SharedResult).
	return s.validate()
}

// decoder reads an encoded storedResponse: from the store's bytes, or
// from a header block.
type decoder[S string | []byte] struct {
	data S // what is left to read
	err  error
}

// uvarint reads what binary.AppendUvarint wrote.
func (d *decoder[S]) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	for i, shift := 0, uint(0); i < len(d.data) && i < binary.MaxVarintLen64; i, shift = i+1, shift+7 {
		c := d.data[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflow
			}
			d.data = d.data[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
	}
	d.err = errors.New("bad length")
	return 0
}

// count reads a number of items each taking at least two bytes.
func (d *decoder[S]) count() int {
	n := d.uvarint()
	if n > uint64(len(d.data)/2) {
		d.err = errors.New("count past the end")
		return 0
	}
	return int(n)
}

// bytes reads a length-prefixed field: a part of the data, not a copy.
func (d *decoder[S]) bytes() S {
	n := d.uvarint()
	if d.err != nil {
		return d.data[:0]
	}
	if n > uint64(len(d.data)) {
		d.err = errors.New("length past the end")
		return d.data[:0]
	}
	p := d.data[:n]
	d.data = d.data[n:]
	return p
}

// skipHeader checks a header block and returns its number of names and
// of values.
func (d *decoder[S]) skipHeader() (names, values int) {
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

// header reads a header block that skipHeader checked and counted:
// names and values are substrings, their slices parts of one array.
func (d *decoder[S]) header(names, values int) http.Header {
	d.count()
	if names == 0 {
		return nil
	}
	h := make(http.Header, names)
	vs := make([]string, values)
	for range names {
		k := string(d.bytes())
		m := d.count()
		if m == 0 {
			h[k] = nil // a name stored without values
			continue
		}
		for i := range m {
			vs[i] = string(d.bytes())
		}
		h[k], vs = vs[:m:m], vs[m:]
	}
	return h
}
