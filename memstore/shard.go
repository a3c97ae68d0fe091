package memstore

import (
	"math"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// A shard keeps its records without pointers, so that the garbage
// collector has next to nothing to scan however many records the store
// holds: a record is a slot (times as offsets from the store's epoch) and
// its key, fingerprint and value are bytes of one arena, and the index
// from keys to slots holds hashes. The one pointer a record may have is its
// read, once a duplicate has read its outcome.
type shard struct {
	mu    sync.Mutex
	index index
	slots []slot   // a record's; free ones have a zero status
	reads []*read  // by slot; made when a duplicate reads a completed record
	free  []uint32 // slots of removed records, for reuse
	// data holds the records' bytes. It is only appended to: a record
	// handed out keeps reading its bytes after the record changes, and a
	// rebuild makes a new arena rather than moving bytes in this one.
	data     []byte
	garbage  int // bytes of data no record refers to any more
	exp      expiries
	watchers map[string]*watch
	use      *usage // the Store's, shared by its shards

	// The most entries index and watchers held since they were made; see
	// shrink.
	recsPeak, watchPeak int
	noShrink            bool // tests only: show what shrinking buys

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

// never is the expiry of a record kept for ever (a zero ExpiresAt).
const never = math.MaxInt64

// slot is a record. Times are nanoseconds since the store's epoch (see
// Store.offset), which keeps the monotonic clock's judgement of leases and
// expiry that time.Time comparisons have.
type slot struct {
	at         int // the key's first byte in data, then the fingerprint's
	keyLen     uint32
	fpLen      uint32
	valAt      int
	valLen     int
	token      idemtype.Token
	leaseUntil int64
	expiresAt  int64 // never: kept for ever
	createdAt  int64
	updatedAt  int64
	hash       uint32          // the key's, for its index entry
	gen        uint32          // counts the slot's uses, for expiry entries
	status     idemtype.Status // zero: the slot is free
}

func (sl *slot) size() int64 {
	return RecordOverhead + int64(sl.keyLen) + int64(sl.fpLen) + int64(sl.valLen)
}

// live reports whether sl is live at now, as idemtype.Live does.
func (sl *slot) live(now int64) bool { return sl.expiresAt == never || now < sl.expiresAt }

type watch struct {
	ch chan struct{}
	n  int
}

func (sh *shard) key(sl *slot) []byte { return sh.data[sl.at : sl.at+int(sl.keyLen)] }

func (sh *shard) fingerprint(sl *slot) []byte {
	at := sl.at + int(sl.keyLen)
	return sh.data[at : at+int(sl.fpLen)]
}

// value returns sl's value, capped so that no append by the caller reaches
// the arena.
func (sh *shard) value(sl *slot) []byte {
	if sl.valLen == 0 {
		return nil
	}
	end := sl.valAt + sl.valLen
	return sh.data[sl.valAt:end:end]
}

// lookup returns the position in the index of key, whose hash is h, or -1.
func (sh *shard) lookup(key string, h uint32) int {
	return sh.index.find(h, func(i uint32) bool { return string(sh.key(&sh.slots[i])) == key })
}

// live returns the slot of key, whose hash is h, unless it is missing or
// expired; an expired one is removed on the way.
func (sh *shard) live(key string, h uint32, now int64) (uint32, bool) {
	pos := sh.lookup(key, h)
	if pos < 0 {
		return 0, false
	}
	i := sh.index.entries[pos].slot - 1
	if !sh.slots[i].live(now) {
		sh.removeAt(pos, key)
		return 0, false
	}
	return i, true
}

// put makes a slot for the new record rec, whose key's hash is h, and
// returns it.
func (sh *shard) put(s *Store, rec *idemtype.Record, h uint32) uint32 {
	var i uint32
	if n := len(sh.free); n > 0 {
		i = sh.free[n-1]
		sh.free = sh.free[:n-1]
	} else {
		i = uint32(len(sh.slots))
		sh.slots = append(sh.slots, slot{})
		sh.reads = append(sh.reads, nil)
	}
	sl := &sh.slots[i]
	*sl = slot{
		at:     len(sh.data),
		keyLen: uint32(len(rec.Key)),
		fpLen:  uint32(len(rec.Fingerprint)),
		hash:   h,
		gen:    sl.gen,
	}
	grow(sh, rec.Key, rec.Fingerprint)
	sh.write(s, i, rec)
	sh.index.insert(h, i)
	sh.schedule(i, never)
	return i
}

// write sets the slot's state from rec: status, token, times and, when
// it differs, the value (copied: the store owns its bytes).
func (sh *shard) write(s *Store, i uint32, rec *idemtype.Record) {
	sl := &sh.slots[i]
	sl.token = rec.Token
	sl.leaseUntil, sl.createdAt = s.offset(rec.LeaseUntil), s.offset(rec.CreatedAt)
	sh.writeOutcome(s, i, rec)
}

// writeOutcome sets what [idemtype.Completed] changes: status, value,
// update and expiry.
func (sh *shard) writeOutcome(s *Store, i uint32, rec *idemtype.Record) {
	sl := &sh.slots[i]
	sl.status, sl.updatedAt = rec.Status, s.offset(rec.UpdatedAt)
	sl.expiresAt = never
	if !rec.ExpiresAt.IsZero() {
		sl.expiresAt = s.offset(rec.ExpiresAt)
	}
	if len(rec.Value) == 0 {
		sh.garbage += sl.valLen
		sl.valAt, sl.valLen = 0, 0
		return
	}
	if sl.valLen == len(rec.Value) && &sh.data[sl.valAt] == &rec.Value[0] {
		return // its own value, read back
	}
	sh.garbage += sl.valLen
	sl.valAt, sl.valLen = len(sh.data), len(rec.Value)
	grow(sh, rec.Value, nil)
}

// grow appends a and b to the arena. An append that outgrows the arena
// copies it to a larger array: the reads, which point into the old one,
// are dropped then (see moved), else every array the arena grew through
// would stay alive.
func grow[B string | []byte](sh *shard, a, b B) {
	c := cap(sh.data)
	sh.data = append(append(sh.data, a...), b...)
	if cap(sh.data) != c {
		sh.moved()
	}
}

// writeLease sets what [idemtype.Extended] changes: lease and update.
func (sh *shard) writeLease(s *Store, i uint32, rec *idemtype.Record) {
	sl := &sh.slots[i]
	sl.leaseUntil, sl.updatedAt = s.offset(rec.LeaseUntil), s.offset(rec.UpdatedAt)
}

// record returns slot i as a Record for key. fp is the fingerprint the
// caller has at hand: when the record's is the same, its string is used
// rather than a copy.
func (sh *shard) record(s *Store, i uint32, key, fp string) idemtype.Record {
	rec := sh.state(s, i, key)
	if f := sh.fingerprint(&sh.slots[i]); string(f) != fp {
		fp = string(f)
	}
	rec.Fingerprint = fp
	return rec
}

// state is record without the fingerprint, for Get and List.
func (sh *shard) state(s *Store, i uint32, key string) idemtype.Record {
	rec := sh.owned(s, i, key)
	sl := &sh.slots[i]
	rec.LeaseUntil, rec.CreatedAt, rec.UpdatedAt = s.time(sl.leaseUntil), s.time(sl.createdAt), s.time(sl.updatedAt)
	if r := sh.reads[i]; r != nil {
		rec.Memo = &r.memo
	}
	return rec
}

// owned is what of slot i [idemtype.Owns] judges, for its owner's writes
// (writeOutcome, writeLease), which set the rest: key, status, token,
// value and expiry.
func (sh *shard) owned(s *Store, i uint32, key string) idemtype.Record {
	sl := &sh.slots[i]
	rec := idemtype.Record{Key: key, Status: sl.status, Token: sl.token, Value: sh.value(sl)}
	if sl.expiresAt != never {
		rec.ExpiresAt = s.time(sl.expiresAt)
	}
	return rec
}

// read is a completed record as duplicates are given it, made once (per
// arena: see moved): a completed record does not change until it is
// removed, and making it from its slot each time would cost a duplicate
// more than the rest of its claim. It holds the record's memo, where
// callers keep the result they decode.
type read struct {
	rec  idemtype.Record // its Memo is memo
	memo idemtype.Memo
}

// keep makes rec, the completed record of slot i, slot i's read.
func (sh *shard) keep(i uint32, rec *idemtype.Record) *read {
	r := &read{rec: *rec}
	r.rec.Memo = &r.memo
	sh.reads[i] = r
	return r
}

// moved drops the reads after the arena was made anew: a read's value,
// and whatever callers keep in its memo (the guard keeps the bytes it
// decoded), are bytes of the old arena, which they would keep alive for
// as long as their records live. The next duplicate of each record makes
// its read again, from the new arena.
func (sh *shard) moved() { clear(sh.reads) }

// remove removes the record of key, whose hash is h, if there is one.
func (sh *shard) remove(key string, h uint32) {
	if pos := sh.lookup(key, h); pos >= 0 {
		sh.removeAt(pos, key)
	}
}

// removeAt removes the record of key, at position pos of the index.
func (sh *shard) removeAt(pos int, key string) {
	i := sh.index.entries[pos].slot - 1
	sh.index.remove(pos)
	sl := &sh.slots[i]
	sh.use.free(sl.size())
	sh.garbage += int(sl.keyLen) + int(sl.fpLen) + sl.valLen
	*sl = slot{gen: sl.gen + 1}
	sh.reads[i] = nil
	sh.free = append(sh.free, i)
	sh.notify(key)
	if sh.index.n == 0 && !sh.noShrink {
		// Nothing left: every expiry entry is stale, and the slots and
		// arena can go whole.
		sh.slots, sh.reads, sh.free, sh.data, sh.garbage = nil, nil, nil, nil, 0
		clear(sh.exp)
		sh.exp = sh.exp[:0]
	}
	sh.compact()
	sh.shrink()
	sh.pack()
}

// removeSlot removes the record in slot i.
func (sh *shard) removeSlot(i uint32) {
	h := sh.slots[i].hash
	pos := sh.index.find(h, func(j uint32) bool { return j == i })
	var key string // only watchers need it: spare expiries a copy of long keys
	if len(sh.watchers) > 0 {
		key = string(sh.key(&sh.slots[i]))
	}
	sh.removeAt(pos, key)
}

// compact rebuilds the expiry heap when entries of removed records (a
// release or delete leaves its entry until it comes due) outnumber the
// live records, so that many failing calls cannot hold memory for a TTL.
// A rebuild follows at least as many removals as it costs.
func (sh *shard) compact() {
	if len(sh.exp) <= 2*sh.index.n+64 {
		return
	}
	sh.exp = sh.exp[:0]
	for i := range sh.slots {
		if sh.slots[i].status != 0 {
			sh.schedule(uint32(i), never)
		}
	}
}

func (sh *shard) notify(key string) {
	if len(sh.watchers) == 0 {
		return
	}
	if w := sh.watchers[key]; w != nil {
		close(w.ch)
		delete(sh.watchers, key)
	}
}

// schedule makes sure slot i has an expiry entry no later than its
// expiry, given the expiry it had (never for a new record). An entry that
// comes due before a record expires (its expiry was moved later) is pushed
// again then, so moving an expiry later costs nothing now and the heap
// holds about one entry per record.
func (sh *shard) schedule(i uint32, old int64) {
	if at := sh.slots[i].expiresAt; at != never && at < old {
		sh.exp.push(expiryEntry{at: at, slot: i, gen: sh.slots[i].gen})
	}
}

// expire removes the records that expired by now and reports how many.
func (sh *shard) expire(now int64) int {
	n := 0
	for len(sh.exp) > 0 && sh.exp[0].at <= now {
		e := sh.exp[0]
		sl := &sh.slots[e.slot]
		switch {
		case sl.gen != e.gen || sl.status == 0 || sl.expiresAt == never:
			sh.exp.pop()
		case !sl.live(now):
			sh.exp.pop()
			sh.removeSlot(e.slot)
			n++
		default:
			// Its expiry was moved later: move the entry in place, past
			// now so that the loop ends whatever the clocks say.
			sh.exp[0].at = max(sl.expiresAt, now+1)
			sh.exp.down(0)
		}
	}
	return n
}

// rebuild makes the shard's containers anew for its live records, sized
// for them: slots renumbered, the arena without garbage, the expiry heap
// (whose capacity shrink manages) with the entries of live slots only.
func (sh *shard) rebuild() {
	n := sh.index.n
	index := sized(n)
	slots := make([]slot, 0, n)
	reads := make([]*read, n) // none: see moved
	data := make([]byte, 0, len(sh.data)-sh.garbage)
	renum := make([]uint32, len(sh.slots)) // old slot to new slot + 1
	for i := range sh.slots {
		sl := sh.slots[i]
		if sl.status == 0 {
			continue
		}
		j := uint32(len(slots))
		renum[i] = j + 1
		sh.copyBytes(&data, &sl)
		slots = append(slots, sl)
		index.insert(sl.hash, j)
	}
	exp := sh.exp[:0]
	for _, e := range sh.exp {
		if j := renum[e.slot]; j != 0 && sh.slots[e.slot].gen == e.gen {
			e.slot, e.gen = j-1, slots[j-1].gen
			exp = append(exp, e)
		}
	}
	clear(sh.exp[len(exp):])
	sh.exp = exp
	sh.exp.init()
	sh.index, sh.slots, sh.reads, sh.data, sh.garbage, sh.free = index, slots, reads, data, 0, nil
}

// pack copies the arena without its garbage once garbage is most of it,
// so that records replaced by new ones at a steady count do not grow it
// for ever. A copy follows at least as many bytes made garbage as it
// moves.
func (sh *shard) pack() {
	if sh.garbage < packMin || 2*sh.garbage < len(sh.data) {
		return
	}
	// Room for the garbage of the next pack, so that at a steady count
	// the arena is not grown (copied) in between.
	live := len(sh.data) - sh.garbage
	data := make([]byte, 0, live+max(live, packMin)+packMin/2)
	for i := range sh.slots {
		if sh.slots[i].status != 0 {
			sh.copyBytes(&data, &sh.slots[i])
		}
	}
	sh.data, sh.garbage = data, 0
	sh.moved()
}

// copyBytes appends sl's bytes to data and points sl at them there.
func (sh *shard) copyBytes(data *[]byte, sl *slot) {
	at := len(*data)
	*data = append(*data, sh.data[sl.at:sl.at+int(sl.keyLen)+int(sl.fpLen)]...)
	if sl.valLen > 0 {
		va := len(*data)
		*data = append(*data, sh.data[sl.valAt:sl.valAt+sl.valLen]...)
		sl.valAt = va
	}
	sl.at = at
}

// packMin is the garbage below which the arena is never packed.
const packMin = 4 << 10

type expiryEntry struct {
	at   int64 // the store's offset (see Store.offset)
	slot uint32
	gen  uint32 // the slot's gen when pushed: an entry of an earlier use is stale
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

// init orders the heap from scratch.
func (h expiries) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
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

// clock returns the store's time and its offset from the epoch. The real
// clock reads only the monotonic clock, once: offsets are monotonic
// anyway, and a time.Now would read the wall clock too.
func (s *Store) clock() (time.Time, int64) {
	if s.now != nil {
		t := s.now()
		return t, s.offset(t)
	}
	d := time.Since(s.epoch)
	return s.epoch.Add(d), int64(d)
}

// at is the offset of the store's time from the epoch.
func (s *Store) at() int64 {
	if s.now != nil {
		return s.offset(s.now())
	}
	return int64(time.Since(s.epoch))
}

// offset returns t as nanoseconds since the store's epoch: by the
// monotonic clock when both have its reading, as time.Time.Sub does.
func (s *Store) offset(t time.Time) int64 { return int64(t.Sub(s.epoch)) }

// time returns the instant offset nanoseconds after the store's epoch.
func (s *Store) time(offset int64) time.Time { return s.epoch.Add(time.Duration(offset)) }
