package redisstore

import (
	"errors"
	"strings"
)

// ErrNoPubSub is returned by Watch when Options.PubSub is PubSubOff.
var ErrNoPubSub = errors.New("idempotency: redisstore: notifications are off (Options.PubSub = PubSubOff)")

// ErrClosed is returned by Watch after Close.
var ErrClosed = errors.New("idempotency: redisstore: store closed")

// ErrInvalidOptions is wrapped by the errors of [Options.Validate].
var ErrInvalidOptions = errors.New("idempotency: redisstore: invalid options")

// opError labels an error with the Store operation that met it (claim,
// complete, release, extend, get, delete, list, watch, load scripts) and,
// when it concerns one record, the record's Redis key, which names the
// record without showing the user's key.
type opError struct {
	op, name string
	err      error
}

func opErr(op, name string, err error) error { return &opError{op: op, name: name, err: err} }

func wrap(op string, err error) error { return &opError{op: op, err: err} }

func (e *opError) Error() string {
	var b strings.Builder
	b.WriteString("idempotency: redisstore: ")
	b.WriteString(e.op)
	if e.name != "" {
		b.WriteString(" ")
		b.WriteString(e.name)
	}
	b.WriteString(": ")
	// The package's own errors and the contract's carry the prefix
	// already; say it once.
	msg := e.err.Error()
	msg = strings.TrimPrefix(msg, "idempotency: redisstore: ")
	msg = strings.TrimPrefix(msg, "idempotency: ")
	b.WriteString(msg)
	return b.String()
}

func (e *opError) Unwrap() error { return e.err }
