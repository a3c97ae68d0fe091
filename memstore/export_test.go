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
