package idempotency_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

type point struct {
	X, Y int
}

type reordered struct {
	Y, X int
}

type withHidden struct {
	ID      string
	Attempt int `idempotency:"-"`
	secret  string
}

type node struct {
	Next *node
}

func key(t *testing.T, args ...any) string {
	t.Helper()
	k, err := idempotency.Key("f", args...)
	if err != nil {
		t.Fatalf("Key(%#v): %v", args, err)
	}
	return k
}

func TestKeyEqualValues(t *testing.T) {
	t.Parallel()
	i, j := 5, 5
	tm := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		a, b []any
	}{
		{"MapOrder", []any{map[string]int{"a": 1, "b": 2, "c": 3}}, []any{map[string]int{"c": 3, "b": 2, "a": 1}}},
		{"StructFieldOrder", []any{point{1, 2}}, []any{reordered{X: 1, Y: 2}}},
		{"IntegerTypes", []any{int8(7)}, []any{uint64(7)}},
		{"Pointers", []any{&i}, []any{&j}},
		{"TimeZones", []any{tm}, []any{tm.In(time.FixedZone("X", 3600))}},
		{"NilSliceEmptySlice", []any{[]int(nil)}, []any{[]int{}}},
		{"NegativeZero", []any{math.Copysign(0, -1)}, []any{0.0}},
		{"IgnoredField", []any{withHidden{ID: "a", Attempt: 1}}, []any{withHidden{ID: "a", Attempt: 2}}},
		{"NestedMaps", []any{map[string]any{"x": map[int]string{1: "a", 2: "b"}}}, []any{map[string]any{"x": map[int]string{2: "b", 1: "a"}}}},
		{"ByteArrayAndSlice", []any{[3]byte{1, 2, 3}}, []any{[]byte{1, 2, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if a, b := key(t, tc.a...), key(t, tc.b...); a != b {
				t.Fatalf("%#v and %#v give %s and %s", tc.a, tc.b, a, b)
			}
		})
	}
}

func TestKeyDifferentValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []any
	}{
		{"ListOrder", []any{[]int{1, 2}}, []any{[]int{2, 1}}},
		{"ArgumentOrder", []any{1, 2}, []any{2, 1}},
		{"ArgumentSplit", []any{"ab", "c"}, []any{"a", "bc"}},
		{"NestingVsFlat", []any{[]any{1, 2}}, []any{1, 2}},
		{"StringVsBytes", []any{"a"}, []any{[]byte("a")}},
		{"StringVsInt", []any{"1"}, []any{1}},
		{"IntVsFloat", []any{1}, []any{1.0}},
		{"Sign", []any{-1}, []any{1}},
		{"UnexportedField", []any{withHidden{secret: "x"}}, []any{withHidden{secret: "y"}}},
		{"NilVsZero", []any{nil}, []any{0}},
		{"EmptyStringVsNil", []any{""}, []any{nil}},
		{"Separators", []any{"a/b"}, []any{"a_b"}},
		{"MapVsList", []any{map[int]int{0: 1}}, []any{[]int{1}}},
		{"Bool", []any{true}, []any{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if a, b := key(t, tc.a...), key(t, tc.b...); a == b {
				t.Fatalf("%#v and %#v share key %s", tc.a, tc.b, a)
			}
		})
	}
}

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	k, err := idempotency.Key("create_invoice", "4242 4242 4242 4242", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	name, digest, ok := strings.Cut(k, ":")
	if !ok || name != "create_invoice" || len(digest) != 43 || strings.ContainsAny(digest, "+/=") {
		t.Fatalf("key %q, want create_invoice:<43 base64url chars>", k)
	}
	if strings.Contains(k, "4242") || strings.Contains(k, "alice") {
		t.Fatalf("key %q shows raw argument values", k)
	}
	// The encoding is part of the key format: it must not change between
	// releases, or stored records would be missed after an upgrade.
	if k2 := key(t, map[string]any{"n": 1, "s": []string{"a"}}); k2 != "f:yCwdOhL922CIlEOPIrLjps4uu65RXvIFyTkagABC7Os" {
		t.Fatalf("key format changed: %s", k2)
	}
	// Structs: field order, skipped and unexported fields, nesting, times.
	v := goldenOuter{Name: "n", Skip: "x", Inner: goldenInner{Z: 1, a: "p", When: time.Unix(1700000000, 5).UTC()},
		Ptr: &goldenInner{Z: 2}, hidden: []int{3, 4}, Amount: -7, Aa: 1.5, Bb: math.Copysign(0, -1),
		Tags: map[string]int{"b": 1, "a": 2}, Any: goldenInner{Z: 9}}
	if k3 := key(t, v, struct{}{}, struct{ B, A int }{1, 2}); k3 != "f:lwGrG4Z2JPqlzdhuvicSXnFzG32RzGC8gNoRtstxC-s" {
		t.Fatalf("key format of structs changed: %s", k3)
	}
}

type goldenInner struct {
	Z    int
	a    string
	When time.Time
}

type goldenOuter struct {
	Name   string
	Skip   string `idempotency:"-"`
	Inner  goldenInner
	Ptr    *goldenInner
	hidden []int
	Amount int64
	Aa, Bb float64
	Tags   map[string]int
	Any    any
}

func TestKeyUnencodable(t *testing.T) {
	t.Parallel()
	cyc := &node{}
	cyc.Next = cyc
	self := []any{nil}
	self[0] = self
	deep := any(1)
	for range 100 {
		deep = []any{deep}
	}
	for name, arg := range map[string]any{
		"Func":         func() {},
		"Chan":         make(chan int),
		"NaN":          math.NaN(),
		"NaNInMap":     map[string]float64{"x": math.NaN()},
		"PointerCycle": cyc,
		"SliceCycle":   self,
		"TooDeep":      deep,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k, err := idempotency.Key("f", arg)
			if !errors.Is(err, idempotency.ErrInvalidKey) || k != "" {
				t.Fatalf("Key(%s) = %q, %v; want ErrInvalidKey", name, k, err)
			}
		})
	}
}

// FuzzKey checks the two properties keys live by: equal values give equal
// keys (a value and its deep copy through another map order), and values
// that differ give different keys.
func FuzzKey(f *testing.F) {
	f.Add("a/b", "a_b", int64(1), int64(1), 1.5, []byte{0})
	f.Add("", "\x00", int64(-1), int64(math.MaxInt64), math.Inf(1), []byte("x"))
	f.Add("café", "cafe\u0301", int64(0), int64(math.MinInt64), math.Copysign(0, -1), []byte(nil))
	f.Fuzz(func(t *testing.T, s1, s2 string, i1, i2 int64, fl float64, b []byte) {
		if math.IsNaN(fl) {
			if _, err := idempotency.Key("f", fl); !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("NaN accepted: %v", err)
			}
			return
		}
		m1 := map[string]any{s1: i1, s2: []any{fl, b}}
		m2 := map[string]any{s2: []any{fl, b}, s1: i1}
		if s1 == s2 {
			m1, m2 = map[string]any{s1: i1}, map[string]any{s1: i1}
		}
		if a, b := key(t, m1, s1, i1), key(t, m2, s1, i1); a != b {
			t.Fatalf("equal values, keys %s and %s", a, b)
		}
		if (s1 != s2) != (key(t, s1) != key(t, s2)) {
			t.Fatalf("strings %q and %q: equality not kept by keys", s1, s2)
		}
		if (i1 != i2) != (key(t, i1) != key(t, i2)) {
			t.Fatalf("ints %d and %d: equality not kept by keys", i1, i2)
		}
		if key(t, s1, s2) == key(t, s1+s2) && s1 != "" && s2 != "" {
			t.Fatalf("(%q, %q) and %q share a key", s1, s2, s1+s2)
		}
		if key(t, b) == key(t, string(b)) {
			t.Fatalf("bytes and string %q share a key", b)
		}

		// Composite values: keys are equal exactly when the values are.
		type rec struct {
			A string
			B []byte
			F float64
			N int64
			M map[string]int64
			L []any
		}
		v1 := rec{s1, b, fl, i1, map[string]int64{s1: i1, "x" + s2: 1}, []any{s1, fl, b}}
		v2 := rec{s2, b, fl, i2, map[string]int64{"x" + s2: 1, s2: i2}, []any{s2, fl, b}}
		if same := reflect.DeepEqual(v1, v2); same != (key(t, v1) == key(t, v2)) {
			t.Fatalf("%+v and %+v: deeply equal %v, keys equal %v", v1, v2, same, !same)
		}
		if fl2 := fl * 2; fl2 != fl && key(t, rec{F: fl}) == key(t, rec{F: fl2}) {
			t.Fatalf("floats %v and %v share a key", fl, fl2)
		}
		if len(b) > 0 && key(t, rec{B: b}) == key(t, rec{B: b[:len(b)-1]}) {
			t.Fatalf("bytes %q and a prefix share a key", b)
		}
	})
}

// Blank (_) fields share a name; when memory filled behind the language's
// back gives them values, those order like map keys that encode alike, so
// the key does not depend on which blank field holds which value.
func TestKeyBlankFields(t *testing.T) {
	t.Parallel()
	type blanks struct {
		_ int
		A int
		_ int
		_ string
	}
	set := func(b *blanks, first, second int64) {
		v := reflect.ValueOf(b).Elem()
		*(*int64)(v.Field(0).Addr().UnsafePointer()) = first
		*(*int64)(v.Field(2).Addr().UnsafePointer()) = second
	}
	var x, y blanks
	set(&x, 2, 1)
	set(&y, 1, 2)
	if kx, ky := key(t, x), key(t, y); kx != ky || kx != "f:_og0qtIeaJ9e-18YPoPC3ncG9TKovUSNkCV5ViwM6A8" {
		t.Fatalf("keys %s and %s", kx, ky)
	}
}
