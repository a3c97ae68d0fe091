package memstore

import (
	"math/rand/v2"
	"testing"
)

// The index against a Go map, under random inserts and removals of keys
// whose hashes collide often (few distinct hashes, many keys) and wrap
// around the table's end, which is where linear probing and moving entries
// back on removal go wrong.
func TestIndexMatchesMap(t *testing.T) {
	t.Parallel()
	for _, hashes := range []uint32{1, 3, 64, 1 << 20} {
		r := rand.New(rand.NewPCG(uint64(hashes), 7))
		var x index
		want := map[uint32]uint32{} // slot to hash
		hashOf := func(slot uint32) uint32 { return (slot*2654435761)%hashes + ^uint32(0) - hashes }
		next := uint32(0)
		for step := range 20_000 {
			if len(want) == 0 || r.IntN(100) < 55 {
				h := hashOf(next)
				x.insert(h, next)
				want[next] = h
				next++
			} else {
				var slot uint32
				for slot = range want { // any one
					break
				}
				pos := x.find(want[slot], func(s uint32) bool { return s == slot })
				if pos < 0 {
					t.Fatalf("hashes %d, step %d: slot %d not found before removal", hashes, step, slot)
				}
				x.remove(pos)
				delete(want, slot)
			}
			if x.n != len(want) {
				t.Fatalf("hashes %d, step %d: n = %d, want %d", hashes, step, x.n, len(want))
			}
			if step%97 == 0 || len(want) < 8 {
				for slot, h := range want {
					if pos := x.find(h, func(s uint32) bool { return s == slot }); pos < 0 || x.entries[pos].slot != slot+1 {
						t.Fatalf("hashes %d, step %d: slot %d at %d", hashes, step, slot, pos)
					}
				}
				if pos := x.find(hashOf(next), func(s uint32) bool { return s == next }); pos >= 0 {
					t.Fatalf("hashes %d, step %d: found slot %d never inserted", hashes, step, next)
				}
			}
		}
	}
}
