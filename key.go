package idempotency

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
)

// Key derives a key from a name and arguments: name + ":" +
// base64url(SHA-256(canonical encoding of args)). The same values give the
// same key in every process and release: map entries and struct fields are
// encoded in sorted order, integers by value whatever their type, pointers
// by what they point to. Raw argument values never appear in the key.
//
// A few kinds of values encode by what they mean rather than by their
// fields:
//   - Times (time.Time and types defined over it, such as type Stamp
//     time.Time) encode as instants: the location and the monotonic
//     reading do not change the key.
//   - A type whose own MarshalText method has a value receiver (net.IP,
//     netip.Addr, your enums) encodes as that text. A struct that only
//     embeds such a type encodes as its fields: the promoted method speaks
//     for the embedded value, not for the struct's other fields. A
//     MarshalText with a pointer receiver (big.Float, big.Int) is not
//     used: those values encode as their fields.
//
// Struct fields tagged `idempotency:"-"` are left out, for fields that do
// not identify the call (a request id, a timestamp of the attempt).
//
// Values that cannot be encoded (functions, channels, cycles, NaN, a
// failing MarshalText, more than [MaxKeyParts] parts or [MaxKeyDepth]
// levels) give an error matching [ErrInvalidKey] that says which argument, where in
// it and why, without showing argument values. See docs/keys.md for the
// encoding and its stability.
func Key(name string, args ...any) (string, error) {
	sum, err := digest('K', args)
	if err != nil {
		return "", &Error{Kind: ErrInvalidKey, Err: fmt.Errorf("Key(%q, ...): %w", name, err)}
	}
	return name + ":" + base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// fingerprint is the digest of a WithFingerprint payload. Strings and byte
// slices are hashed as they are, so a request body costs no reflection.
func fingerprint(payload any) (string, error) {
	var sum [sha256.Size]byte
	switch p := payload.(type) {
	case []byte:
		sum = sha256.Sum256(append([]byte{'b'}, p...))
	case string:
		sum = sha256.Sum256(append([]byte{'b'}, p...))
	default:
		var err error
		if sum, err = digest('F', []any{payload}); err != nil {
			var ae *argError
			errors.As(err, &ae)
			return "", &Error{Kind: ErrInvalidKey, Err: fmt.Errorf("WithFingerprint payload (%v): %w", ae.typ, ae.err)}
		}
	}
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

func digest(domain byte, args []any) ([sha256.Size]byte, error) {
	nodes := 0
	e := encoder{buf: make([]byte, 0, 128), nodes: &nodes}
	e.buf = append(e.buf, domain)
	if err := e.values(args); err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(e.buf), nil
}

// argError says which argument of Key could not be encoded, and why. It
// names types and positions only: argument values stay out of messages, as
// they stay out of keys.
type argError struct {
	index int
	typ   reflect.Type
	err   error
}

func (e *argError) Error() string {
	return fmt.Sprintf("argument %d (%v): %v", e.index, e.typ, e.err)
}

func (e *argError) Unwrap() error { return e.err }

func validKey(key string) error {
	switch {
	case key == "":
		return &Error{Kind: ErrInvalidKey, Err: fmt.Errorf("empty key")}
	case len(key) > MaxKeyLen:
		return &Error{Kind: ErrInvalidKey, Key: key, Err: fmt.Errorf("key of %d bytes, longer than %d", len(key), MaxKeyLen)}
	}
	return nil
}
