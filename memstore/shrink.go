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

// shrinkMap returns m, or a copy of m sized for its entries when it holds
// under a quarter of *peak, which it then resets. *peak tracks the most
// entries m held since it was made.
func shrinkMap[V any](m map[string]V, peak *int) map[string]V {
	n := len(m)
	if n > *peak {
		*peak = n
	}
	if *peak < shrinkMin || 4*n >= *peak {
		return m
	}
	c := make(map[string]V, n)
	for k, v := range m {
		c[k] = v
	}
	*peak = n
	return c
}

// shrink rebuilds the shard's containers that fell well below their peak.
func (sh *shard) shrink() {
	if sh.noShrink {
		return
	}
	sh.recs = shrinkMap(sh.recs, &sh.recsPeak)
	if sh.watchers != nil {
		sh.watchers = shrinkMap(sh.watchers, &sh.watchPeak)
	}
	if c := cap(sh.exp); c >= shrinkMin && 4*len(sh.exp) < c {
		sh.exp = append(make(expiries, 0, 2*len(sh.exp)), sh.exp...)
	}
}
