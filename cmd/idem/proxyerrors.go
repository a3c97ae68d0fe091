package main

import (
	"encoding/json"
	"log"
	"net/http"
	"strconv"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// problemBadGateway names the proxy's own problem type, beside idemhttp's.
const problemBadGateway = "bad-gateway"

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
