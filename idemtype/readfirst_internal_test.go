package idemtype

import "testing"

// TestReadFirstAtTheRate: ReadFirstAuto reads first from an estimate of
// 3/4 on, the bound included; the sequences of claims in TestDuplicateRate
// step over it.
func TestReadFirstAtTheRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    uint32
		want bool
	}{
		{"JustUnder", rateRead - 1, false},
		{"AtTheRate", rateRead, true},
		{"JustOver", rateRead + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d DuplicateRate
			d.v.Store(tc.v)
			if got := d.ReadFirst(ReadFirstAuto); got != tc.want {
				t.Fatalf("ReadFirst at %d/%d = %v, want %v", tc.v, rateOne, got, tc.want)
			}
		})
	}
}
