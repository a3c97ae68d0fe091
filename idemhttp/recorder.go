package idemhttp

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// sniffLen is how much of a body net/http looks at to guess its type.
const sniffLen = 512

// recorder passes the handler's response to the client as it is written
// and keeps a copy, up to a limit, for the record.
type recorder struct {
	w      http.ResponseWriter
	before http.Header // headers set before the handler ran: not its own
	h      *handler

	wroteHeader bool
	status      int
	header      http.Header // the handler's headers when the status was written
	body        bytes.Buffer
	tooLarge    bool
	flushed     bool
	sniff       []byte // body written before the first flush
	hijacked    bool
	writeFailed bool        // a write or flush to the client failed
	discarded   atomic.Bool // Discard was called
}

func newRecorder(w http.ResponseWriter, h *handler) *recorder {
	return &recorder{w: w, before: w.Header().Clone(), h: h}
}

// Header returns the real header map: the handler's changes reach the
// client exactly as without the middleware.
func (r *recorder) Header() http.Header { return r.w.Header() }

// WriteHeader writes the status and remembers the headers as they are now,
// which is what net/http sends.
func (r *recorder) WriteHeader(code int) {
	r.w.WriteHeader(code) // first: it panics on an invalid code
	if r.wroteHeader || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		return // superfluous, or informational (103 Early Hints): not the response
	}
	r.wroteHeader, r.status, r.header = true, code, r.w.Header().Clone()
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.w.Write(p)
	if err != nil {
		r.writeFailed = true
	}
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

// WriteString lets io.WriteString skip a copy, as on the server's writer.
func (r *recorder) WriteString(s string) (int, error) { return r.Write([]byte(s)) }

// FlushError flushes the real writer. http.ResponseController calls it
// before it looks at Unwrap.
func (r *recorder) FlushError() error {
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
// the response can no longer be recorded.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.w).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return c, rw, err
}

// Unwrap returns the real writer, for http.ResponseController (deadlines,
// full duplex).
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

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
	cur := r.w.Header()
	if !r.wroteHeader {
		// net/http writes 200 with the headers as they are when the
		// handler returns.
		r.status, r.header = http.StatusOK, cur.Clone()
	}
	s := storedResponse{Status: r.status}
	declared := map[string]bool{}
	for _, v := range r.header["Trailer"] {
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
		if omit[k] || !r.h.replayable(k) || declared[k] || strings.HasPrefix(k, http.TrailerPrefix) || slices.Equal(r.before[k], vs) && r.before[k] != nil {
			continue
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
	return s
}

// hopByHopOf returns the hop-by-hop headers of h: the fixed ones and those
// its Connection header names.
func hopByHopOf(h http.Header) map[string]bool {
	m := make(map[string]bool, len(hopByHop)+2)
	for k := range hopByHop {
		m[k] = true
	}
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				m[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	return m
}
