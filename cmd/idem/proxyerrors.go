package main

import (
	"encoding/json"
	"log"
	"net/http"
	"strconv"
	"strings"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// problemBadGateway names the proxy's own problem type, beside idemhttp's.
const problemBadGateway = "bad-gateway"

// retryAfterSeconds is the Retry-After of a 409 for a request still in
// flight: a short pause, then the retry replays the outcome or waits
// again.
const retryAfterSeconds = 1

// badGateway answers a request the service did not answer with a 502 in
// the format of idemhttp's errors (RFC 9457 problem+json). The cause goes
// to the log only: it names internal addresses. A 502 is not recorded, so
// a retry goes to the service again.
func badGateway(errorLog *log.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil { // a client that left is no error of the service
			errorLog.Printf("%s %s: %v", r.Method, r.URL.Path, err)
		}
		b, _ := json.Marshal(map[string]any{
			"type":   idemhttp.DefaultProblemBase + problemBadGateway,
			"title":  "Bad Gateway",
			"status": http.StatusBadGateway,
			"detail": "the service behind the proxy did not answer",
		})
		b = append(b, '\n')
		h := w.Header()
		h.Set("Content-Type", "application/problem+json")
		h.Set("Content-Length", strconv.Itoa(len(b)))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write(b)
	}
}

// retryAfter adds Retry-After to idemhttp's 409 for a request still in
// flight (problem type in-progress), unless the middleware set one. Other
// 409s (abandoned, not replayable, the service's own) get none: retrying
// them does not help. Only a 409 problem body is held back, to read its
// type; everything else passes straight through.
func retryAfter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &retryAfterWriter{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		rw.release()
	})
}

type retryAfterWriter struct {
	http.ResponseWriter
	held bool // a 409 problem's status waits for its body
}

func (w *retryAfterWriter) WriteHeader(code int) {
	h := w.Header()
	if code == http.StatusConflict && h.Get("Retry-After") == "" &&
		strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") {
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *retryAfterWriter) Write(p []byte) (int, error) {
	if w.held {
		var doc struct{ Type string }
		if json.Unmarshal(p, &doc) == nil && doc.Type == idemhttp.DefaultProblemBase+idemhttp.ProblemInProgress {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		}
		w.release()
	}
	return w.ResponseWriter.Write(p)
}

// release sends a held status.
func (w *retryAfterWriter) release() {
	if w.held {
		w.held = false
		w.ResponseWriter.WriteHeader(http.StatusConflict)
	}
}

func (w *retryAfterWriter) Flush() {
	w.release()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
