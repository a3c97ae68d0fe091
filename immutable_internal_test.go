package idempotency

import (
	"reflect"
	"testing"
	"time"
)

// Values are shared between callers only if nothing in them can be
// mutated through (no pointer, slice, map, interface, channel or func),
// and only if their type is at most 16 levels deep (structs and arrays):
// deeper ones are decoded for each caller, which bounds the walk.
func TestImmutableType(t *testing.T) {
	t.Parallel()
	nested := func(levels int, wrap func(reflect.Type) reflect.Type) reflect.Type {
		typ := reflect.TypeFor[int]()
		for range levels {
			typ = wrap(typ)
		}
		return typ
	}
	inStruct := func(f reflect.Type) reflect.Type {
		return reflect.StructOf([]reflect.StructField{{Name: "F", Type: f}})
	}
	inArray := func(e reflect.Type) reflect.Type { return reflect.ArrayOf(2, e) }
	for _, tc := range []struct {
		name string
		typ  reflect.Type
		want bool
	}{
		{"Int", reflect.TypeFor[int](), true},
		{"String", reflect.TypeFor[string](), true},
		{"Time", reflect.TypeFor[time.Time](), true},
		{"StructOfValues", reflect.TypeFor[struct {
			A string
			B [2]int
			C time.Time
		}](), true},
		{"StructWithSlice", reflect.TypeFor[struct{ S []int }](), false},
		{"StructWithPointer", reflect.TypeFor[struct{ P *int }](), false},
		{"ArrayOfMaps", reflect.TypeFor[[2]map[string]int](), false},
		{"Slice", reflect.TypeFor[[]int](), false},
		{"Interface", reflect.TypeFor[any](), false},
		{"Structs16Deep", nested(16, inStruct), true},
		{"Structs17Deep", nested(17, inStruct), false},
		{"Arrays16Deep", nested(16, inArray), true},
		{"Arrays17Deep", nested(17, inArray), false},
	} {
		if got := immutableType(tc.typ, 0); got != tc.want {
			t.Errorf("%s: immutableType = %v, want %v", tc.name, got, tc.want)
		}
	}
}
