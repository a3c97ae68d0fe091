package idemhttp

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/idempotency-go/idempotency"
)

// storedResponse is the outcome recorded for a request: what the handler
// answered. It encodes itself (MarshalResult, in record.go), whatever the
// guard's Codec: a body kept as bytes costs its length, where JSON would
// store it as base64, a third larger; header values that are not UTF-8
// (obs-text, such as a Latin-1 file name) keep their bytes.
type storedResponse struct {
	Status int
	// Header is the response's header, when it is not already encoded in
	// hdr (as recorded, or as read from the store).
	Header  http.Header
	Body    []byte
	Trailer http.Header
	// NotReplayable, when set, says why only this marker was recorded (the
	// body was too large, the connection was hijacked): duplicates get
	// ProblemNotReplayable and the handler does not run again.
	NotReplayable string

	// hdr is the header as a header block (appendHeader), when set;
	// it takes the place of Header.
	hdr string
	// body, when set, is the body as read from the store, in place of
	// Body: written with io.WriteString, without a copy of its own.
	body string
	// enc, when set, is the response already encoded (MarshalResult), as
	// the recorder built it.
	enc []byte
}

// SharedResult tells the guard that a replayed storedResponse is only
// read (writeTo copies what it hands on), so that one decoded value serves
// every duplicate of an outcome.
func (storedResponse) SharedResult() {}

func (s *storedResponse) bodyLen() int { return len(s.Body) + len(s.body) }

// headerBlock returns the header as a header block.
func (s *storedResponse) headerBlock() string {
	switch {
	case s.hdr != "":
		return s.hdr
	case len(s.Header) > 0:
		return string(appendHeader(nil, s.Header))
	}
	return "\x00" // no names
}

// errStoredInvalid marks a decoded record that cannot be a response.
var errStoredInvalid = fmt.Errorf("idempotency: idemhttp: stored response: %w", idempotency.ErrCorrupt)

// validate checks a decoded record before it is written to a client: it
// came from a store that anyone with access could have written.
func (s *storedResponse) validate() error {
	if s.Status < 100 || s.Status > 999 || (s.Status < 200 && s.NotReplayable == "") {
		return fmt.Errorf("%w: status %d", errStoredInvalid, s.Status)
	}
	d := decoder[string]{data: s.headerBlock()}
	for range d.count() {
		k := d.bytes()
		if err := validField(k); err != nil {
			return err
		}
		for range d.count() {
			if !validFieldValue(d.bytes()) {
				return fmt.Errorf("%w: value of header %q", errStoredInvalid, k)
			}
		}
	}
	for k, vs := range s.Trailer {
		if err := validField(k); err != nil {
			return err
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				return fmt.Errorf("%w: value of header %q", errStoredInvalid, k)
			}
		}
	}
	return nil
}

// validField checks a stored field name.
func validField(k string) error {
	if !validFieldName(k) || hopByHop[http.CanonicalHeaderKey(k)] {
		return fmt.Errorf("%w: header name %q", errStoredInvalid, k)
	}
	return nil
}

// size is what s counts against Config.MaxResponseBytes: its body and the
// names and values of its headers and trailers.
func (s *storedResponse) size() int64 {
	n := int64(s.bodyLen())
	if s.enc != nil {
		d := decoder[[]byte]{data: s.enc[1:]}
		d.uvarint() // status
		d.bytes()   // NotReplayable
		n += headerSize(&d)
	} else {
		d := decoder[string]{data: s.headerBlock()}
		n += headerSize(&d)
	}
	for k, vs := range s.Trailer {
		if len(vs) == 0 {
			n += int64(len(k))
		}
		for _, v := range vs {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

// headerSize reads a header block and returns the size of its names and
// values, as size counts them.
func headerSize[S string | []byte](d *decoder[S]) int64 {
	var n int64
	for range d.count() {
		k, m := d.bytes(), d.count()
		if m == 0 {
			n += int64(len(k)) // stored, though not sent
		}
		for range m {
			n += int64(len(k) + len(d.bytes()))
		}
	}
	return n
}

// writeTo replays s to w: its header block is decoded straight into w's
// header, the values in one array.
func (s *storedResponse) writeTo(w http.ResponseWriter) {
	h := w.Header()
	block := s.headerBlock()
	d := decoder[string]{data: block}
	_, values := d.skipHeader()
	vals := make([]string, values+2) // and the two set below
	d = decoder[string]{data: block}
	typed, announced := false, false
	for range d.count() {
		k, m := d.bytes(), d.count()
		switch k {
		case "Content-Type":
			typed = true
		case "Trailer":
			announced = m > 0
		}
		if m == 0 {
			h[k] = nil
			continue
		}
		for i := range m {
			vals[i] = d.bytes()
		}
		h[k], vals = vals[:m:m], vals[m:]
	}
	if !typed && len(h["Content-Type"]) == 0 {
		// The original went without a type of the handler's (sniffed
		// ones are stored, and one the handler removed is stored empty):
		// keep net/http from guessing one now. A type an outer
		// middleware set, as it did on the original, stays.
		h["Content-Type"] = nil
	}
	vals[0] = "true"
	h[HeaderReplayed] = vals[0:1:1]
	if len(s.Trailer) > 0 && !announced {
		// Trailers must be announced for net/http to send them, and the
		// announcement may have been left out (ReplayHeaders).
		h["Trailer"] = slices.Sorted(maps.Keys(s.Trailer))
	}
	if len(s.Trailer) == 0 && bodyAllowed(s.Status) && h.Get("Content-Length") == "" {
		vals[1] = strconv.Itoa(s.bodyLen())
		h["Content-Length"] = vals[1:2:2]
	}
	w.WriteHeader(s.Status)
	switch {
	case s.body != "":
		_, _ = io.WriteString(w, s.body)
	case len(s.Body) > 0:
		_, _ = w.Write(s.Body)
	}
	for k, vs := range s.Trailer {
		h[http.TrailerPrefix+k] = slices.Clone(vs) // s may be shared
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// hopByHop are the headers that describe one connection, never a response
// (RFC 9110, section 7.6.1), and so are never stored.
var hopByHop = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

// validFieldName reports an RFC 9110 token.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// validFieldValue reports a value without control characters other than
// HTAB, so that no stored value can split a header.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
