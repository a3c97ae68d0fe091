package filestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/idempotency-go/idempotency/idemtype"
)

// CorruptError reports a record file that cannot be trusted: torn,
// damaged, of an unknown format, or holding another key's record. It is
// idemtype.CorruptError, the shape every store reports a corrupt record
// in, with Store "filestore" and Path the record file; it matches
// idemtype.ErrCorrupt (idempotency.ErrCorrupt) with errors.Is. The store
// never treats such a file as missing nor overwrites it; Delete removes it.
type CorruptError = idemtype.CorruptError

const storeName = "filestore"

// opErr labels err with the operation and key it failed: an
// *idemtype.OpError, or the *CorruptError completed with them. The
// contract's replies (ErrLeaseLost, ErrNotFound) and the context's errors
// stay bare, as callers compare them.
func opErr(op, key string, err error) error {
	var ce *CorruptError
	switch {
	case err == nil || err == idemtype.ErrLeaseLost || err == idemtype.ErrNotFound ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &ce):
		ce.Store, ce.Op = storeName, op
		if ce.Key == "" {
			ce.Key = key
		}
		return ce
	}
	return &idemtype.OpError{Store: storeName, Op: op, Key: key, Err: err}
}

// corrupt is a CorruptError before opErr labels it.
func corrupt(path, reason string) error { return &CorruptError{Path: path, Reason: reason} }

// errNoFlock is New's error on a platform without flock: it matches
// errors.ErrUnsupported.
func errNoFlock(goos string) error {
	return fmt.Errorf("needs flock(2), which %s does not have; use another store there: %w", goos, errors.ErrUnsupported)
}
