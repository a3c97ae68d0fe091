package memstore

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
