package memstore

// Go maps never give back the buckets they grew, and slices keep their
// capacity, so after a burst a shard would hold the memory of its peak for
// ever. A shard therefore remembers the peak its containers grew to and
// rebuilds a container once it holds under a quarter of that peak, so
// that memory follows live records. A rebuild copies fewer entries than
// were removed since the peak, which keeps its cost amortised O(1) per
// removal.

// shrinkMin is the peak below which a container is never rebuilt: small
// shards are not worth the copying.
const shrinkMin = 256

// underPeak reports whether a container of n entries holds under a
// quarter of *peak, the most it held since it was made, and then resets
// *peak to n: it is to be rebuilt.
func underPeak(n int, peak *int) bool {
	if n > *peak {
		*peak = n
	}
	if *peak < shrinkMin || 4*n >= *peak {
		return false
	}
	*peak = n
	return true
}

// shrink rebuilds the shard's containers that fell well below their peak.
func (sh *shard) shrink() {
	if sh.noShrink {
		return
	}
	if underPeak(sh.index.n, &sh.recsPeak) {
		sh.rebuild()
	}
	if sh.watchers != nil && underPeak(len(sh.watchers), &sh.watchPeak) {
		w := make(map[string]*watch, len(sh.watchers))
		for k, v := range sh.watchers {
			w[k] = v
		}
		sh.watchers = w
	}
	if c := cap(sh.exp); c >= shrinkMin && 4*len(sh.exp) < c {
		sh.exp = append(make(expiries, 0, 2*len(sh.exp)), sh.exp...)
	}
}
