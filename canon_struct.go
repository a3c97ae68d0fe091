package idempotency

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// structValue encodes a struct as the map of its field names to values, in
// the order of the encoded names, which the type fixes.
func (e *encoder) structValue(v reflect.Value) error {
	fields := structFields(v.Type())
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
