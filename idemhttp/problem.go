package idemhttp

import (
	"encoding/json"
	"net/http"
	"strconv"
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
	// was too large to store (or the handler took the connection over);
	// the handler is not run again. The member "original_status" holds
	// the first response's status.
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
	// ProblemInternal (500): anything else.
	ProblemInternal = "internal"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type           string `json:"type"`
	Title          string `json:"title"`
	Status         int    `json:"status"`
	Detail         string `json:"detail,omitempty"`
	OriginalStatus int    `json:"original_status,omitempty"`
}

var problemTitles = map[string]string{
	ProblemMissingKey:      "Idempotency-Key required",
	ProblemInvalidKey:      "Invalid Idempotency-Key",
	ProblemRequestTooLarge: "Request body too large",
	ProblemBadRequest:      "Request body unreadable",
	ProblemInProgress:      "Request in progress",
	ProblemKeyReused:       "Idempotency-Key reused",
	ProblemNotReplayable:   "Response not replayable",
	ProblemAbandoned:       "Request abandoned",
	ProblemDuplicate:       "Duplicate request",
	ProblemFailed:          "Request failed",
	ProblemUnavailable:     "Stored response unavailable",
	ProblemStore:           "Idempotency store unavailable",
	ProblemInternal:        "Internal error",
}

func (h *handler) problem(w http.ResponseWriter, status int, name, detail string) {
	h.writeProblem(w, problem{Type: h.cfg.ProblemBase + name, Title: problemTitles[name], Status: status, Detail: detail})
}

func (h *handler) writeProblem(w http.ResponseWriter, p problem) {
	b, _ := json.Marshal(p) // strings and ints: cannot fail
	b = append(b, '\n')
	hd := w.Header()
	hd.Set("Content-Type", "application/problem+json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}
