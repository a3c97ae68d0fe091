package idempotency

import (
	"bytes"
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// LocalCacheConfig configures the guard's local cache of outcomes
// ([Config.LocalCache]): a duplicate of a key whose outcome this guard saw
// recently is answered from memory, with no store round trip.
//
// The cache keeps completed records and remembered failures (final
// outcomes), never in-progress ones, with their fingerprints: a cached
// duplicate gets exactly what the store would have answered then, by the
// same rules (the stored result, [ErrKeyReused] for another fingerprint,
// [ErrDuplicate] under Reject, the remembered failure), and observers see
// the same events, less the store's ([EventStore]).
//
// What it costs is staleness. [Guard.Forget] drops the key's entry at once,
// but a record deleted any other way (Forget in another process or through
// another Guard, Store.Delete) is seen by this guard only once its
// entry ages out: after at most MaxAge. Until then duplicates here replay
// the forgotten outcome instead of running fn again. An entry never
// outlives its record's ExpiresAt, read on this process's clock; a store
// that judges expiry on a clock running ahead of it (Redis, PostgreSQL)
// forgets the record that much earlier, and the cache within MaxAge.
type LocalCacheConfig struct {
	// MaxAge is how long an outcome is served from the cache after the
	// guard read it from the store or recorded it: the bound on staleness.
	// Default 0: no cache. Negative values are invalid.
	MaxAge time.Duration
	// MaxEntries bounds the outcomes kept; once full, the oldest entry
	// makes room for a new one. Each entry holds its key and the stored
	// value. Default [DefaultLocalCacheEntries] when MaxAge is set. Negative
	// values, and MaxEntries without MaxAge, are invalid.
	MaxEntries int
}

// DefaultLocalCacheEntries is the default [LocalCacheConfig.MaxEntries].
const DefaultLocalCacheEntries = 10_000

// localCache holds recent final records by key. It is sharded, each shard
// a map and a list in insertion order: with one MaxAge for all entries the
// oldest inserted is the nearest to aging out, so it is the one evicted.
type localCache struct {
	maxAge time.Duration
	limit  int // entries per shard
	seed   maphash.Seed
	shards []localShard
}

type localShard struct {
	mu sync.RWMutex
	// epoch counts drops. A record read from the store is cached only if
	// no drop came between the read and the put: otherwise a Forget racing
	// with a duplicate could leave the forgotten outcome cached after
	// Forget returned.
	epoch          uint64
	m              map[string]*localEntry
	newest, oldest *localEntry
}

// A localEntry's rec and until never change once it is cached, so a
// caller may read them without the lock.
type localEntry struct {
	rec        Record
	until      time.Time // served while now is before it
	newer, old *localEntry
	// decoded is rec.Value decoded, for immutable result types (see
	// replay): a cached duplicate decodes nothing, over any number of keys.
	decoded atomic.Pointer[decodedValue]
}

type decodedValue struct {
	typ   reflect.Type
	value any
}

func (e *localEntry) value(typ reflect.Type) (any, bool) {
	if d := e.decoded.Load(); d != nil && d.typ == typ {
		return d.value, true
	}
	return nil, false
}

func (e *localEntry) keep(typ reflect.Type, v any) {
	e.decoded.Store(&decodedValue{typ, v})
}

// Shards of at least this many entries; fewer entries make one shard, so
// that a small MaxEntries is exact.
const localShardMin = 128

func newLocalCache(c LocalCacheConfig) *localCache {
	if c.MaxAge <= 0 {
		return nil
	}
	n := 1
	for n < 32 && c.MaxEntries/(2*n) >= localShardMin {
		n *= 2
	}
	lc := &localCache{maxAge: c.MaxAge, limit: c.MaxEntries / n, seed: maphash.MakeSeed(), shards: make([]localShard, n)}
	for i := range lc.shards {
		lc.shards[i].m = make(map[string]*localEntry)
	}
	return lc
}

func (c *localCache) shard(key string) *localShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// get returns the entry for key if it is still fresh at now (else nil),
// and the shard's epoch to put what the store answers instead.
func (c *localCache) get(key string, now time.Time) (*localEntry, uint64) {
	s := c.shard(key)
	s.mu.RLock()
	e, epoch := s.m[key], s.epoch
	s.mu.RUnlock()
	if e != nil && !now.Before(e.until) {
		e = nil
	}
	return e, epoch
}

// put caches rec, a record the store held at now, unless it is not final,
// expires by now, or the key was dropped since epoch was read. A fresh
// entry of a later execution (a larger token) is kept over rec.
func (c *localCache) put(rec Record, epoch uint64, now time.Time) {
	if !rec.Status.Final() {
		return
	}
	until := now.Add(c.maxAge)
	if !rec.ExpiresAt.IsZero() && rec.ExpiresAt.Before(until) {
		until = rec.ExpiresAt
	}
	if !now.Before(until) {
		return
	}
	// The entry's own copy of the value, and no memo: the store's bytes
	// may be an arena the store packs away (memstore), which the entry
	// would keep alive for MaxAge, and a recorded encoding may be bytes the
	// result keeps and its caller changes.
	rec.Value, rec.Memo = bytes.Clone(rec.Value), nil
	s := c.shard(rec.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return
	}
	if old := s.m[rec.Key]; old != nil {
		if old.rec.Token > rec.Token && now.Before(old.until) {
			return
		}
		s.remove(old)
	}
	for len(s.m) >= c.limit {
		s.remove(s.oldest)
	}
	e := &localEntry{rec: rec, until: until, old: s.newest}
	if s.newest != nil {
		s.newest.newer = e
	} else {
		s.oldest = e
	}
	s.newest = e
	s.m[rec.Key] = e
}

// drop forgets key and refuses the puts of reads made before.
func (c *localCache) drop(key string) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	if e := s.m[key]; e != nil {
		s.remove(e)
	}
}

func (s *localShard) remove(e *localEntry) {
	if e.newer != nil {
		e.newer.old = e.old
	} else {
		s.newest = e.old
	}
	if e.old != nil {
		e.old.newer = e.newer
	} else {
		s.oldest = e.newer
	}
	delete(s.m, e.rec.Key)
}

func (c *localCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
