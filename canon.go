package idempotency

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
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
		tm := v.Convert(timeType).Interface().(time.Time)
		e.buf = append(e.buf, tagTime)
		e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(tm.Unix()))
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(tm.Nanosecond()))
		return nil
	case specialText:
		if e.hidden > 0 {
			break
		}
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return fmt.Errorf("MarshalText of %v: %w", t, err)
		}
		e.str(tagText, b)
		return nil
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
	case reflect.Map:
		if v.IsNil() {
			return e.pairs(nil)
		}
		leave, err := e.enter(v)
		if err != nil {
			return err
		}
		defer leave()
		pairs := make([][2][]byte, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			k, err := e.sub(func(s *encoder) error { return s.value(it.Key()) })
			if err != nil {
				return fmt.Errorf("map key: %w", err)
			}
			val, err := e.sub(func(s *encoder) error { return s.value(it.Value()) })
			if err != nil {
				return fmt.Errorf("map value: %w", err) // the key's value stays out of messages
			}
			pairs = append(pairs, [2][]byte{k, val})
		}
		return e.pairs(pairs)
	case reflect.Struct:
		// A struct encodes as the map of its field names to values, in
		// the order of the encoded names, which the type fixes.
		fields := structFields(t)
		if fields.hidden {
			v = addressable(v)
		}
		e.buf = append(e.buf, tagMap)
		e.uvarint(uint64(len(fields.list)))
		for i := 0; i < len(fields.list); {
			f := fields.list[i]
			if f.ties == 1 {
				e.buf = append(e.buf, f.name...)
				if err := e.field(v, f); err != nil {
					return err
				}
				i++
				continue
			}
			// Blank fields (_) share a name: order them by value, as for
			// map keys that encode alike.
			pairs := make([][2][]byte, 0, f.ties)
			for _, f := range fields.list[i : i+f.ties] {
				val, err := e.sub(func(s *encoder) error { return s.field(v, f) })
				if err != nil {
					return err
				}
				pairs = append(pairs, [2][]byte{f.name, val})
			}
			e.sortedPairs(pairs)
			i += f.ties
		}
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

// field encodes the struct field f of v.
func (e *encoder) field(v reflect.Value, f field) error {
	fv := v.Field(f.index)
	if !f.exported {
		// v is addressable: read the field through an exported view, so
		// that everything under it can be read too (times, arrays,
		// whatever an interface holds).
		fv = reflect.NewAt(fv.Type(), fv.Addr().UnsafePointer()).Elem()
		e.hidden++
		defer func() { e.hidden-- }()
	}
	if err := e.value(fv); err != nil {
		return fmt.Errorf("field %s: %w", v.Type().Field(f.index).Name, err)
	}
	return nil
}

// fieldList is how a struct type encodes: its fields in the order of
// their encoded names.
type fieldList struct {
	list   []field
	hidden bool // some fields are unexported
}

type field struct {
	index    int
	name     []byte // encoded as a string
	exported bool
	ties     int // fields from this one on with the same name: 1 but for blank (_) fields
}

var fieldLists sync.Map // reflect.Type -> *fieldList

func structFields(t reflect.Type) *fieldList {
	if fl, ok := fieldLists.Load(t); ok {
		return fl.(*fieldList)
	}
	fl := &fieldList{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("idempotency") == "-" {
			continue
		}
		fl.list = append(fl.list, field{index: i, name: appendStr(nil, tagString, f.Name), exported: f.IsExported()})
		fl.hidden = fl.hidden || !f.IsExported()
	}
	// Field names are unique within a struct but for blank ones (_).
	slices.SortStableFunc(fl.list, func(a, b field) int { return bytes.Compare(a.name, b.name) })
	for i := range fl.list {
		j := i + 1
		for j < len(fl.list) && bytes.Equal(fl.list[j].name, fl.list[i].name) {
			j++
		}
		fl.list[i].ties = j - i
	}
	actual, _ := fieldLists.LoadOrStore(t, fl)
	return actual.(*fieldList)
}

// sub encodes on its own, for sorting.
func (e *encoder) sub(encode func(*encoder) error) ([]byte, error) {
	s := &encoder{depth: e.depth, seen: e.seen, hidden: e.hidden, nodes: e.nodes}
	err := encode(s)
	e.seen = s.seen
	return s.buf, err
}

func (e *encoder) pairs(pairs [][2][]byte) error {
	e.buf = append(e.buf, tagMap)
	e.uvarint(uint64(len(pairs)))
	e.sortedPairs(pairs)
	return nil
}

// sortedPairs writes key/value pairs in order. Distinct map keys may encode
// alike (int8(1) and uint(1), two pointers to equal values): those are
// ordered by value, or the encoding would follow the map's random
// iteration order.
func (e *encoder) sortedPairs(pairs [][2][]byte) {
	slices.SortFunc(pairs, func(a, b [2][]byte) int {
		if c := bytes.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return bytes.Compare(a[1], b[1])
	})
	for _, p := range pairs {
		e.buf = append(e.buf, p[0]...)
		e.buf = append(e.buf, p[1]...)
	}
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

// addressable returns v, or an addressable copy of it, so that unexported
// fields inside it can be read.
func addressable(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return v
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}
