package memstore

import "math"

// ExpiryEntries reports the entries of the expiry heaps, for tests.
func ExpiryEntries(s *Store) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.exp)
		sh.mu.Unlock()
	}
	return n
}

// DisableShrink makes s keep the memory of its peak, as Go maps and slices
// do, to show what shrinking buys.
func DisableShrink(s *Store) {
	for i := range s.shards {
		s.shards[i].noShrink = true
	}
}

// Bounds reports the store's MaxRecords and MaxBytes in force (0: none).
func Bounds(s *Store) (records, bytes int64) { return s.use.maxRecords, s.use.maxBytes }

// NextDue reports the earliest entry of the expiry heaps, in Unix
// nanoseconds (math.MaxInt64 when they are empty): when the store will
// next look at a record to expire it.
func NextDue(s *Store) int64 {
	due := int64(math.MaxInt64)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if len(sh.exp) > 0 {
			due = min(due, s.time(sh.exp[0].at).UnixNano())
		}
		sh.mu.Unlock()
	}
	return due
}

// Usage reports what the store counts against its bounds, and what its
// records add up to when counted again one by one.
func Usage(s *Store) (records, bytes, recountRecords, recountBytes int64) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for i := range sh.slots {
			if sh.slots[i].status != 0 {
				recountRecords++
				recountBytes += sh.slots[i].size()
			}
		}
		sh.mu.Unlock()
	}
	return s.use.records.Load(), s.use.bytes.Load(), recountRecords, recountBytes
}

// Shards reports how many shards s has.
func Shards(s *Store) int { return len(s.shards) }

// Peaks reports, summed over shards, the peaks the record and watch maps
// are remembered to have grown to (see shrink).
func Peaks(s *Store) (records, watchers int) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		records += sh.recsPeak
		watchers += sh.watchPeak
		sh.mu.Unlock()
	}
	return records, watchers
}

// ExpiryCap reports the capacity of the expiry heaps, summed over shards.
func ExpiryCap(s *Store) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += cap(sh.exp)
		sh.mu.Unlock()
	}
	return n
}

// Watchers reports how many keys s holds a watch entry for.
func Watchers(s *Store) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.watchers)
		sh.mu.Unlock()
	}
	return n
}

// Arena reports the bytes of the shards' arenas (keys, fingerprints and
// values), garbage included.
func Arena(s *Store) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.data)
		sh.mu.Unlock()
	}
	return n
}

// StaleReads reports how many reads (records as duplicates are given
// them) hold a value outside their shard's arena: one left behind when
// the arena was made anew, which would keep the old arena alive.
func StaleReads(s *Store) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j, r := range sh.reads {
			if r != nil && len(r.rec.Value) > 0 {
				sl := &sh.slots[j]
				if &r.rec.Value[0] != &sh.data[sl.valAt] {
					n++
				}
			}
		}
		sh.mu.Unlock()
	}
	return n
}
