package filestore

import "github.com/idempotency-go/idempotency/idemtype"

// CorruptError reports a record file that cannot be trusted: torn,
// damaged, of an unknown format, or holding another key's record. It
// matches idemtype.ErrCorrupt (idempotency.ErrCorrupt) with errors.Is. The
// store never treats such a file as missing nor overwrites it; Delete
// removes it.
type CorruptError struct {
	// Path is the record file.
	Path string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *CorruptError) Error() string {
	return "idempotency: filestore: corrupt record file " + e.Path + ": " + e.Reason
}

// Unwrap returns idemtype.ErrCorrupt.
func (e *CorruptError) Unwrap() error { return idemtype.ErrCorrupt }
