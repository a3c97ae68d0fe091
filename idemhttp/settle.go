package idemhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// ErrDiscarded matches the error that the guard's Observer sees (in an
// EventExecuted) for a response that was not kept: by Config.Keep, by
// Discard, or because it ended before its status was written. The key was
// released, or, for a 5xx under the guard's Remember policy, the failure
// remembered.
var ErrDiscarded = errors.New("idempotency: idemhttp: response not kept")

// releaseError is what the guarded function returns for a response that
// must not be recorded.
type releaseError struct {
	status int
	reason string
	// retry: the request was not processed to an outcome (408, 425, 429,
	// Discard, the client left before the status): the key is released
	// even under the guard's Remember policy. Otherwise (a 5xx, a panic
	// before the status) the guard's failure policy applies.
	retry bool
}

func (e *releaseError) Error() string {
	s := "idempotency: idemhttp: response not kept: " + e.reason
	if e.status != 0 {
		s += " (status " + strconv.Itoa(e.status) + ")"
	}
	return s
}

// Is matches ErrDiscarded, and context.Canceled for a retry release: the
// guard releases the key of a call whose context it ended.
func (e *releaseError) Is(target error) bool {
	return target == ErrDiscarded || e.retry && target == context.Canceled
}

// ending describes how the handler's turn ended.
type ending struct {
	panicked   any  // the panic value, nil if it returned
	clientGone bool // the request's context ended before the handler returned
}

// settle is the one rule that decides what becomes of a response once the
// handler is done: a stored response to replay, a marker that it cannot be
// replayed (the handler is not run again), or a *releaseError (the key is
// released, or the failure remembered, and a retry runs the handler).
//
//  1. A response whose status was not written, because the handler
//     panicked or its client left first, is released: nothing reached the
//     client, and a handler that stopped early may have done nothing.
//  2. A response Config.Keep does not keep, or that the handler discarded,
//     is released, however large or incomplete it was.
//  3. A kept response that cannot be replayed whole is recorded as not
//     replayable: the connection was hijacked or switched protocols, it
//     was larger than MaxResponseBytes, or it started and then stopped
//     short (a panic, http.ErrAbortHandler, the client leaving, a failed
//     write, a body shorter or longer than its declared Content-Length).
//     It may have had its effect; it is never run again, and a truncation
//     is never replayed.
//  4. Every other response is recorded and replayed.
//
// A held response (Config.Join) has not started to reach the client
// while the handler runs, so rule 1 applies to it whether its status was
// written or not, and one larger than MaxResponseBytes, which could not be
// held, is released.
func (h *handler) settle(rec *recorder, r *http.Request, end ending) (storedResponse, error) {
	started := (rec.wroteHeader || rec.hijacked) && rec.held == nil
	if !started && (end.panicked != nil || end.clientGone) {
		if end.panicked != nil && end.panicked != http.ErrAbortHandler {
			return storedResponse{}, &releaseError{reason: fmt.Sprintf("the handler panicked: %v", end.panicked)}
		}
		return storedResponse{}, &releaseError{reason: "the request ended before the response started", retry: true}
	}
	status := rec.finalStatus()
	if rec.discarded.Load() {
		return storedResponse{}, &releaseError{status: status, reason: "discarded by the handler", retry: true}
	}
	if rec.held != nil && rec.tooLarge {
		return storedResponse{}, &releaseError{status: status, reason: "too large to hold until the transaction commits", retry: true}
	}
	var keep bool
	keep, rec.policyPanic = h.keep(status, r)
	if !keep {
		return storedResponse{}, &releaseError{status: status, reason: "not a final outcome", retry: status < 500}
	}
	marker := func(why string) (storedResponse, error) {
		return storedResponse{Status: status, NotReplayable: why}, nil
	}
	switch {
	case rec.hijacked:
		return marker("the handler took over the connection")
	case status == http.StatusSwitchingProtocols:
		return marker("the handler switched protocols")
	case end.panicked != nil:
		return marker("the response was aborted after it started")
	case end.clientGone || rec.writeFailed:
		return marker("the client left before the response was complete")
	case rec.lengthDiffers(r):
		return marker("the response body was not as long as its Content-Length")
	case rec.tooLarge:
		return marker("the response was larger than the limit for stored responses")
	}
	s := rec.result(r)
	if s.size() > h.cfg.MaxResponseBytes {
		return marker("the response was larger than the limit for stored responses")
	}
	return s, nil
}

// keep asks Config.Keep, recovering its panic: the handler ran and its
// response went out, so the key must not be released (a retry would run
// it again) nor remembered as a failure. A Keep that panics keeps the
// response; its panic goes on once the key is settled.
func (h *handler) keep(status int, r *http.Request) (keep bool, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			keep, panicked = true, p
		}
	}()
	return h.cfg.Keep(status, r), nil
}
