package idemhttp

import (
	"fmt"
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
	Status  int
	Header  http.Header
	Body    []byte
	Trailer http.Header
	// NotReplayable, when set, says why only this marker was recorded (the
	// body was too large, the connection was hijacked): duplicates get
	// ProblemNotReplayable and the handler does not run again.
	NotReplayable string
}

// errStoredInvalid marks a decoded record that cannot be a response.
var errStoredInvalid = fmt.Errorf("idempotency: idemhttp: stored response: %w", idempotency.ErrCorrupt)

// validate checks a decoded record before it is written to a client: it
// came from a store that anyone with access could have written.
func (s *storedResponse) validate() error {
	if s.Status < 100 || s.Status > 999 || (s.Status < 200 && s.NotReplayable == "") {
		return fmt.Errorf("%w: status %d", errStoredInvalid, s.Status)
	}
	for _, h := range []http.Header{s.Header, s.Trailer} {
		for k, vs := range h {
			if !validFieldName(k) || hopByHop[http.CanonicalHeaderKey(k)] {
				return fmt.Errorf("%w: header name %q", errStoredInvalid, k)
			}
			for _, v := range vs {
				if !validFieldValue(v) {
					return fmt.Errorf("%w: value of header %q", errStoredInvalid, k)
				}
			}
		}
	}
	return nil
}

// size is what s counts against Config.MaxResponseBytes: its body and the
// names and values of its headers and trailers.
func (s *storedResponse) size() int64 {
	n := int64(len(s.Body))
	for _, h := range []http.Header{s.Header, s.Trailer} {
		for k, vs := range h {
			if len(vs) == 0 {
				n += int64(len(k)) // stored, though not sent
			}
			for _, v := range vs {
				n += int64(len(k) + len(v))
			}
		}
	}
	return n
}

// writeTo replays s to w. The header values of s become w's: s was
// decoded for this response alone.
func (s *storedResponse) writeTo(w http.ResponseWriter) {
	h := w.Header()
	maps.Copy(h, s.Header)
	if _, ok := s.Header["Content-Type"]; !ok && len(h["Content-Type"]) == 0 {
		// The original went without a type of the handler's (sniffed
		// ones are stored, and one the handler removed is stored empty):
		// keep net/http from guessing one now. A type an outer
		// middleware set, as it did on the original, stays.
		h["Content-Type"] = nil
	}
	added := make([]string, 2) // the values set here, in one array
	added[0] = "true"
	h[HeaderReplayed] = added[0:1:1]
	if len(s.Trailer) > 0 && len(s.Header["Trailer"]) == 0 {
		// Trailers must be announced for net/http to send them, and the
		// announcement may have been left out (ReplayHeaders).
		h["Trailer"] = slices.Sorted(maps.Keys(s.Trailer))
	}
	if len(s.Trailer) == 0 && bodyAllowed(s.Status) && h.Get("Content-Length") == "" {
		added[1] = strconv.Itoa(len(s.Body))
		h["Content-Length"] = added[1:2:2]
	}
	w.WriteHeader(s.Status)
	if len(s.Body) > 0 {
		_, _ = w.Write(s.Body)
	}
	for k, vs := range s.Trailer {
		h[http.TrailerPrefix+k] = vs
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
