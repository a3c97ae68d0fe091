package idempotency_test

import (
	"context"
	"encoding"
	"errors"
	"math"
	"math/big"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

type (
	embedTime struct {
		time.Time
		Amount int
	}
	embedTimePtr struct {
		*time.Time
		Amount int
	}
	embedIP struct {
		net.IP
		Amount int
	}
	embedAddr struct {
		netip.Addr
		Amount int
	}
	embedBigFloat struct { // promoted through the pointer: (*big.Float).MarshalText
		*big.Float
		Amount int
	}
	embedIface struct {
		encoding.TextMarshaler
		Amount int
	}
	hiddenText struct{ N int }
	embedUnexp struct {
		hiddenText
		Amount int
	}
	embedTwoDeep struct {
		embedTime
		Note string
	}
	definedEmbed embedTime // a defined type keeps the promoted method
)

func (hiddenText) MarshalText() ([]byte, error) { return []byte("hidden"), nil }

// A struct that embeds a type with MarshalText has the method promoted,
// but the method speaks for the embedded value only: the struct must
// encode as its fields, or two calls differing in the other fields share
// a key and the second gets the first one's result.
func TestKeyEmbeddedMarshalerIsNotTheStruct(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ip := net.ParseIP("192.0.2.1")
	addr := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		name string
		a, b any
	}{
		{"Time", embedTime{when, 1}, embedTime{when, 2}},
		{"TimePointer", embedTimePtr{&when, 1}, embedTimePtr{&when, 2}},
		{"NetIP", embedIP{ip, 1}, embedIP{ip, 2}},
		{"NetipAddr", embedAddr{addr, 1}, embedAddr{addr, 2}},
		{"PointerReceiver", embedBigFloat{big.NewFloat(1), 1}, embedBigFloat{big.NewFloat(1), 2}},
		{"Interface", embedIface{addr, 1}, embedIface{addr, 2}},
		{"Unexported", embedUnexp{hiddenText{1}, 1}, embedUnexp{hiddenText{1}, 2}},
		{"TwoDeep", embedTwoDeep{embedTime{when, 1}, "x"}, embedTwoDeep{embedTime{when, 1}, "y"}},
		{"DefinedType", definedEmbed{when, 1}, definedEmbed{when, 2}},
		{"InSlice", []embedTime{{when, 1}}, []embedTime{{when, 2}}},
		{"InMap", map[string]any{"v": embedIP{ip, 1}}, map[string]any{"v": embedIP{ip, 2}}},
		{"ThroughPointer", &embedAddr{addr, 1}, &embedAddr{addr, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if a, b := key(t, tc.a), key(t, tc.b); a == b {
				t.Fatalf("%+v and %+v share key %s", tc.a, tc.b, a)
			}
		})
	}
}

type ownOverEmbedded struct {
	time.Time
	Amount int
}

// The type's own MarshalText stands for it, even when it shadows an
// embedded one: the author said what identifies the value.
func (o ownOverEmbedded) MarshalText() ([]byte, error) { return []byte("own"), nil }

type ownText struct{ A int }

func (ownText) MarshalText() ([]byte, error) { return []byte("own"), nil }

// afterHidden's exported field encodes after its unexported one (names
// sort by length first): leaving the unexported field must restore the
// encoder, or the later MarshalText is not called.
type afterHidden struct {
	a  int
	Zz ownText
}

func TestKeyOwnMarshalerStandsForTheValue(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, vs := range map[string][2]any{
		"OverEmbedded": {ownOverEmbedded{when, 1}, ownOverEmbedded{when.Add(time.Hour), 2}},
		"Plain":        {ownText{1}, ownText{2}},
		"Pointer":      {&ownText{1}, ownText{2}},
		"SameText":     {ownOverEmbedded{when, 1}, ownText{2}},
		"AfterHidden":  {afterHidden{1, ownText{1}}, afterHidden{1, ownText{2}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if a, b := key(t, vs[0]), key(t, vs[1]); a != b {
				t.Fatalf("own MarshalText gives %q for both, but keys %s and %s", "own", a, b)
			}
		})
	}
}

type (
	stamp    time.Time
	stamp2   stamp
	stampPtr *time.Time
	inStruct struct {
		At  stamp
		Opt *stamp
	}
	inHidden struct{ at stamp }
)

// Times compare as instants whatever their named type and wherever they
// sit: neither the location nor the monotonic reading changes a key, and
// another instant always does.
func TestKeyDefinedTimesAreInstants(t *testing.T) {
	t.Parallel()
	now := time.Now() // carries a monotonic reading
	same := now.Round(0).In(time.FixedZone("X", -7*3600))
	later := now.Add(time.Nanosecond)
	type wrap func(time.Time) any
	for name, w := range map[string]wrap{
		"Defined":        func(t time.Time) any { return stamp(t) },
		"DefinedTwice":   func(t time.Time) any { return stamp2(t) },
		"DefinedPointer": func(t time.Time) any { return stampPtr(&t) },
		"Field":          func(t time.Time) any { return inStruct{At: stamp(t)} },
		"PointerField":   func(t time.Time) any { s := stamp(t); return inStruct{Opt: &s} },
		"Slice":          func(t time.Time) any { return []stamp{stamp(t)} },
		"Array":          func(t time.Time) any { return [1]stamp{stamp(t)} },
		"MapValue":       func(t time.Time) any { return map[string]stamp{"t": stamp(t)} },
		"MapKey":         func(t time.Time) any { return map[stamp]int{stamp(t): 1} },
		"Interface":      func(t time.Time) any { return []any{stamp(t)} },
		"Unexported":     func(t time.Time) any { return inHidden{stamp(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, b, c := key(t, w(now)), key(t, w(same)), key(t, w(later))
			if a != b {
				t.Fatalf("one instant, keys %s and %s", a, b)
			}
			if a == c {
				t.Fatalf("instants 1ns apart share key %s", a)
			}
		})
	}
	if a, b := key(t, stamp(now)), key(t, now); a != b {
		t.Fatalf("stamp and time.Time of one instant: keys %s and %s", a, b)
	}
}

// Wrap over arguments that embed a time: the receipt case. Two
// charges at the same time of different amounts both run.
func TestWrapEmbeddedTimeRunsEachCharge(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	var runs counter
	charge := idempotency.Wrap(g, "charge", func(_ context.Context, c embedTime) (int, error) {
		runs.add("charge")
		return c.Amount, nil
	})
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, amount := range []int{100, 999, 100} {
		if v, err := charge(context.Background(), embedTime{when, amount}); err != nil || v != amount {
			t.Fatalf("charge %d = %d, %v", amount, v, err)
		}
	}
	if n := runs.get("charge"); n != 2 {
		t.Fatalf("fn ran %d times for two distinct charges and one retry, want 2", n)
	}
}

type badText struct{}

func (badText) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

type errOrder struct {
	ID    string
	Lines []errLine
}

type errLine struct{ Price float64 }

type errHook struct {
	Name string
	Hook func()
}

// Errors for values that cannot be encoded say which argument, where in
// it and why, and never show the values themselves.
func TestKeyErrorsSayWhere(t *testing.T) {
	t.Parallel()
	secret := "4242424242424242"
	tests := []struct {
		name string
		args []any
		want string
	}{
		{"Func", []any{"x", func() {}}, `idempotency: invalid key: Key("f", ...): argument 1 (func()): cannot encode a value of type func()`},
		{"NaNInField", []any{errOrder{ID: secret, Lines: []errLine{{Price: 1}, {Price: math.NaN()}}}},
			`idempotency: invalid key: Key("f", ...): argument 0 (idempotency_test.errOrder): field Lines: index 1: field Price: cannot encode NaN`},
		{"ChanInMap", []any{map[string]any{secret: make(chan int)}},
			`idempotency: invalid key: Key("f", ...): argument 0 (map[string]interface {}): map value: cannot encode a value of type chan int`},
		{"MarshalTextFails", []any{1, 2, badText{}},
			`idempotency: invalid key: Key("f", ...): argument 2 (idempotency_test.badText): MarshalText of idempotency_test.badText: no text`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := idempotency.Key("f", tc.args...)
			wantErr(t, err, idempotency.ErrInvalidKey)
			if err.Error() != tc.want {
				t.Fatalf("error\n %s\nwant\n %s", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows an argument value: %s", err)
			}
		})
	}
	t.Run("Fingerprint", func(t *testing.T) {
		t.Parallel()
		g := newGuard(t, nil, nil)
		_, err := idempotency.Do(context.Background(), g, "order-1", func(context.Context) (int, error) { return 0, nil },
			idempotency.WithFingerprint(errHook{Name: secret}))
		wantErr(t, err, idempotency.ErrInvalidKey)
		want := `idempotency: invalid key: WithFingerprint payload (idempotency_test.errHook): field Hook: cannot encode a value of type func()`
		if err.Error() != want {
			t.Fatalf("error\n %s\nwant\n %s", err, want)
		}
	})
}

// MaxKeyParts and MaxKeyDepth are exact bounds: a value at the bound is
// encoded, one part or level more is refused.
func TestKeyBounds(t *testing.T) {
	t.Parallel()
	// levels returns a value n levels deep: pointers to pointers to an int.
	levels := func(n int) any {
		v := reflect.ValueOf(1)
		for range n - 1 {
			p := reflect.New(v.Type())
			p.Elem().Set(v)
			v = p
		}
		return v.Interface()
	}
	tests := []struct {
		name string
		arg  any
		ok   bool
	}{
		// The slice is one part, each element one more.
		{"PartsAtBound", make([]int, idempotency.MaxKeyParts-1), true},
		{"PartsOverBound", make([]int, idempotency.MaxKeyParts), false},
		{"BytesAreOnePart", make([]byte, 4*idempotency.MaxKeyParts), true},
		{"DepthAtBound", levels(idempotency.MaxKeyDepth), true},
		{"DepthOverBound", levels(idempotency.MaxKeyDepth + 1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := idempotency.Key("f", tc.arg)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				wantErr(t, err, idempotency.ErrInvalidKey)
			}
		})
	}
}

type dag struct{ L, R *dag }

// A value whose nodes are shared would take exponential time to walk;
// Key refuses it instead.
func TestKeySharedNodesBounded(t *testing.T) {
	t.Parallel()
	d := &dag{}
	for range 40 {
		d = &dag{L: d, R: d}
	}
	if _, err := idempotency.Key("f", d); !errors.Is(err, idempotency.ErrInvalidKey) {
		t.Fatalf("Key of a 2^40-node walk = %v, want ErrInvalidKey", err)
	}
}
