package main

import (
	"context"
	"errors"
	"syscall"

	"github.com/idempotency-go/idempotency"
)

// Exit codes of idem's own outcomes, after sysexits.h. A command run by
// idem run exits with its own code, which may collide with these: scripts
// that must tell them apart should look at the record (idem get).
const (
	exitOK = 0
	// exitUsage: bad flags, arguments or store URL.
	exitUsage = 64 // EX_USAGE
	// exitDataErr: the key was used with another command line, or is
	// invalid (empty, longer than 4096 bytes).
	exitDataErr = 65 // EX_DATAERR
	// exitNoRecord: get or forget found no live record for the key.
	exitNoRecord = 66 // EX_NOINPUT
	// exitUnavailable: the store cannot be opened or reached, or failed;
	// the command was not run.
	exitUnavailable = 69 // EX_UNAVAILABLE
	// exitSoftware: a record cannot be read (corrupt, or not written by
	// idem run), or another unexpected failure.
	exitSoftware = 70 // EX_SOFTWARE
	// exitListen: idem proxy cannot listen on --listen (the address is in
	// use, or not this host's, or the port needs privileges).
	exitListen = 71 // EX_OSERR
	// exitNotRecorded: the command ran but its outcome could not be
	// recorded; a retry may run it again once its lease lapses.
	exitNotRecorded = 74 // EX_IOERR
	// exitTempFail: another run of the key is in progress (and --wait
	// ended), or this run lost its lease and stopped the command.
	exitTempFail = 75 // EX_TEMPFAIL
	// exitAbandoned: --no-takeover, and the run holding the key stopped
	// renewing its lease: it may or may not have had its effect. Only
	// idem forget (or the record's TTL) frees the key.
	exitAbandoned = 76
	// exitCannotExec and exitNotFound are the shell's codes for a command
	// that cannot be executed or found. Nothing is recorded.
	exitCannotExec = 126
	exitNotFound   = 127
	// exitSignal plus the signal number: the command was killed by that
	// signal, or idem was interrupted by it before the command started.
	exitSignal = 128
)

// codeError carries the exit code of an error that is no library
// sentinel.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// interrupted is the cancellation cause when a signal arrived while no
// command ran.
type interrupted struct{ sig syscall.Signal }

func (e *interrupted) Error() string { return "idempotency: interrupted by " + e.sig.String() }

// exitCode maps an error to idem's exit code.
func exitCode(err error) int {
	var ce *codeError
	var in *interrupted
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &in):
		return exitSignal + int(in.sig)
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, idempotency.ErrKeyReused), errors.Is(err, idempotency.ErrInvalidKey):
		return exitDataErr
	case errors.Is(err, idempotency.ErrAbandoned):
		return exitAbandoned
	case errors.Is(err, idempotency.ErrInProgress), errors.Is(err, idempotency.ErrLeaseLost):
		return exitTempFail
	case errors.Is(err, idempotency.ErrNotRecorded):
		return exitNotRecorded
	case errors.Is(err, idempotency.ErrNotFound):
		return exitNoRecord
	case errors.Is(err, idempotency.ErrCorrupt), errors.Is(err, idempotency.ErrResultUnavailable),
		errors.Is(err, idempotency.ErrFailed):
		return exitSoftware
	case errors.Is(err, idempotency.ErrStore), errors.Is(err, context.DeadlineExceeded):
		return exitUnavailable
	}
	return exitSoftware
}

// unavailable marks an error of the store itself (open, connect, I/O).
func unavailable(err error) error {
	if err == nil || errors.Is(err, idempotency.ErrCorrupt) || errors.Is(err, idempotency.ErrNotFound) {
		return err
	}
	return &codeError{code: exitUnavailable, err: err}
}
