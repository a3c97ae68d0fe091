package redisstore

import (
	"context"
	"errors"
	"strings"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/redis/go-redis/v9"
)

// ErrNoPubSub is returned by Watch when Options.PubSub is PubSubOff. It
// matches errors.ErrUnsupported: the store cannot watch as configured, so
// callers (the guard, the conformance suite) poll instead.
var ErrNoPubSub error = &sentinel{"idempotency: redisstore: notifications are off (Options.PubSub = PubSubOff)", errors.ErrUnsupported}

// ErrClosed is idemtype.ErrClosed: every operation after Close fails with
// an error matching it.
var ErrClosed = idemtype.ErrClosed

// ErrInvalidOptions is wrapped by the errors of [Options.Validate].
var ErrInvalidOptions = errors.New("idempotency: redisstore: invalid options")

// sentinel is an error value for errors.Is that also matches a broader one.
type sentinel struct {
	msg    string
	parent error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.parent }

const storeName = "redisstore"

// opErr labels err with the operation (claim, complete, release, extend,
// get, delete, list, watch, load scripts) and the user's key it failed
// for: an *idemtype.OpError, or the *idemtype.CorruptError completed with
// them (its Path is the record's Redis key, which names the record without
// showing the key). The contract's replies (ErrLeaseLost, ErrNotFound) and
// the context's errors stay bare, as callers compare them. A Redis out of
// memory (maxmemory) is reported as idemtype.ErrFull.
func (s *Store) opErr(op, key string, err error) error {
	var ce *idemtype.CorruptError
	switch {
	case err == nil || err == idemtype.ErrLeaseLost || err == idemtype.ErrNotFound ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &ce):
		ce.Store, ce.Op, ce.Key = storeName, op, key
		if ce.Path == "" && key != "" {
			ce.Path = s.name(key)
		}
		return ce
	case isOOM(err):
		err = &full{err}
	case strings.HasPrefix(err.Error(), "idempotency: "):
		err = trimmed{err}
	}
	return &idemtype.OpError{Store: storeName, Op: op, Key: key, Err: err}
}

// full is Redis's refusal of a write at maxmemory: it matches
// idemtype.ErrFull (and so ErrStore) and reads as Redis's message.
type full struct{ err error }

func (e *full) Error() string   { return "store full: " + e.err.Error() }
func (e *full) Unwrap() []error { return []error{idemtype.ErrFull, e.err} }

// isOOM reports whether err is Redis's refusal for lack of memory, as a
// command's reply ("OOM command not allowed ...") or as the error of a
// script whose write it refused.
func isOOM(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.Contains(re.Error(), "OOM command not allowed")
}

// trimmed shows err without the "idempotency: " prefix of the package's
// own errors and the contract's, which OpError's message carries once.
type trimmed struct{ err error }

func (e trimmed) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "idempotency: redisstore: ")
	return strings.TrimPrefix(msg, "idempotency: ")
}

func (e trimmed) Unwrap() error { return e.err }
