package memstore

import "testing"

// The index's table is a power of two at most 3/4 full: it grows on the
// insert that would pass 3/4, not before (memory) nor after (probes), and
// a rebuild sizes it so for the keys it keeps.
func TestIndexSize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		keys int
		want int // entries in the table
	}{
		{name: "None", keys: 0, want: 0},
		{name: "One", keys: 1, want: 8},
		{name: "ThreeQuartersOf8", keys: 6, want: 8},
		{name: "Past8", keys: 7, want: 16},
		{name: "ThreeQuartersOf16", keys: 12, want: 16},
		{name: "Past16", keys: 13, want: 32},
		{name: "ThreeQuartersOf1024", keys: 768, want: 1024},
		{name: "Past1024", keys: 769, want: 2048},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var grown index
			for i := range c.keys {
				grown.insert(uint32(i)*2654435761, uint32(i))
			}
			if got := len(grown.entries); got != c.want {
				t.Errorf("after %d inserts: %d entries, want %d", c.keys, got, c.want)
			}
			if got := len(sized(c.keys).entries); got != c.want {
				t.Errorf("sized(%d): %d entries, want %d", c.keys, got, c.want)
			}
		})
	}
}
