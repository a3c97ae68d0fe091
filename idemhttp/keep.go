package idemhttp

import (
	"context"
	"net/http"
)

// DefaultKeep is the default Config.Keep: it keeps 2xx, 3xx and 4xx
// responses, which are the request's final outcome, except 408 Request
// Timeout, 425 Too Early and 429 Too Many Requests, which ask the client to
// send the request again; those and every 5xx are released, so that the
// retry runs the handler.
func DefaultKeep(status int, _ *http.Request) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return status < 500
}

// Discard tells the middleware not to keep the response to r, whatever its
// status: the key is released once the handler returns, and a retry runs
// the handler again. It is for a handler that knows its outcome is not
// final (a downstream timeout answered with 200 and a retry hint, a
// validation error the client will fix under the same key). Call it before
// the handler returns; the guard's Observer sees the release as an
// EventExecuted whose Err matches ErrDiscarded. Discard reports whether r is
// a request the middleware guards; for others it does nothing.
func Discard(r *http.Request) bool {
	s, ok := r.Context().Value(callKey{}).(*recorder)
	if ok {
		s.discarded.Store(true)
	}
	return ok
}

// callKey is the context key of the *recorder of a guarded request.
type callKey struct{}

// callCtx is the handler's context: the guarded call's, carrying the
// recorder for Discard. It lives in the recorder, so that it costs no
// allocation of its own.
type callCtx struct {
	context.Context
	rec *recorder
}

func (c *callCtx) Value(key any) any {
	if key == (callKey{}) {
		return c.rec
	}
	return c.Context.Value(key)
}
