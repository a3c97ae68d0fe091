package idemhttp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
	w       http.ResponseWriter
	before  http.Header // headers set before the handler ran: not its own
	h       *handler
	ctx     callCtx  // the handler's context
	reqBody readBack // the handler's request body
	// Under Config.Join: the handler's header map, and a copy of it as it
	// was when the status was written; nil: streaming.
	held, heldSent http.Header

	wroteHeader bool
	status      int
	sent        sentHeader // what the handler's headers were when the status was written
	// buf holds the body kept for the record from bodyAt on. When the
	// record is built here (prebuilt), the encoded response's head and
	// room for the body's length come first.
	buf         []byte
	bodyAt      int
	prebuilt    bool
	written     int64 // body bytes the handler wrote, kept or not
	tooLarge    bool
	flushed     bool
	sniffed     int // bytes of body written before the first flush, up to sniffLen
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

func newRecorder(ctx context.Context, w http.ResponseWriter, h *handler) *recorder {
	r := &recorder{w: w, h: h}
	if hd := w.Header(); len(hd) > 0 {
		r.before = hd.Clone()
	}
	if h.cfg.Join != nil {
		r.held = w.Header().Clone()
	}
	r.ctx = callCtx{Context: ctx, rec: r}
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
	r.wroteHeader, r.status = true, code
	r.sent = r.snapshot(r.Header(), code)
	if r.held != nil {
		r.heldSent = r.held.Clone()
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	if r.held != nil {
		return hold(r, p)
	}
	n, err := r.w.Write(p)
	return wrote(r, p, n, err)
}

// WriteString lets io.WriteString skip a copy, as on the server's writer.
func (r *recorder) WriteString(s string) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	if r.held != nil {
		return hold(r, s)
	}
	n, err := io.WriteString(r.w, s)
	return wrote(r, s, n, err)
}

// hold keeps p for deliver, up to Config.MaxResponseBytes.
func hold[S string | []byte](r *recorder, p S) (int, error) {
	if !bodyAllowed(r.status) {
		return 0, http.ErrBodyNotAllowed // as net/http answers
	}
	if _, err := wrote(r, p, len(p), nil); err != nil {
		return 0, err
	}
	if r.tooLarge {
		return 0, ErrResponseTooLarge
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
		maps.Copy(h, r.heldSent)
		r.w.WriteHeader(r.status)
		if body := r.buf[r.bodyAt:]; len(body) > 0 {
			_, _ = r.w.Write(body)
		}
	}
	clear(h)
	maps.Copy(h, r.held)
}

// wrote keeps what the handler wrote, once the real writer took it.
func wrote[S string | []byte](r *recorder, p S, n int, err error) (int, error) {
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
		if int64(len(r.buf)-r.bodyAt)+int64(len(p)) > r.h.cfg.MaxResponseBytes {
			r.tooLarge, r.buf, r.bodyAt, r.prebuilt = true, nil, 0, false
		} else {
			r.buf = append(r.buf, p...)
		}
	}
	if !r.flushed {
		r.sniffed = min(sniffLen, r.sniffed+len(p))
	}
	return n, err
}

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
	cl, status := r.sent.contentLength, r.status
	if !r.wroteHeader {
		cl, status = r.Header().Get("Content-Length"), http.StatusOK // as net/http sends it
	}
	if req.Method == http.MethodHead || !bodyAllowed(status) {
		return false
	}
	n, ok := declaredLength(cl)
	return ok && n != r.written
}

// declaredLength reads a Content-Length as net/http's server does: a value
// that is not a length (negative, spaced) it logs and does not frame the
// body by, so the response goes as if none were declared.
func declaredLength(v string) (int64, bool) {
	if v == "" {
		return 0, false // none declared, the common case: no error to make
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// finalStatus is the status of the response, once the handler returned:
// net/http writes 200 for a handler that wrote nothing.
func (r *recorder) finalStatus() int {
	if !r.wroteHeader {
		return http.StatusOK
	}
	return r.status
}

// sentHeader is what the recorder keeps of the handler's headers as they
// were when the status was written, which is when net/http sends them: the
// ones to record, and what the rules of the record read.
type sentHeader struct {
	kept          string          // to record, as sent (asSent), as a header block; "": none
	declared      map[string]bool // trailers the Trailer header declared; nil: none
	connection    map[string]bool // names the Connection header lists; nil: none
	contentLength string          // a length net/http sends (declaredLength); "": none
	trailing      bool            // a name under http.TrailerPrefix
	typed         bool            // a Content-Type field, even without values
	encoded       bool            // a Transfer-Encoding or Content-Encoding
}

// snapshot reads the handler's headers hd, sent with status. The headers
// to record are encoded at once into a header block: the handler may
// change hd once the status is written, and net/http sends nothing of that.
// Unless a type may be sniffed from the body (which would add a header),
// the block goes straight into the record, built in buf, where the body
// follows (finish).
func (r *recorder) snapshot(hd http.Header, status int) sentHeader {
	sh := sentHeader{
		// Get by the canonical names, without canonicalizing them again.
		contentLength: first(hd["Content-Length"]),
		encoded:       first(hd["Transfer-Encoding"]) != "" || first(hd["Content-Encoding"]) != "",
		declared:      namesIn(hd["Trailer"]), // as net/http reads it
		connection:    namesIn(headerValues(hd, "Connection")),
	}
	if _, ok := declaredLength(sh.contentLength); !ok {
		sh.contentLength = "" // not a length to net/http (a held response's map still has it)
	}
	_, sh.typed = hd["Content-Type"]
	for k := range hd {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			sh.trailing = true
			break
		}
	}
	var buf [512]byte
	fields, n := buf[:0], 0
	for k, vs := range hd {
		// A handler may set names in any case in the map, and net/http
		// sends them so: the rules go by the canonical name.
		ck := http.CanonicalHeaderKey(k)
		if !r.recordable(ck, &sh) || sh.declared[ck] || strings.HasPrefix(k, http.TrailerPrefix) || r.before[k] != nil && slices.Equal(r.before[k], vs) {
			continue
		}
		if len(vs) == 0 && k != "Content-Type" || k == "Content-Length" && sh.contentLength == "" {
			continue // not sent, or not a length; a removed Content-Type is kept, so that none is sniffed on replay
		}
		m := 0
		for _, v := range vs {
			if _, ok := sentValue(v); ok {
				m++
			}
		}
		if !validFieldName(k) || m == 0 && len(vs) > 0 {
			continue // not sent
		}
		fields = appendBytes(fields, k)
		fields = binary.AppendUvarint(fields, uint64(m))
		for _, v := range vs {
			if v, ok := sentValue(v); ok {
				fields = appendBytes(fields, v)
			}
		}
		n++
	}
	if !sh.typed && !sh.encoded && bodyAllowed(status) {
		sh.kept = headerBlock(n, fields)
		return sh
	}
	hint := int64(128) // most API responses are small; a larger body grows the buffer
	if cl, ok := declaredLength(sh.contentLength); ok && cl <= r.h.cfg.MaxResponseBytes {
		hint = cl
	}
	b := make([]byte, 0, 3*binary.MaxVarintLen64+len(fields)+recordGap+int(hint)+1) // +1: no trailers
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(status))
	b = append(b, 0) // NotReplayable: none
	b = binary.AppendUvarint(b, uint64(n))
	b = append(b, fields...)
	r.buf, r.bodyAt, r.prebuilt = append(b, make([]byte, recordGap)...), len(b)+recordGap, true
	return sh
}

// recordGap is the room left in a prebuilt record for the body's length.
const recordGap = binary.MaxVarintLen64

// finish completes the prebuilt record: the body's length goes before the
// body, the head moves up to meet it, and the trailers follow.
func (r *recorder) finish(trailer http.Header) []byte {
	var c [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(c[:], uint64(len(r.buf)-r.bodyAt))
	head := r.bodyAt - recordGap
	copy(r.buf[r.bodyAt-n:r.bodyAt], c[:n])
	start := recordGap - n
	copy(r.buf[start:start+head], r.buf[:head])
	return appendHeader(r.buf[start:], trailer)
}

// recordable reports whether the header (or trailer) of canonical name ck
// may be recorded: not hop-by-hop, not omitted, replayable.
func (r *recorder) recordable(ck string, sh *sentHeader) bool {
	return !hopByHop[ck] && !sh.connection[ck] && !r.h.omit[ck] && r.h.replayable(ck)
}

// result is the response to record, once the handler returned and settle
// found it replayable.
func (r *recorder) result(req *http.Request) storedResponse {
	cur := r.Header()
	if !r.wroteHeader {
		// net/http writes 200 with the headers as they are when the
		// handler returns.
		r.status, r.sent = http.StatusOK, r.snapshot(cur, http.StatusOK)
	}
	sh := &r.sent
	body := r.buf[r.bodyAt:]
	s := storedResponse{Status: r.status, hdr: sh.kept}
	if !sh.typed && !sh.encoded && bodyAllowed(r.status) && r.sniffed > 0 {
		// What net/http sent: a type sniffed from the first bytes.
		d := decoder[string]{data: sh.kept}
		n := d.count()
		fields := appendField([]byte(d.data), "Content-Type", []string{http.DetectContentType(body[:r.sniffed])})
		s.hdr = headerBlock(n+1, fields)
	}
	if len(body) > 0 {
		s.Body = body
	}
	for k, vs := range cur {
		if !r.trailersSent(req) {
			break
		}
		name, prefixed := strings.CutPrefix(k, http.TrailerPrefix)
		if !prefixed && !sh.declared[k] {
			continue
		}
		name = http.CanonicalHeaderKey(name)
		if !r.recordable(name, sh) || len(vs) == 0 {
			continue
		}
		if s.Trailer == nil {
			s.Trailer = make(http.Header)
		}
		s.Trailer[name] = append(s.Trailer[name], vs...)
	}
	s.Trailer = asSent(s.Trailer)
	if r.prebuilt {
		s.enc = r.finish(s.Trailer)
	}
	return s
}

// bufferBeforeChunking is how much of a body net/http's HTTP/1 server
// holds before it sends the header: a handler that returns having written
// no more gets a Content-Length.
const bufferBeforeChunking = 2048

// trailersSent reports whether the client got the response's trailers.
// HTTP/2 sends them always; HTTP/1.1 only after a chunked body, which
// net/http's server uses unless the whole response was known when its
// header went out: no Content-Length of the handler's, and trailers
// declared or named by then, a flush, or more body than it holds.
func (r *recorder) trailersSent(req *http.Request) bool {
	switch {
	case req.ProtoMajor >= 2:
		return true
	case !req.ProtoAtLeast(1, 1), req.Method == http.MethodHead, !bodyAllowed(r.status):
		return false
	}
	sh := &r.sent
	return sh.contentLength == "" && (sh.declared != nil || sh.trailing || r.flushed || r.written > bufferBeforeChunking)
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
		out := appendSent(vs[:0:0], vs)
		if len(out) == 0 && len(vs) > 0 {
			delete(h, k)
			continue
		}
		h[k] = out
	}
	return h
}

// appendSent appends the values vs as net/http sends them (see asSent).
func appendSent(dst, vs []string) []string {
	for _, v := range vs {
		if v, ok := sentValue(v); ok {
			dst = append(dst, v)
		}
	}
	return dst
}

// sentValue returns v as net/http sends it, and false for a value it does
// not send (see asSent).
func sentValue(v string) (string, bool) {
	v = textproto.TrimString(newlineToSpace.Replace(v))
	return v, validFieldValue(v)
}

// first is Header.Get's value of the values vs.
func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// namesIn returns the header names a list field (Trailer, Connection)
// names, canonical; nil for none.
func namesIn(lines []string) map[string]bool {
	var m map[string]bool
	for _, v := range lines {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if m == nil {
					m = map[string]bool{}
				}
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
		if len(name) == len(k) && name != k && http.CanonicalHeaderKey(name) == k {
			vs = append(vs[:len(vs):len(vs)], v...)
		}
	}
	return vs
}
