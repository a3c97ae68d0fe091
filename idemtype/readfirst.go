package idemtype

import (
	"fmt"
	"sync/atomic"
)

// ReadFirst says whether a remote store reads a key with its plainest read
// (a GET, a SELECT by primary key) before it claims it. A duplicate of a
// finished call then costs that read and no more: no script, no write
// path. A new key costs one round trip more (the read, then the claim),
// so reading first pays only while most claims are duplicates.
//
// Whichever way a claim goes, its answer is the same: the read is trusted
// only for a finished record ([StatusCompleted] or [StatusFailed]) that is
// live at the time of the read; anything else goes on to the claim.
type ReadFirst uint8

const (
	// ReadFirstAuto reads first while the store's recent claims mostly
	// found a finished record (see [DuplicateRate]); this is the default.
	ReadFirstAuto ReadFirst = iota
	// ReadFirstAlways reads before every claim: for a key space where
	// duplicates are the rule, such as redelivered messages.
	ReadFirstAlways
	// ReadFirstNever claims at once: the fewest round trips for new keys.
	ReadFirstNever
)

// String returns "auto", "always" or "never".
func (r ReadFirst) String() string {
	switch r {
	case ReadFirstAuto:
		return "auto"
	case ReadFirstAlways:
		return "always"
	case ReadFirstNever:
		return "never"
	}
	return fmt.Sprintf("ReadFirst(%d)", uint8(r))
}

// Valid reports whether r is one of the constants above.
func (r ReadFirst) Valid() bool { return r <= ReadFirstNever }

// DuplicateRate estimates the share of a store's recent claims that found
// a finished record, to choose under [ReadFirstAuto]. The zero value is
// ready to use and starts with no duplicates seen. It is safe for
// concurrent use; concurrent updates may be lost, which only blurs an
// estimate.
type DuplicateRate struct{ v atomic.Uint32 }

const (
	rateOne   = 1 << 16 // the estimate's fixed-point 1.0
	rateShift = 4       // each claim weighs 1/16: about the last 16 count
	// rateRead is the estimate from which ReadFirstAuto reads first: 3/4.
	// Below it, the round trip a new key loses to the read outweighs what
	// duplicates save.
	rateRead = rateOne * 3 / 4
)

// Observe records one claim: finished says whether it found a finished
// record that a read first answers (by the read, or by the claim itself
// when it did not read first).
func (d *DuplicateRate) Observe(finished bool) {
	v := d.v.Load()
	if finished {
		v += (rateOne - v) >> rateShift
	} else {
		v -= v >> rateShift
	}
	d.v.Store(v)
}

// ObserveClaim records the answer of a store's claim: whether it found a
// finished record (not acquired, not in progress).
func (d *DuplicateRate) ObserveClaim(c Claim) {
	d.Observe(!c.Acquired && c.Record.Status != StatusInProgress)
}

// ObserveClaimAfter records the answer of a store's claim that follows
// its read first when read is true: the read did not answer it, so it
// counts as no duplicate whatever the claim found. A finished record the
// read cannot trust (on Redis, a key whose expiry is not the one the
// store's scripts set) would otherwise keep the store reading first, and
// each of its duplicates would cost two round trips instead of one. Without
// a read, it is ObserveClaim.
func (d *DuplicateRate) ObserveClaimAfter(read bool, c Claim) {
	if read {
		d.Observe(false)
		return
	}
	d.ObserveClaim(c)
}

// ReadFirst reports whether the next claim should read first under mode.
func (d *DuplicateRate) ReadFirst(mode ReadFirst) bool {
	switch mode {
	case ReadFirstAlways:
		return true
	case ReadFirstNever:
		return false
	}
	return d.v.Load() >= rateRead
}
