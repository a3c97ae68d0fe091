package memstore

import (
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

type shard struct {
	mu       sync.Mutex
	recs     map[string]*idemtype.Record
	exp      expiries
	watchers map[string]*watch
	use      *usage // the Store's, shared by its shards

	// The most entries recs and watchers held since they were made; see
	// shrink.
	recsPeak, watchPeak int
	noShrink            bool // tests only: show what shrinking buys

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

// entry is a record with its memo in one allocation: the shard's map
// holds a pointer to rec, which keeps both alive.
type entry struct {
	rec  idemtype.Record
	memo idemtype.Memo
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
	if !idemtype.Live(rec, now) {
		sh.remove(key)
		return nil
	}
	return rec
}

func (sh *shard) put(rec *idemtype.Record) {
	sh.recs[rec.Key] = rec
	sh.schedule(rec, time.Time{})
}

func (sh *shard) remove(key string) {
	if rec, ok := sh.recs[key]; ok {
		delete(sh.recs, key)
		sh.use.free(rec)
		sh.notify(key)
		sh.compact()
		sh.shrink()
	}
}

// compact rebuilds the expiry heap when entries of removed records (a
// release or delete leaves its entry until it comes due) outnumber the
// live records, so that many failing calls cannot hold memory for a TTL.
// A rebuild follows at least as many removals as it costs.
func (sh *shard) compact() {
	if len(sh.exp) <= 2*len(sh.recs)+64 {
		return
	}
	sh.exp = sh.exp[:0]
	for _, rec := range sh.recs {
		sh.schedule(rec, time.Time{})
	}
}

func (sh *shard) notify(key string) {
	if w := sh.watchers[key]; w != nil {
		close(w.ch)
		delete(sh.watchers, key)
	}
}

// schedule makes sure rec has an expiry entry no later than its ExpiresAt.
// An entry that comes due before a record expires (its expiry was moved
// later) is pushed again then, so moving an expiry later costs nothing now
// and the heap holds about one entry per record.
func (sh *shard) schedule(rec *idemtype.Record, old time.Time) {
	if !rec.ExpiresAt.IsZero() && (old.IsZero() || rec.ExpiresAt.Before(old)) {
		sh.exp.push(expiryEntry{at: rec.ExpiresAt.UnixNano(), key: rec.Key})
	}
}

// expire removes the records that expired by now and reports how many.
func (sh *shard) expire(now time.Time) int {
	n, at := 0, now.UnixNano()
	for len(sh.exp) > 0 && sh.exp[0].at <= at {
		key := sh.exp[0].key
		rec := sh.recs[key]
		switch {
		case rec == nil || rec.ExpiresAt.IsZero():
			sh.exp.pop()
		case !idemtype.Live(rec, now):
			sh.exp.pop()
			sh.remove(key)
			n++
		default:
			// Its expiry was moved later: move the entry in place, past
			// now so that the loop ends whatever the clocks say.
			sh.exp[0].at = max(rec.ExpiresAt.UnixNano(), at+1)
			sh.exp.down(0)
		}
	}
	return n
}

type expiryEntry struct {
	at  int64 // Unix nanoseconds: smaller and quicker to compare than a time.Time
	key string
}

// expiries is a min-heap by time, typed to spare container/heap's boxing.
type expiries []expiryEntry

func (h *expiries) push(e expiryEntry) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[i].at >= q[p].at {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *expiries) pop() expiryEntry {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = expiryEntry{}
	*h = q[:last]
	h.down(0)
	return top
}

// down restores the heap below i after q[i] moved later.
func (h expiries) down(i int) {
	for {
		l, small := 2*i+1, i
		if l < len(h) && h[l].at < h[small].at {
			small = l
		}
		if r := l + 1; r < len(h) && h[r].at < h[small].at {
			small = r
		}
		if small == i {
			return
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
}
