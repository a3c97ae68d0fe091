package idemhttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// sniffLen is how much of a body net/http looks at to guess its type.
const sniffLen = 512

// recorder passes the handler's response to the client as it is written
// and keeps a copy, up to a limit, for the record. Under Config.Join it
// holds the response instead (held), for deliver to send once the
// transaction committed or rolled back.
type recorder struct {
	w      http.ResponseWriter
	before http.Header // headers set before the handler ran: not its own
	h      *handler
	held   http.Header // under Config.Join, the handler's header map; nil: streaming

	wroteHeader bool
	status      int
	header      http.Header // the handler's headers when the status was written
	body        bytes.Buffer
	written     int64 // body bytes the handler wrote, kept or not
	tooLarge    bool
	flushed     bool
	sniff       []byte // body written before the first flush
	hijacked    bool
	writeFailed bool        // a write or flush to the client failed
	discarded   atomic.Bool // Discard was called
	policyPanic any         // Config.Keep panicked with this, once the response was settled as kept
}

// ErrResponseTooLarge is what a handler's Write returns under Config.Join
// once its body is larger than Config.MaxResponseBytes: such a response
// cannot be held until its transaction commits, so the transaction is
// rolled back and the client gets 500 (ProblemResponseTooLarge).
var ErrResponseTooLarge = errors.New("idempotency: idemhttp: the response is larger than Config.MaxResponseBytes and cannot be held until its transaction commits")

// errHeld refuses what a held response cannot do.
var errHeld = fmt.Errorf("idempotency: idemhttp: the response is held until its transaction commits (Config.Join): %w", http.ErrNotSupported)

func newRecorder(w http.ResponseWriter, h *handler) *recorder {
	r := &recorder{w: w, before: w.Header().Clone(), h: h}
	if h.cfg.Join != nil {
		r.held = w.Header().Clone()
	}
	return r
}

// Header returns the real header map, so that the handler's changes reach
// the client exactly as without the middleware; or the held one.
func (r *recorder) Header() http.Header {
	if r.held != nil {
		return r.held
	}
	return r.w.Header()
}

// WriteHeader writes the status and remembers the headers as they are now,
// which is what net/http sends.
func (r *recorder) WriteHeader(code int) {
	if r.held == nil {
		r.w.WriteHeader(code) // first: it panics on an invalid code
	} else if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	if r.wroteHeader || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		return // superfluous, or informational (103 Early Hints): not the response
	}
	r.wroteHeader, r.status, r.header = true, code, r.Header().Clone()
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	if r.held != nil {
		return r.hold(p)
	}
	n, err := r.w.Write(p)
	if errors.Is(err, http.ErrBodyNotAllowed) {
		// A body the status has none for (204, 304): net/http drops it
		// and the client gets a whole response; so does the record.
		return n, err
	}
	if err != nil {
		r.writeFailed = true
	}
	r.written += int64(len(p))
	if !r.tooLarge {
		if int64(r.body.Len())+int64(len(p)) > r.h.cfg.MaxResponseBytes {
			r.tooLarge = true
			r.body = bytes.Buffer{}
		} else {
			r.body.Write(p)
		}
	}
	if !r.flushed && len(r.sniff) < sniffLen {
		r.sniff = append(r.sniff, p[:min(len(p), sniffLen-len(r.sniff))]...)
	}
	return n, err
}

// hold keeps p for deliver, up to Config.MaxResponseBytes.
func (r *recorder) hold(p []byte) (int, error) {
	if !bodyAllowed(r.status) {
		return 0, http.ErrBodyNotAllowed // as net/http answers
	}
	r.written += int64(len(p))
	if !r.tooLarge && int64(r.body.Len())+int64(len(p)) > r.h.cfg.MaxResponseBytes {
		r.tooLarge = true
		r.body = bytes.Buffer{}
	}
	if r.tooLarge {
		return 0, ErrResponseTooLarge
	}
	r.body.Write(p)
	if len(r.sniff) < sniffLen {
		r.sniff = append(r.sniff, p[:min(len(p), sniffLen-len(r.sniff))]...)
	}
	return len(p), nil
}

// deliver sends a held response to the client as net/http would have
// sent it: the status with the headers as they were when it was written,
// the body, then trailers from the headers as they are now. A handler that
// wrote nothing gets 200 with its headers as they are now.
func (r *recorder) deliver() {
	h := r.w.Header()
	if r.wroteHeader {
		clear(h)
		maps.Copy(h, r.header)
		r.w.WriteHeader(r.status)
		if r.body.Len() > 0 {
			_, _ = r.w.Write(r.body.Bytes())
		}
	}
	clear(h)
	maps.Copy(h, r.held)
}

// WriteString lets io.WriteString skip a copy, as on the server's writer.
func (r *recorder) WriteString(s string) (int, error) { return r.Write([]byte(s)) }

// FlushError flushes the real writer. http.ResponseController calls it
// before it looks at Unwrap. A held response cannot be flushed.
func (r *recorder) FlushError() error {
	if r.held != nil {
		return errHeld
	}
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	r.flushed = true
	err := http.NewResponseController(r.w).Flush()
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		r.writeFailed = true
	}
	return err
}

// Flush implements http.Flusher.
func (r *recorder) Flush() { _ = r.FlushError() }

// Hijack implements http.Hijacker through the real writer, and notes that
// the response can no longer be recorded. A held response refuses it.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if r.held != nil {
		return nil, nil, errHeld
	}
	c, rw, err := http.NewResponseController(r.w).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return c, rw, err
}

// Unwrap returns the real writer, for http.ResponseController (deadlines,
// full duplex).
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

// lengthDiffers reports a body that is not as long as the Content-Length
// the handler declared: the client got a truncated (or cut off) response.
// A HEAD response, or one whose status has no body, may declare a length
// it does not write; net/http drops a value that is not a length.
func (r *recorder) lengthDiffers(req *http.Request) bool {
	h, status := r.header, r.status
	if !r.wroteHeader {
		h, status = r.Header(), http.StatusOK // as net/http sends it
	}
	if req.Method == http.MethodHead || !bodyAllowed(status) {
		return false
	}
	cl := h.Get("Content-Length")
	if cl == "" {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
	return err == nil && n != r.written
}

// finalStatus is the status of the response, once the handler returned:
// net/http writes 200 for a handler that wrote nothing.
func (r *recorder) finalStatus() int {
	if !r.wroteHeader {
		return http.StatusOK
	}
	return r.status
}

// result is the response to record, once the handler returned and settle
// found it replayable.
func (r *recorder) result() storedResponse {
	cur := r.Header()
	if !r.wroteHeader {
		// net/http writes 200 with the headers as they are when the
		// handler returns.
		r.status, r.header = http.StatusOK, cur.Clone()
	}
	s := storedResponse{Status: r.status}
	declared := map[string]bool{}
	for _, v := range r.header["Trailer"] { // as net/http reads it
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				declared[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	omit := hopByHopOf(r.header)
	for _, k := range r.h.omit {
		omit[k] = true
	}
	for k, vs := range r.header {
		// A handler may set names in any case in the map, and net/http
		// sends them so: the rules go by the canonical name.
		ck := http.CanonicalHeaderKey(k)
		if omit[ck] || !r.h.replayable(ck) || declared[ck] || strings.HasPrefix(k, http.TrailerPrefix) || slices.Equal(r.before[k], vs) && r.before[k] != nil {
			continue
		}
		if len(vs) == 0 && k != "Content-Type" {
			continue // not sent; a removed Content-Type is kept, so that none is sniffed on replay
		}
		if s.Header == nil {
			s.Header = make(http.Header, len(r.header))
		}
		s.Header[k] = vs
	}
	if _, ok := r.header["Content-Type"]; !ok && r.header.Get("Transfer-Encoding") == "" && r.header.Get("Content-Encoding") == "" && bodyAllowed(r.status) && len(r.sniff) > 0 {
		// What net/http sent: a type sniffed from the first bytes.
		if s.Header == nil {
			s.Header = make(http.Header)
		}
		s.Header.Set("Content-Type", http.DetectContentType(r.sniff))
	}
	if r.body.Len() > 0 {
		s.Body = r.body.Bytes()
	}
	s.Header = asSent(s.Header)

	for k, vs := range cur {
		name, prefixed := strings.CutPrefix(k, http.TrailerPrefix)
		if !prefixed && !declared[k] {
			continue
		}
		name = http.CanonicalHeaderKey(name)
		if omit[name] || !r.h.replayable(name) || len(vs) == 0 {
			continue
		}
		if s.Trailer == nil {
			s.Trailer = make(http.Header)
		}
		s.Trailer[name] = append(s.Trailer[name], vs...)
	}
	s.Trailer = asSent(s.Trailer)
	return s
}

// newlineToSpace is what net/http does to line breaks in field values.
var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// asSent rewrites h as net/http sends it: without fields whose name is not
// a token, with line breaks in values turned to spaces and values trimmed.
// A value with another control character, which HTTP/2 does not send, is
// left out. So the record holds the response the client got, and nothing
// the check of stored responses (validate) would refuse for every retry.
func asSent(h http.Header) http.Header {
	for k, vs := range h {
		if !validFieldName(k) {
			delete(h, k)
			continue
		}
		out := vs[:0:0]
		for _, v := range vs {
			if v = textproto.TrimString(newlineToSpace.Replace(v)); validFieldValue(v) {
				out = append(out, v)
			}
		}
		if len(out) == 0 && len(vs) > 0 {
			delete(h, k)
			continue
		}
		h[k] = out
	}
	return h
}

// hopByHopOf returns the hop-by-hop headers of h: the fixed ones and those
// its Connection header names.
func hopByHopOf(h http.Header) map[string]bool {
	m := make(map[string]bool, len(hopByHop)+2)
	for k := range hopByHop {
		m[k] = true
	}
	for _, v := range headerValues(h, "Connection") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				m[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	return m
}

// headerValues returns the values of h under every spelling of the
// canonical name k: a peer reads them all.
func headerValues(h http.Header, k string) []string {
	vs := h[k]
	for name, v := range h {
		if name != k && http.CanonicalHeaderKey(name) == k {
			vs = append(vs[:len(vs):len(vs)], v...)
		}
	}
	return vs
}
