package memstore

import (
	"fmt"
	"sync/atomic"

	"github.com/idempotency-go/idempotency/idemtype"
)

// The bound a Store keeps unless Options say otherwise.
const (
	// DefaultMaxRecords is the default of [Options.MaxRecords].
	DefaultMaxRecords = 1_000_000
	// DefaultMaxBytes is the default of [Options.MaxBytes]: 1 GiB.
	DefaultMaxBytes = 1 << 30
	// RecordOverhead is what a record costs beyond its key, fingerprint and
	// value, counted against [Options.MaxBytes]: its slot, its index and
	// expiry entries and its share of the containers' spare room, as
	// measured on 64-bit platforms (TestMemoryFollowsLiveRecords checks the
	// estimate).
	RecordOverhead = 150
)

// ErrFull is the error a claim of a new key reports when the store holds
// [Options.MaxRecords] records or [Options.MaxBytes] bytes: it matches
// [idemtype.ErrStore], so the guard does not run fn (fail closed). It is
// [idemtype.ErrFull] itself, which other stores report too.
var ErrFull = idemtype.ErrFull

// usage counts what a Store holds, against its bounds. Counters are shared
// by all shards: a bound is on the whole store, however keys spread.
type usage struct {
	records, bytes       atomic.Int64
	maxRecords, maxBytes int64 // <= 0: no bound
}

func size(rec *idemtype.Record) int64 {
	return RecordOverhead + int64(len(rec.Key)+len(rec.Fingerprint)+len(rec.Value))
}

// reserve counts a new record of n bytes, or refuses it with an error
// matching ErrFull when either bound would be passed.
func (u *usage) reserve(n int64) error {
	if r := u.records.Add(1); u.maxRecords > 0 && r > u.maxRecords {
		u.records.Add(-1)
		return fmt.Errorf("%w: %d records, Options.MaxRecords is %d", ErrFull, r-1, u.maxRecords)
	}
	if b := u.bytes.Add(n); u.maxBytes > 0 && b > u.maxBytes {
		u.bytes.Add(-n)
		u.records.Add(-1)
		return fmt.Errorf("%w: %d bytes with a new record of %d, Options.MaxBytes is %d", ErrFull, b, n, u.maxBytes)
	}
	return nil
}

// free uncounts a removed record of n bytes.
func (u *usage) free(n int64) {
	u.records.Add(-1)
	u.bytes.Add(-n)
}
