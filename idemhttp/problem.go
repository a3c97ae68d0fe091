package idemhttp

import (
	"net/http"
	"strconv"
	"unicode/utf8"
)

// The names of the problem types of error responses; the type URI is
// Config.ProblemBase followed by the name.
const (
	// ProblemMissingKey (400): Config.Required and no Idempotency-Key.
	ProblemMissingKey = "missing-key"
	// ProblemInvalidKey (400): a malformed, empty or too long key.
	ProblemInvalidKey = "invalid-key"
	// ProblemRequestTooLarge (413): a body over Config.MaxRequestBytes.
	ProblemRequestTooLarge = "request-too-large"
	// ProblemBadRequest (400): the request body could not be read.
	ProblemBadRequest = "unreadable-request"
	// ProblemInProgress (409): a request with this key is still running.
	ProblemInProgress = "in-progress"
	// ProblemKeyReused (422): the key was used with another request.
	ProblemKeyReused = "key-reused"
	// ProblemNotReplayable (409): the first request ran, but its response
	// cannot be replayed whole: it was too large to store, the handler
	// took the connection over, or the response started and stopped short
	// (its client left, the handler aborted it). The handler is not run
	// again. The member "original_status" holds the first response's
	// status.
	ProblemNotReplayable = "response-not-replayable"
	// ProblemAbandoned (409): under the guard's NoTakeover, the first
	// request stopped without an outcome; it may or may not have taken
	// effect, and it is not run again until an operator forgets the key.
	ProblemAbandoned = "abandoned"
	// ProblemDuplicate (409): under the guard's Reject policy, the key was
	// used before.
	ProblemDuplicate = "duplicate"
	// ProblemFailed (500): under the guard's Remember policy, the first
	// request failed and the failure is final.
	ProblemFailed = "failed"
	// ProblemUnavailable (500): the stored response cannot be read back.
	ProblemUnavailable = "response-unavailable"
	// ProblemStore (503): the store failed; the handler was not run.
	ProblemStore = "store-unavailable"
	// ProblemUnidentified (401): the request carries no credentials to
	// tell its client apart (the default Scope), or Config.Scope returned
	// "" for it.
	ProblemUnidentified = "unidentified-client"
	// ProblemResponseTooLarge (500): under Config.Join, the response was
	// larger than Config.MaxResponseBytes, so it could not be held until
	// its transaction committed; the transaction was rolled back and a
	// retry runs the handler again.
	ProblemResponseTooLarge = "response-too-large"
	// ProblemInternal (500): anything else.
	ProblemInternal = "internal"
)

// Error is an error response of the middleware itself, handed to
// Config.ErrorHandler to be written.
type Error struct {
	// Status is the HTTP status to answer with.
	Status int
	// Problem is one of the Problem* names, for an ErrorHandler that
	// renders its own codes.
	Problem string
	// Type is Config.ProblemBase followed by Problem: the RFC 9457 type
	// URI.
	Type string
	// Title is a short human-readable summary of the problem type.
	Title string
	// Detail explains this occurrence to the client.
	Detail string
	// OriginalStatus is the status of the first response, for
	// ProblemNotReplayable; 0 otherwise.
	OriginalStatus int
	// RetryAfter, when positive, is the number of seconds after which the
	// request may succeed; the Retry-After header is set to it already.
	RetryAfter int
	// Err is the cause, if any: an error of the guard (matching
	// idempotency.ErrKeyReused, ErrInProgress, ErrStore, ...), a
	// *KeyError, or nil.
	Err error
}

func (e *Error) Error() string {
	msg := "idempotency: idemhttp: " + strconv.Itoa(e.Status) + " " + e.Problem + ": " + e.Detail
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// WriteProblem is the default Config.ErrorHandler: it writes e as an
// RFC 9457 application/problem+json document with the members type, title,
// status, detail and, for ProblemNotReplayable, original_status. The
// response is marked Cache-Control: no-store.
func WriteProblem(w http.ResponseWriter, _ *http.Request, e *Error) {
	b := appendProblem(make([]byte, 0, 256+len(e.Type)+len(e.Title)+len(e.Detail)), e)
	hd := w.Header()
	vs := []string{"application/problem+json", strconv.Itoa(len(b)), "no-store"} // one array
	hd["Content-Type"], hd["Content-Length"], hd["Cache-Control"] = vs[0:1:1], vs[1:2:2], vs[2:3:3]
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// appendProblem appends the problem document of e and a newline, as
// encoding/json writes it: the members type, title, status, detail (when
// set) and original_status (when set).
func appendProblem(b []byte, e *Error) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, e.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	if e.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, e.Detail)
	}
	if e.OriginalStatus != 0 {
		b = append(b, `,"original_status":`...)
		b = strconv.AppendInt(b, int64(e.OriginalStatus), 10)
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as encoding/json does: quoted, with <, > and
// & escaped for HTML, invalid UTF-8 as U+FFFD, and U+2028 and U+2029
// escaped for JavaScript.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var problemTitles = map[string]string{
	ProblemMissingKey:       "Idempotency-Key required",
	ProblemInvalidKey:       "Invalid Idempotency-Key",
	ProblemRequestTooLarge:  "Request body too large",
	ProblemBadRequest:       "Request body unreadable",
	ProblemInProgress:       "Request in progress",
	ProblemKeyReused:        "Idempotency-Key reused",
	ProblemNotReplayable:    "Response not replayable",
	ProblemAbandoned:        "Request abandoned",
	ProblemDuplicate:        "Duplicate request",
	ProblemFailed:           "Request failed",
	ProblemUnavailable:      "Stored response unavailable",
	ProblemStore:            "Idempotency store unavailable",
	ProblemUnidentified:     "Client not identified",
	ProblemResponseTooLarge: "Response too large to hold",
	ProblemInternal:         "Internal error",
}

// problem answers r with the middleware's error e, through
// Config.ErrorHandler.
func (h *handler) problem(w http.ResponseWriter, r *http.Request, e *Error) {
	e.Type, e.Title = h.problemTypes[e.Problem], problemTitles[e.Problem]
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	h.cfg.ErrorHandler(w, r, e)
}
