package idempotency

import (
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // a zone with many transitions wherever the test runs
)

// TestHeldBytes: what the replay cache counts of a value it may keep.
func TestHeldBytes(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Next *node
		S    string
	}
	loop := &node{S: "ab"}
	loop.Next = loop
	self := map[string]any{}
	self["me"] = self
	const limit = 1 << 10
	for _, tc := range []struct {
		name     string
		v        any
		min, max int
	}{
		{"Nil", nil, 0, 0},
		{"Int", 7, 8, 8},
		{"String", strings.Repeat("x", 100), 116, 116},
		{"Struct", struct {
			A, B string
			N    int32
		}{"ab", "cde", 1}, 45, 45},
		{"Array", [2]string{"ab", "c"}, 35, 35},
		{"Slice", []string{"ab", "c"}, 24 + 32 + 3, 24 + 32 + 3},
		{"Map", map[string]int{"ab": 1}, 8 + 24 + 2, 100},
		{"Pointer", &node{S: "abc"}, 8 + 24 + 3, 8 + 24 + 3},
		// Its Location is shared, however many transitions it holds.
		{"TimeInZone", time.Date(2020, 1, 1, 0, 0, 0, 0, ny), 24, 24},
		{"Large", [1 << 11]byte{}, 1 << 11, 1 << 11},
		{"LargeBehindPointer", &[1 << 11]byte{}, limit + 1, 8 + 1<<11},
		// Cycles end: past the limit or the depth.
		{"PointerCycle", loop, 8, 1 << 20},
		{"MapCycle", self, 8, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := heldBytes(reflect.ValueOf(tc.v), limit); got < tc.min || got > tc.max {
				t.Fatalf("heldBytes = %d; want %d to %d", got, tc.min, tc.max)
			}
		})
	}
}
