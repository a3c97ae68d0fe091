package redisstore

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// fields are the hash fields of a record, in the order the scripts and
// Get return them.
var fields = []string{"k", "f", "s", "t", "v", "l", "e", "c", "u"}

// name returns the Redis key (and channel) of a user key: the prefix and
// base64url(SHA-256(key)) inside a hash tag. Hashing makes any bytes safe
// and collision-free; the tag spreads keys over the slots of a Cluster
// while keeping everything one record needs in one slot.
func (s *Store) name(key string) string {
	sum := sha256.Sum256([]byte(key))
	var enc [43]byte // base64url of 32 bytes, unpadded
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	var b strings.Builder // one allocation: the string itself
	b.Grow(len(s.prefix) + 2 + len(enc))
	b.WriteString(s.prefix)
	b.WriteByte('{')
	b.Write(enc[:])
	b.WriteByte('}')
	return b.String()
}

// decodeHash turns the nine field values of a record hash (k f s t v l e
// c u; nil for a missing field), as HMGET returns them, into a Record for
// key. Anything but a complete, well-formed record of key is reported as
// ErrCorrupt.
func decodeHash(key string, vals []any) (idemtype.Record, error) {
	if len(vals) != len(fields) {
		return idemtype.Record{}, errCorrupt("%d fields, want %d", len(vals), len(fields))
	}
	var str [9]string
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return idemtype.Record{}, errCorrupt("field %s is %T", fields[i], v)
		}
		str[i] = s
	}
	return decodeRecord(key, str[:])
}

// decodeRecord is decodeHash for the nine field values, all present, as
// the claim script returns them.
func decodeRecord(key string, str []string) (idemtype.Record, error) {
	if len(str) != len(fields) {
		return idemtype.Record{}, errCorrupt("%d fields, want %d", len(str), len(fields))
	}
	if str[0] != key {
		return idemtype.Record{}, errCorrupt("holds the record of another key")
	}
	st, err := strconv.ParseUint(str[2], 10, 8)
	if err != nil || st < uint64(idemtype.StatusInProgress) || st > uint64(idemtype.StatusFailed) {
		return idemtype.Record{}, errCorrupt("status %q", str[2])
	}
	tok, err := strconv.ParseUint(str[3], 10, 64)
	if err != nil || tok == 0 {
		return idemtype.Record{}, errCorrupt("token %q", str[3])
	}
	var ms [4]int64
	for i := range ms {
		ms[i], err = strconv.ParseInt(str[5+i], 10, 64)
		if err != nil || ms[i] < 0 {
			return idemtype.Record{}, errCorrupt("field %s %q", fields[5+i], str[5+i])
		}
	}
	rec := idemtype.Record{
		Key:         key,
		Fingerprint: str[1],
		Status:      idemtype.Status(st),
		Token:       idemtype.Token(tok),
		LeaseUntil:  time.UnixMilli(ms[0]),
		CreatedAt:   time.UnixMilli(ms[2]),
		UpdatedAt:   time.UnixMilli(ms[3]),
	}
	if str[4] != "" {
		rec.Value = []byte(str[4])
	}
	if ms[1] != 0 {
		rec.ExpiresAt = time.UnixMilli(ms[1])
	}
	return rec, nil
}

// isTombstone reports whether the nine field values are those of a
// tombstone: a token and nothing else.
func isTombstone(vals []any) bool {
	for i, v := range vals {
		if (v != nil) != (i == 3) {
			return false
		}
	}
	return len(vals) == len(fields)
}

// isAbsent reports whether all field values are missing.
func isAbsent(vals []any) bool {
	for _, v := range vals {
		if v != nil {
			return false
		}
	}
	return true
}

// errCorrupt returns an *idemtype.CorruptError that says what is wrong
// with a record; opErr completes it with the operation, key and Redis key.
func errCorrupt(format string, args ...any) error {
	return &idemtype.CorruptError{Reason: fmt.Sprintf(format, args...)}
}

// millis converts a positive duration to whole milliseconds, rounding up
// so that a lease or TTL is never shorter than asked; <= 0 gives 0. It
// rounds without adding first: the largest durations ("for ever") must not
// overflow into a negative count, which made a lease of one millisecond.
func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// RedisKey returns the name of the Redis key holding key's record (also
// the channel its changes are published on), for operators and tests.
func (s *Store) RedisKey(key string) string { return s.name(key) }
