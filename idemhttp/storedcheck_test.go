package idemhttp

import (
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// A stored response is checked on each side of every bound before it is
// written to a client: status 100..999, under 200 only as a marker that
// the response cannot be replayed, no control character but HTAB in a
// header value, no bytes after the last field.
func TestStoredRecordBounds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		s    storedResponse
		ok   bool
	}{
		{"Status99", storedResponse{Status: 99, NotReplayable: "x"}, false},
		{"Status100Marker", storedResponse{Status: 100, NotReplayable: "x"}, true},
		{"Status199Marker", storedResponse{Status: 199, NotReplayable: "x"}, true},
		{"Status199", storedResponse{Status: 199}, false},
		{"Status200", storedResponse{Status: 200}, true},
		{"Status999", storedResponse{Status: 999}, true},
		{"Status1000", storedResponse{Status: 1000}, false},
		{"ValueTab", storedResponse{Status: 200, Header: http.Header{"X-A": {"a\tb c"}}}, true},
		{"ValueCRLF", storedResponse{Status: 200, Header: http.Header{"X-A": {"a\r\nSet-Cookie: x"}}}, false},
		{"ValueUnitSeparator", storedResponse{Status: 200, Header: http.Header{"X-A": {"a\x1f"}}}, false},
		{"ValueDEL", storedResponse{Status: 200, Trailer: http.Header{"X-A": {"a\x7f"}}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.s.validate(); (err == nil) != c.ok || (err != nil && !errors.Is(err, idempotency.ErrCorrupt)) {
				t.Fatalf("validate = %v, want ok=%v (else ErrCorrupt)", err, c.ok)
			}
		})
	}

	record := func(status uint64, extra ...byte) []byte {
		b := binary.AppendUvarint([]byte{recordVersion}, status)
		b = append(b, 0, 0, 0, 0) // no marker, no header, no body, no trailer
		return append(b, extra...)
	}
	// statusAs is a record whose status is encoded as the bytes given.
	statusAs := func(status ...byte) []byte {
		return append(append([]byte{recordVersion}, status...), 0, 0, 0, 0)
	}
	for _, c := range []struct {
		name string
		data []byte
		ok   bool
		msg  string // what the error says, if it matters
	}{
		{"Status999", record(999), true, ""},
		{"Status1000", record(1000), false, "status 1000"},
		{"TrailingByte", record(200, 0), false, "trailing bytes"},
		{"VersionOnly", []byte{recordVersion}, false, "bad length"},
		{"TruncatedStatus", []byte{recordVersion, 0x80}, false, "bad length"},
		// A varint takes ten bytes at most, and the tenth holds one bit.
		{"StatusTenBytes", statusAs(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), false, "status 9223372036854775808"},
		{"StatusTenBytesOverflow", statusAs(0xc8, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), false, "bad length"},
		{"StatusElevenBytes", statusAs(0xc8, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), false, "bad length"},
		// Three headers announced, two bytes left: each takes two or more,
		// so the count is refused before any is read or allocated for.
		{"CountPastTheEnd", []byte{recordVersion, 200, 1, 0, 3, 0, 0}, false, "count past the end"},
	} {
		t.Run("Decode"+c.name, func(t *testing.T) {
			t.Parallel()
			var s storedResponse
			err := s.UnmarshalResult(c.data)
			if (err == nil) != c.ok || (err != nil && !errors.Is(err, idempotency.ErrCorrupt)) {
				t.Fatalf("UnmarshalResult(%x) = %v, want ok=%v (else ErrCorrupt)", c.data, err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("UnmarshalResult(%x) = %v, want it to say %q", c.data, err, c.msg)
			}
		})
	}
}

// Responses of many short headers, of one long value or name, and no body,
// encode and decode whole (the encoder sizes its buffer from them).
func TestStoredRecordHeadersRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		h    http.Header
	}{
		{"ManyShort", http.Header{"X-A": {"a"}, "X-B": {"b"}, "X-C": {"c"}, "X-D": {"d"}}},
		{"OneLong", http.Header{"X-Long": {strings.Repeat("v", 300)}}},
		{"LongName", http.Header{"X-" + strings.Repeat("N", 300): {"v"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := storedResponse{Status: 204, Header: c.h, Trailer: c.h}
			roundTrip(t, s, c.h, c.h)
		})
		// Trailers alone, with nothing else to pad the encoder's guess.
		t.Run("TrailerOnly"+c.name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, storedResponse{Status: 204, Trailer: c.h}, nil, c.h)
		})
	}
}

// roundTrip encodes s and decodes it, and checks the header and trailer
// read back.
func roundTrip(t *testing.T, s storedResponse, header, trailer http.Header) {
	t.Helper()
	b, err := s.MarshalResult()
	if err != nil {
		t.Fatal(err)
	}
	var back storedResponse
	if err := back.UnmarshalResult(b); err != nil || back.Status != s.Status {
		t.Fatalf("read back %+v, %v", back, err)
	}
	for _, c := range []struct {
		name      string
		got, want http.Header
	}{{"header", storedHeader(&back), header}, {"trailer", back.Trailer, trailer}} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s read back %q, want %q", c.name, c.got, c.want)
		}
		for k, vs := range c.want {
			if got := c.got[k]; len(got) != 1 || got[0] != vs[0] {
				t.Fatalf("%s %s = %q, want %q", c.name, k, got, vs)
			}
		}
	}
}

// storedHeader is the header of a decoded record, which keeps it encoded.
func storedHeader(s *storedResponse) http.Header {
	if s.hdr == "" {
		return s.Header
	}
	check := decoder[string]{data: s.hdr}
	names, values := check.skipHeader()
	d := decoder[string]{data: s.hdr}
	return d.header(names, values)
}
