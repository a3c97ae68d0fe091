package idemtype

import "errors"

// Errors a Store reports; match them with errors.Is.
var (
	// ErrLeaseLost: the token no longer owns an in-progress record for the
	// key (taken over, completed, released, expired or deleted).
	ErrLeaseLost = errors.New("idempotency: lease lost")
	// ErrNotFound: no live record for the key.
	ErrNotFound = errors.New("idempotency: record not found")
	// ErrCorrupt: a stored record cannot be read (torn write, checksum
	// mismatch, unknown format). It is never reported as ErrNotFound nor
	// as another key's record.
	ErrCorrupt = errors.New("idempotency: corrupt record")
	// ErrClosed: the store was closed (see [Closer]). Every operation
	// after Close fails with an error matching it.
	ErrClosed = errors.New("idempotency: store closed")
)
