package memstore

// index maps a shard's keys to their slots: an open-addressing table with
// linear probing and no pointers, each entry the key's hash and its slot.
// Keys themselves are compared in the arena, only when hashes match. A Go
// map of string keys would hold a pointer per record for the collector to
// follow, and cost a second hash and probe to insert after a miss.
type index struct {
	entries []entry // a power of two long, at most 3/4 full; nil when empty
	n       int     // keys held
}

type entry struct {
	hash uint32 // of the key (see Store.hash)
	slot uint32 // the key's slot + 1; 0: an empty entry
}

// minEntries is the smallest table made.
const minEntries = 8

// find returns the position of the entry for the key whose hash is h and
// for which same reports true (called with the slot of each entry of the
// same hash), or -1.
func (x *index) find(h uint32, same func(slot uint32) bool) int {
	if x.n == 0 {
		return -1
	}
	mask := uint32(len(x.entries) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.entries[i]
		if e.slot == 0 {
			return -1
		}
		if e.hash == h && same(e.slot-1) {
			return int(i)
		}
	}
}

// insert adds a key that is not in x, with hash h, for slot.
func (x *index) insert(h, slot uint32) {
	if 4*(x.n+1) > 3*len(x.entries) {
		x.resize(max(minEntries, 2*len(x.entries)))
	}
	x.place(entry{hash: h, slot: slot + 1})
	x.n++
}

// place puts e in the first empty entry from its home.
func (x *index) place(e entry) {
	mask := uint32(len(x.entries) - 1)
	i := e.hash & mask
	for x.entries[i].slot != 0 {
		i = (i + 1) & mask
	}
	x.entries[i] = e
}

// resize moves the entries into a table of n entries.
func (x *index) resize(n int) {
	old := x.entries
	x.entries = make([]entry, n)
	for _, e := range old {
		if e.slot != 0 {
			x.place(e)
		}
	}
}

// sized returns an empty index with room for n keys.
func sized(n int) index {
	if n == 0 {
		return index{}
	}
	size := minEntries
	for 3*size < 4*n {
		size <<= 1
	}
	return index{entries: make([]entry, size)}
}

// remove deletes the entry at position pos. Entries after it in its run
// move back, so that no lookup ever stops short of its key and no
// tombstones are left to slow lookups down.
func (x *index) remove(pos int) {
	mask := len(x.entries) - 1
	i := pos
	for j := (i + 1) & mask; x.entries[j].slot != 0; j = (j + 1) & mask {
		// An entry may move back to i unless its home lies after i, up
		// to j (cyclically): then i is before its home.
		home := int(x.entries[j].hash) & mask
		if (j-home)&mask >= (j-i)&mask {
			x.entries[i] = x.entries[j]
			i = j
		}
	}
	x.entries[i] = entry{}
	x.n--
	if x.n == 0 {
		x.entries = nil
	}
}
