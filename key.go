package idempotency

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Key derives a key from a name and arguments: name + ":" +
// base64url(SHA-256(canonical encoding of args)). The same values give the
// same key in every process and release: map entries and struct fields are
// encoded in sorted order, integers by value whatever their type, pointers
// by what they point to, times as instants. Raw argument values never
// appear in the key. Values that cannot be encoded (functions, channels,
// cycles, NaN) give an error matching ErrInvalidKey.
//
// Struct fields tagged `idempotency:"-"` are left out, for fields that do
// not identify the call (a request id, a timestamp of the attempt).
func Key(name string, args ...any) (string, error) {
	sum, err := digest('K', args)
	if err != nil {
		return "", err
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
			return "", err
		}
	}
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

func digest(domain byte, args []any) ([sha256.Size]byte, error) {
	nodes := 0
	e := encoder{buf: make([]byte, 0, 128), nodes: &nodes}
	e.buf = append(e.buf, domain)
	if err := e.values(args); err != nil {
		return [sha256.Size]byte{}, &Error{Kind: ErrInvalidKey, Err: err}
	}
	return sha256.Sum256(e.buf), nil
}

func validKey(key string) error {
	switch {
	case key == "":
		return &Error{Kind: ErrInvalidKey, Err: fmt.Errorf("empty key")}
	case len(key) > MaxKeyLen:
		return &Error{Kind: ErrInvalidKey, Key: key, Err: fmt.Errorf("key of %d bytes, longer than %d", len(key), MaxKeyLen)}
	}
	return nil
}
