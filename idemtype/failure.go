package idemtype

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Errors for stores that fail; match them with errors.Is.
var (
	// ErrStore: the store failed. The guard answers any error of Claim
	// with an error matching the root package's ErrStore and does not run
	// fn (fail closed); a store's own errors may match this value too, so
	// that callers of the store alone can tell them apart from contract
	// replies such as ErrLeaseLost and ErrNotFound.
	ErrStore = errors.New("idempotency: store error")
	// ErrFull: the store refused a new record because it holds as many
	// records or bytes as it may. It matches [ErrStore]. Completions are
	// never refused for room, so that a call that ran is recorded.
	ErrFull error = &childError{"idempotency: store full", ErrStore}
)

// childError is a sentinel that also matches a broader one.
type childError struct {
	msg    string
	parent error
}

func (e *childError) Error() string { return e.msg }
func (e *childError) Unwrap() error { return e.parent }

// OpError is a store's failure of one operation, in the style of
// [io/fs.PathError]: which store, which operation on which key, and why. Its
// message reads
//
//	idempotency: filestore: complete "order-42": <Err>
//
// Stores return the contract's replies ([ErrLeaseLost], [ErrNotFound]) and the
// context's errors bare, and wrap their failures in an OpError.
type OpError struct {
	// Store names the store: "memstore", "filestore", ...
	Store string
	// Op is the operation: "claim", "complete", "release", "extend",
	// "get", "delete", "list", "sweep", "watch" or "open".
	Op string
	// Key is the key operated on; empty for operations on no one key.
	Key string
	// Err is the cause.
	Err error
}

// Error implements error. Long keys are shortened (see [ShortKey]).
func (e *OpError) Error() string {
	return "idempotency: " + label(e.Store, e.Op, e.Key) + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *OpError) Unwrap() error { return e.Err }

// CorruptError reports a stored record that cannot be trusted: torn,
// damaged, of an unknown format, or holding another key's record. It
// matches [ErrCorrupt] with errors.Is. A store never treats a corrupt record
// as missing nor overwrites it on a claim; Delete removes it. Its message
// reads
//
//	idempotency: filestore: get "order-42": corrupt record /srv/idem/records/ab/q80...: checksum 1f2e3d4c, want 00000000
type CorruptError struct {
	// Store names the store: "filestore", "redisstore", "pgstore", ...
	Store string
	// Op is the operation that found the record (see OpError.Op).
	Op string
	// Key is the key whose record is corrupt; empty when the record's key
	// cannot be known (a scan found a damaged file).
	Key string
	// Path locates the record in the store: a file, a Redis key, a table
	// row. Empty when there is nothing more to say than Key.
	Path string
	// Reason says what is wrong with the record.
	Reason string
}

// Error implements error.
func (e *CorruptError) Error() string {
	msg := "idempotency: " + label(e.Store, e.Op, e.Key) + ": corrupt record"
	if e.Path != "" {
		msg += " " + e.Path
	}
	return msg + ": " + e.Reason
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func label(store, op, key string) string {
	s := store
	if op != "" {
		s += ": " + op
	}
	if key != "" {
		s += " " + ShortKey(key)
	}
	return s
}

// shortKeyMax is the longest key ShortKey quotes whole.
const shortKeyMax = 64

// ShortKey returns key for messages and logs: quoted with Go escapes (so
// control bytes, invalid UTF-8 and bidi overrides show as escapes), and,
// when longer than 64 bytes, cut to its first 48 bytes on a character
// boundary and followed by its length, as in "kkkk"... (4096 bytes).
// Two different keys may shorten alike; the message names one key only.
func ShortKey(key string) string {
	if len(key) <= shortKeyMax {
		return strconv.Quote(key)
	}
	cut := 48
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return strconv.Quote(key[:cut]) + "... (" + strconv.Itoa(len(key)) + " bytes)"
}
