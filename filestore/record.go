package filestore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// The record file format, version 1. All integers are little-endian.
//
//	off  size  field
//	  0     4  magic "idem"
//	  4     1  version (1)
//	  5     1  status (1 in progress, 2 completed, 3 failed)
//	  6     2  reserved, zero
//	  8     8  token (never zero)
//	 16     8  lease until, Unix ns (math.MinInt64: zero time)
//	 24     8  expires at, Unix ns (math.MinInt64: never)
//	 32     8  created at, Unix ns
//	 40     8  updated at, Unix ns
//	 48     4  key length K
//	 52     4  fingerprint length F
//	 56     4  value length V
//	 60     K  key
//	     F  fingerprint
//	     V  value
//	end-4   4  CRC-32C of every byte before it
//
// The full key is stored so that a file found under another key's name
// (a hash collision, a file copied by hand) is reported, not returned.
const (
	magic      = "idem"
	version    = 1
	headerSize = 60
	trailer    = 4
	offExpires = 24
	// maxField is the longest key, fingerprint or value a record holds.
	maxField = math.MaxUint32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode returns rec in the record file format.
func encode(rec *idemtype.Record) []byte {
	n := headerSize + len(rec.Key) + len(rec.Fingerprint) + len(rec.Value) + trailer
	b := make([]byte, headerSize, n)
	copy(b, magic)
	b[4] = version
	b[5] = byte(rec.Status)
	le := binary.LittleEndian
	le.PutUint64(b[8:], uint64(rec.Token))
	le.PutUint64(b[16:], uint64(unixNano(rec.LeaseUntil)))
	le.PutUint64(b[24:], uint64(unixNano(rec.ExpiresAt)))
	le.PutUint64(b[32:], uint64(unixNano(rec.CreatedAt)))
	le.PutUint64(b[40:], uint64(unixNano(rec.UpdatedAt)))
	le.PutUint32(b[48:], uint32(len(rec.Key)))
	le.PutUint32(b[52:], uint32(len(rec.Fingerprint)))
	le.PutUint32(b[56:], uint32(len(rec.Value)))
	b = append(b, rec.Key...)
	b = append(b, rec.Fingerprint...)
	b = append(b, rec.Value...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decode parses a record file. Its errors are reasons for a CorruptError.
func decode(b []byte) (idemtype.Record, error) {
	if len(b) < headerSize+trailer {
		return idemtype.Record{}, fmt.Errorf("%d bytes, shorter than any record", len(b))
	}
	if string(b[:4]) != magic {
		return idemtype.Record{}, fmt.Errorf("bad magic %q", b[:4])
	}
	if b[4] != version {
		return idemtype.Record{}, fmt.Errorf("unknown format version %d", b[4])
	}
	le := binary.LittleEndian
	body := b[:len(b)-trailer]
	if sum, want := crc32.Checksum(body, castagnoli), le.Uint32(b[len(body):]); sum != want {
		return idemtype.Record{}, fmt.Errorf("checksum %08x, want %08x (torn or damaged file)", sum, want)
	}
	st := idemtype.Status(b[5])
	if st < idemtype.StatusInProgress || st > idemtype.StatusFailed {
		return idemtype.Record{}, fmt.Errorf("unknown status %d", b[5])
	}
	if b[6] != 0 || b[7] != 0 {
		return idemtype.Record{}, fmt.Errorf("reserved bytes set")
	}
	tok := idemtype.Token(le.Uint64(b[8:]))
	if tok == 0 {
		return idemtype.Record{}, fmt.Errorf("zero token")
	}
	k, f, v := uint64(le.Uint32(b[48:])), uint64(le.Uint32(b[52:])), uint64(le.Uint32(b[56:]))
	if headerSize+k+f+v != uint64(len(body)) {
		return idemtype.Record{}, fmt.Errorf("field lengths %d+%d+%d do not match file size %d", k, f, v, len(b))
	}
	p := body[headerSize:]
	rec := idemtype.Record{
		Key:         string(p[:k]),
		Fingerprint: string(p[k : k+f]),
		Status:      st,
		Token:       tok,
		LeaseUntil:  fromUnixNano(int64(le.Uint64(b[16:]))),
		ExpiresAt:   fromUnixNano(int64(le.Uint64(b[24:]))),
		CreatedAt:   fromUnixNano(int64(le.Uint64(b[32:]))),
		UpdatedAt:   fromUnixNano(int64(le.Uint64(b[40:]))),
	}
	if v > 0 {
		// A copy, so that a caller keeping the value does not pin the
		// whole file's bytes.
		rec.Value = append([]byte(nil), p[k+f:]...)
	}
	return rec, nil
}

// headerExpiry reads the expiry from a record's header without checking
// the file; Sweep uses it to skip live records cheaply and verifies the
// whole file before removing one.
func headerExpiry(h []byte) (time.Time, bool) {
	if len(h) < headerSize || string(h[:4]) != magic || h[4] != version {
		return time.Time{}, false
	}
	return fromUnixNano(int64(binary.LittleEndian.Uint64(h[offExpires:]))), true
}

// unixNano maps the zero time to math.MinInt64, which no time in
// UnixNano's range (years 1678 to 2262) uses.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
