package idempotency

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"time"
)

// The canonical encoding behind Key and WithFingerprint: a tagged,
// length-prefixed byte string in which equal values, and only equal values,
// encode alike. It is part of the key format: changing it changes every
// derived key, so it must stay stable across releases.
const (
	tagNil     = 'N'
	tagFalse   = 'F'
	tagTrue    = 'T'
	tagInt     = 'I' // sign byte, then 8 bytes of magnitude
	tagFloat   = 'D'
	tagComplex = 'C'
	tagString  = 'S'
	tagBytes   = 'B'
	tagList    = 'L'
	tagMap     = 'M' // maps and structs alike: sorted key/value pairs
	tagTime    = 'Z'
	tagText    = 'X' // encoding.TextMarshaler
)

// MaxKeyDepth and MaxKeyParts bound the work the arguments of Key (and a
// WithFingerprint payload) can cause: a cycle, or a structure that shares
// its nodes so that walking it takes exponential time, is refused with
// ErrInvalidKey rather than followed.
const (
	// MaxKeyDepth is how deeply values may nest: each list element, map
	// key or value, struct field, pointer target and interface value is a
	// level below the value holding it; the arguments are at level 1.
	MaxKeyDepth = 64
	// MaxKeyParts is how many values the arguments may have in all,
	// counted like levels (each argument, element, map key and value,
	// struct field, pointer and interface target is one part); a string,
	// a byte slice or array, a time and a value encoded by its MarshalText
	// count as one part each, whatever their length.
	MaxKeyParts = 1 << 20
)

type encoder struct {
	buf   []byte
	depth int
	seen  map[ref]bool // pointers and maps on the current path
	// hidden counts the unexported struct fields on the current path.
	// Values under one are read through an exported view of the field
	// (reflection refuses to hand out what it reached through an
	// unexported field, even to copy it), but encode as they always have:
	// TextMarshalers there are not called.
	hidden int
	nodes  *int // values encoded so far, shared with sub-encoders
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func (e *encoder) values(args []any) error {
	e.uvarint(uint64(len(args)))
	for i, a := range args {
		if err := e.value(reflect.ValueOf(a)); err != nil {
			return &argError{index: i, typ: reflect.TypeOf(a), err: err}
		}
	}
	return nil
}

func (e *encoder) uvarint(n uint64) { e.buf = binary.AppendUvarint(e.buf, n) }

func (e *encoder) str(tag byte, s []byte) { e.buf = appendStr(e.buf, tag, s) }

func appendStr[S ~string | ~[]byte](buf []byte, tag byte, s S) []byte {
	buf = append(buf, tag)
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func (e *encoder) int(neg bool, mag uint64) {
	sign := byte('+')
	if neg && mag != 0 {
		sign = '-'
	}
	e.buf = append(e.buf, tagInt, sign)
	e.buf = binary.BigEndian.AppendUint64(e.buf, mag)
}

func (e *encoder) float(tag byte, f float64) error {
	if math.IsNaN(f) {
		return fmt.Errorf("cannot encode NaN")
	}
	if f == 0 {
		f = 0 // -0 and +0 are the same value
	}
	e.buf = append(e.buf, tag)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
	return nil
}

// value encodes v: the bounds first, then the types that encode by what
// they mean (canon_special.go), then by kind.
func (e *encoder) value(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, tagNil)
		return nil
	}
	if (*e.nodes)++; *e.nodes > MaxKeyParts {
		return fmt.Errorf("more than %d parts (MaxKeyParts)", MaxKeyParts)
	}
	if e.depth++; e.depth > MaxKeyDepth {
		return fmt.Errorf("nested deeper than %d levels (MaxKeyDepth)", MaxKeyDepth)
	}
	defer func() { e.depth-- }()

	t := v.Type()
	switch specialOf(t) {
	case specialTime:
		e.time(v)
		return nil
	case specialText:
		if e.hidden == 0 {
			return e.text(v)
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.buf = append(e.buf, tagTrue)
		} else {
			e.buf = append(e.buf, tagFalse)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n < 0 {
			e.int(true, uint64(-(n+1))+1)
		} else {
			e.int(false, uint64(n))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.int(false, v.Uint())
	case reflect.Float32, reflect.Float64:
		return e.float(tagFloat, v.Float())
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		if err := e.float(tagComplex, real(c)); err != nil {
			return err
		}
		return e.float(tagComplex, imag(c))
	case reflect.String:
		e.buf = appendStr(e.buf, tagString, v.String())
	case reflect.Slice, reflect.Array:
		return e.sequence(v)
	case reflect.Map:
		return e.mapValue(v)
	case reflect.Struct:
		return e.structValue(v)
	case reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, tagNil)
			return nil
		}
		leave, err := e.enter(v)
		if err != nil {
			return err
		}
		defer leave()
		return e.value(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, tagNil)
			return nil
		}
		return e.value(v.Elem())
	default: // Func, Chan, UnsafePointer
		return fmt.Errorf("cannot encode a value of type %v", t)
	}
	return nil
}

// sequence encodes a slice or an array: plain bytes as one string, other
// elements as a list.
func (e *encoder) sequence(v reflect.Value) error {
	t := v.Type()
	if t.Elem().Kind() == reflect.Uint8 && t.Elem().PkgPath() == "" && !t.Elem().Implements(textMarshalerType) {
		if t.Kind() == reflect.Slice {
			e.str(tagBytes, v.Bytes())
		} else {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			e.str(tagBytes, b)
		}
		return nil
	}
	e.buf = append(e.buf, tagList)
	e.uvarint(uint64(v.Len()))
	for i := range v.Len() {
		if err := e.value(v.Index(i)); err != nil {
			return fmt.Errorf("index %d: %w", i, err)
		}
	}
	return nil
}

// enter marks a pointer or map as on the current path, to refuse cycles.
func (e *encoder) enter(v reflect.Value) (func(), error) {
	p := ref{v.Pointer(), v.Type()}
	if e.seen[p] {
		return nil, fmt.Errorf("cannot encode a cyclic value")
	}
	if e.seen == nil {
		e.seen = make(map[ref]bool)
	}
	e.seen[p] = true
	return func() { delete(e.seen, p) }, nil
}

type ref struct {
	p uintptr
	t reflect.Type
}
