package idempotency

import (
	"bytes"
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// replayCache keeps recently decoded results so that a hot duplicate does
// not decode the same bytes again. An entry is used only for the same key,
// token, type and stored bytes: the bytes decide, since a store that
// forgot a key (Forget, expiry) may hand a later execution an old token
// again, and comparing bytes is still far cheaper than decoding them.
// Only values that callers cannot
// mutate through are cached (no pointers, slices, maps or interfaces
// inside): every caller may get the same copy.
//
// It is direct-mapped and lock-free: a slot holds the last value decoded
// for the keys that hash to it. It keeps only outcomes of at most
// replayMaxBytes decoded into values of at most about twice as many (a
// codec that compresses decodes a few bytes into many), so that what it
// holds stays within about replaySlots * 3 * replayMaxBytes whatever the
// results and the codec: decoding a larger outcome again costs little
// beside moving it from the store.
type replayCache struct {
	seed  maphash.Seed
	slots [replaySlots]atomic.Pointer[replayEntry]
}

const (
	replaySlots    = 1024
	replayMaxBytes = 4 << 10
)

type replayEntry struct {
	key   string
	token Token
	typ   reflect.Type
	raw   []byte // the stored bytes that value was decoded from
	value any
	// by names the guard that decoded value, for an entry in a record's
	// memo: guards sharing a store may read its bytes with other codecs.
	by *memoOwner
}

// memoOwner names a guard in the memos of a store's records. It is not the
// guard itself, which a record's memo would then keep alive as long as the
// record; and it has a size, so that no two are at one address.
type memoOwner struct{ _ byte }

func (c *replayCache) slot(key string) *atomic.Pointer[replayEntry] {
	return &c.slots[maphash.String(c.seed, key)%replaySlots]
}

func (c *replayCache) get(key string, token Token, typ reflect.Type, raw []byte) (any, bool) {
	return c.slot(key).Load().match(key, token, typ, raw)
}

// match returns e's value if it was decoded as typ from raw, the outcome of
// key's claim token.
func (e *replayEntry) match(key string, token Token, typ reflect.Type, raw []byte) (any, bool) {
	if e == nil || e.token != token || e.typ != typ || e.key != key || !bytes.Equal(e.raw, raw) {
		return nil, false
	}
	return e.value, true
}

// memoGet returns the value g decoded as typ from rec's outcome that the
// record's memo holds. A memo of a store's record lives as long as the
// record, so duplicates spread over many keys still skip the decoding.
func memoGet(g *Guard, rec *Record, typ reflect.Type) (any, bool) {
	e, _ := rec.Memo.Load().(*replayEntry)
	if e == nil || e.by != g.memo {
		return nil, false
	}
	return e.match(rec.Key, rec.Token, typ, rec.Value)
}

// memoPut keeps in rec's memo the value decoded as typ from its outcome.
// The store's bytes are kept as they are: it keeps them unchanged for the
// record's life, and comparing them with themselves costs nothing.
func memoPut(g *Guard, rec *Record, typ reflect.Type, value any) {
	rec.Memo.Store(&replayEntry{key: rec.Key, token: rec.Token, typ: typ, raw: rec.Value, value: value, by: g.memo})
}

// put keeps value, decoded as typ from raw, unless either is too large.
func (c *replayCache) put(key string, token Token, typ reflect.Type, raw []byte, value any) {
	if len(raw) > replayMaxBytes || heldBytes(reflect.ValueOf(value), 2*replayMaxBytes) > 2*replayMaxBytes {
		return
	}
	// A copy: the store's bytes are not ours to keep.
	c.slot(key).Store(&replayEntry{key: key, token: token, typ: typ, raw: bytes.Clone(raw), value: value})
}

// heldBytes returns about how many bytes v holds: its own size and what
// its strings, slices, maps, pointers and interfaces reach (a SharedResult
// may hold any), any number over limit once past it. A time.Time counts
// its own size only: its Location is shared by all times in it.
func heldBytes(v reflect.Value, limit int) int { return held(v, limit, 0) }

func held(v reflect.Value, limit, depth int) int {
	if !v.IsValid() {
		return 0
	}
	n := int(v.Type().Size())
	if n > limit {
		return n
	}
	return n + reached(v, limit-n, depth)
}

// reached returns about how many bytes v reaches beyond its own size,
// stopping once past limit (or deeper than a cycle would go).
func reached(v reflect.Value, limit, depth int) int {
	if depth > 16 || v.Type() == timeTypeForCache {
		return 0
	}
	n := 0
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 0
		}
		return held(v.Elem(), limit, depth+1)
	case reflect.Map:
		n = v.Len() * int(v.Type().Key().Size()+v.Type().Elem().Size())
		for it := v.MapRange(); n <= limit && it.Next(); {
			n += reached(it.Key(), limit-n, depth+1) + reached(it.Value(), limit-n, depth+1)
		}
	case reflect.Slice:
		n = v.Len() * int(v.Type().Elem().Size())
		fallthrough
	case reflect.Array:
		if refs(v.Type().Elem().Kind()) {
			for i := 0; n <= limit && i < v.Len(); i++ {
				n += reached(v.Index(i), limit-n, depth+1)
			}
		}
	case reflect.Struct:
		for i := 0; n <= limit && i < v.NumField(); i++ {
			n += reached(v.Field(i), limit-n, depth+1)
		}
	}
	return n
}

// refs reports whether a value of kind k may reach bytes beyond its own.
func refs(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		return true
	}
	return false
}

var immutableTypes sync.Map // reflect.Type -> bool

// immutable reports whether values of t can be shared between callers:
// copying one copies all of it, or the type says callers never modify it
// (SharedResult).
func immutable(t reflect.Type) bool {
	if v, ok := immutableTypes.Load(t); ok {
		return v.(bool)
	}
	ok := t.Implements(sharedResultType) || immutableType(t, 0)
	immutableTypes.Store(t, ok)
	return ok
}

var timeTypeForCache = reflect.TypeFor[time.Time]()

func immutableType(t reflect.Type, depth int) bool {
	if depth > 16 {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return immutableType(t.Elem(), depth+1)
	case reflect.Struct:
		if t == timeTypeForCache {
			return true // its *Location is never mutated
		}
		for i := range t.NumField() {
			if !immutableType(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
