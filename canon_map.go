package idempotency

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
)

// mapValue encodes a map as its key/value pairs sorted by encoding, so that
// the map's iteration order does not matter.
func (e *encoder) mapValue(v reflect.Value) error {
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
