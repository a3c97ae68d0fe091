package idemtype

import "sync/atomic"

// Memo is a slot where a store's caller keeps something it derived from a
// record's Value (the guard keeps the result it decoded), so that reading
// the same outcome again does not derive it again. A store that keeps its
// records in memory may give each record one Memo for the record's life,
// in [Record.Memo]; other stores leave that nil.
//
// A Memo never changes what the store returns. What it holds is the
// caller's, and a caller must check that it was derived from the Value it
// now holds: a store may keep one Memo across outcomes of a key, and
// callers race to fill it.
type Memo struct{ v atomic.Pointer[any] }

// Load returns what Store last put in m, or nil.
func (m *Memo) Load() any {
	if p := m.v.Load(); p != nil {
		return *p
	}
	return nil
}

// Store puts v in m, replacing what it held.
func (m *Memo) Store(v any) { m.v.Store(&v) }
