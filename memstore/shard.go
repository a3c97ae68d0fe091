package memstore

import (
	"container/heap"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

type shard struct {
	mu       sync.Mutex
	recs     map[string]*idemtype.Record
	exp      expiries
	watchers map[string]*watch
	_        [64]byte // keep neighbouring shards' locks off one cache line
}

type watch struct {
	ch chan struct{}
	n  int
}

// live returns the key's record unless it is missing or expired; an expired
// one is removed on the way.
func (sh *shard) live(key string, now time.Time) *idemtype.Record {
	rec := sh.recs[key]
	if rec == nil {
		return nil
	}
	if !live(rec, now) {
		sh.remove(key)
		return nil
	}
	return rec
}

func (sh *shard) put(rec *idemtype.Record) {
	sh.recs[rec.Key] = rec
	sh.schedule(rec)
}

func (sh *shard) remove(key string) {
	if _, ok := sh.recs[key]; ok {
		delete(sh.recs, key)
		sh.notify(key)
	}
}

func (sh *shard) notify(key string) {
	if w := sh.watchers[key]; w != nil {
		close(w.ch)
		delete(sh.watchers, key)
	}
}

// schedule remembers when rec expires. Entries made stale by a later
// update are dropped when they come due, so the heap holds at most a few
// entries per live record.
func (sh *shard) schedule(rec *idemtype.Record) {
	if !rec.ExpiresAt.IsZero() {
		heap.Push(&sh.exp, expiryEntry{at: rec.ExpiresAt, key: rec.Key})
	}
}

// expire removes the records that expired by now and reports how many.
func (sh *shard) expire(now time.Time) int {
	n := 0
	for len(sh.exp) > 0 && !sh.exp[0].at.After(now) {
		e := heap.Pop(&sh.exp).(expiryEntry)
		if rec := sh.recs[e.key]; rec != nil && !live(rec, now) {
			sh.remove(e.key)
			n++
		}
	}
	return n
}

type expiryEntry struct {
	at  time.Time
	key string
}

type expiries []expiryEntry

func (h expiries) Len() int           { return len(h) }
func (h expiries) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiries) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiries) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiries) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
