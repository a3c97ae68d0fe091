package memstore

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Options configures a Store. The zero value, like a nil *Options, means
// defaults.
type Options struct {
	// Shards is the number of independently locked partitions, rounded up
	// to a power of two, at most [MaxShards]. Default: 64.
	Shards int
	// Now is the store's clock, for tests that move time by hand. Its
	// readings must lie in Unix nanoseconds' range (years 1678 to 2262),
	// as the times of [idemtype]'s rules do; they may jump anywhere in it.
	// Default: the system's monotonic clock, counted from the wall time
	// at New (a step of the wall clock after New moves no record's
	// times).
	Now func() time.Time
	// SweepInterval is how often a background goroutine removes expired
	// records; Close stops it. Default: one minute. Negative: no goroutine
	// (expired records are still dropped as their shard is written, and by
	// Sweep).
	SweepInterval time.Duration
	// MaxRecords is the most records the store holds. A claim of a new key
	// beyond it fails with an error matching [ErrFull] (and
	// [idemtype.ErrStore]), after the store has dropped what expired;
	// duplicates, takeovers and completions are never refused. Default:
	// [DefaultMaxRecords] (one million). Negative: no bound.
	MaxRecords int
	// MaxBytes bounds the bytes of the records the store holds: keys,
	// fingerprints and values, plus [RecordOverhead] per record. Claims of
	// new keys beyond it fail as beyond MaxRecords. Values are counted when
	// completed, and a completion is never refused (the call ran: its
	// outcome must be kept), so the store may pass MaxBytes by the values
	// of the calls in flight. Default: [DefaultMaxBytes] (1 GiB). Negative:
	// no bound.
	MaxBytes int64
}

// MaxShards is the most shards a Store has, whatever [Options.Shards] asks:
// more only cost memory (each shard is a lock, a map and a heap), and a
// count rounded up past it would not fit an int.
const MaxShards = 1 << 16

// Store is an in-memory idemtype.Store. The zero value is not usable; call
// New.
type Store struct {
	shards []shard
	mask   uint64
	seed   maphash.Seed
	now    func() time.Time // nil: the monotonic clock from epoch
	epoch  time.Time        // records' times are kept as offsets from it
	tokens atomic.Uint64
	use    usage
	life   idemtype.Lifecycle
}

var (
	_ idemtype.Store   = (*Store)(nil)
	_ idemtype.Watcher = (*Store)(nil)
	_ idemtype.Lister  = (*Store)(nil)
	_ idemtype.Sweeper = (*Store)(nil)
)

// New returns an empty Store. A nil opts means defaults. Call Close when
// done with it to stop its sweeper.
func New(opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	n := 64
	if o.Shards > 0 {
		n = 1
		for n < min(o.Shards, MaxShards) {
			n <<= 1
		}
	}
	s := &Store{
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		now:    o.Now,
	}
	if s.now != nil {
		// Not the clock's first reading: a clock made before it is set
		// reads the zero time at New, and offsets from there would
		// saturate. From the Unix epoch, offsets are Unix nanoseconds,
		// exact over the range the rules keep times to; one nanosecond
		// after it, so that the rules' last instant is not never.
		s.epoch = time.Unix(0, 1).In(s.now().Location())
	} else {
		s.epoch = time.Now()
	}
	s.use.maxRecords = bound(int64(o.MaxRecords), DefaultMaxRecords)
	s.use.maxBytes = bound(o.MaxBytes, DefaultMaxBytes)
	for i := range s.shards {
		s.shards[i].use = &s.use
	}
	interval := o.SweepInterval
	if interval == 0 {
		interval = time.Minute
	}
	if interval > 0 {
		s.life.Sweep(interval, func(ctx context.Context) { _, _ = s.sweep(ctx) })
	}
	return s
}

// bound maps an option to a bound: zero means def, negative none (0).
func bound(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// shard returns key's shard and the hash of key in that shard's index:
// one hash of the key serves both.
func (s *Store) shard(key string) (*shard, uint32) {
	h := maphash.String(s.seed, key)
	return &s.shards[h&s.mask], uint32(h >> 32)
}

func (s *Store) nextToken() idemtype.Token { return idemtype.Token(s.tokens.Add(1)) }

// Claim implements idemtype.Store. When the store is full it drops every
// expired record and tries once more before it refuses a new key.
func (s *Store) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	if err := s.usable(ctx, "claim", req.Key); err != nil {
		return idemtype.Claim{}, err
	}
	var c idemtype.Claim
	err := s.claim(&req, &c)
	if err != nil && errors.Is(err, ErrFull) {
		if n, _ := s.sweep(ctx); n > 0 {
			err = s.claim(&req, &c)
		}
	}
	if err != nil {
		return idemtype.Claim{}, &idemtype.OpError{Store: "memstore", Op: "claim", Key: req.Key, Err: err}
	}
	return c, nil
}

// claim decides req into c, which it fills in place: a Claim is large, and
// a duplicate's claim is the hot path.
func (s *Store) claim(req *idemtype.ClaimRequest, c *idemtype.Claim) error {
	now, at := s.clock()
	sh, h := s.shard(req.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.expire(at)
	var rec *idemtype.Record
	i, ok := sh.live(req.Key, h, at)
	var r *read
	if ok {
		if r = sh.reads[i]; r != nil {
			c.Record = r.rec
		} else {
			c.Record = sh.record(s, i, req.Key, req.Fingerprint)
		}
		rec = &c.Record
	}
	switch v, abandoned := idemtype.JudgeClaim(rec, req, now); v {
	case idemtype.Refuse:
		c.Abandoned = abandoned
		if r == nil && rec.Status == idemtype.StatusCompleted {
			c.Record.Memo = &sh.keep(i, rec).memo
		}
		return nil
	case idemtype.TakeOver:
		old := c.Record
		c.Record = idemtype.Claimed(*req, s.nextToken(), now)
		c.Record.CreatedAt, c.Record.Memo = old.CreatedAt, old.Memo
		s.use.bytes.Add(size(&c.Record) - size(&old))
		oldExpiry := sh.slots[i].expiresAt
		sh.write(s, i, &c.Record)
		sh.schedule(i, oldExpiry)
		sh.notify(req.Key)
		c.Acquired, c.TookOver = true, true
		return nil
	}
	c.Record = idemtype.Claimed(*req, 0, now)
	if err := s.use.reserve(size(&c.Record)); err != nil {
		c.Record = idemtype.Record{}
		return err
	}
	c.Record.Token = s.nextToken()
	sh.put(s, &c.Record, h)
	c.Acquired = true
	return nil
}

// Extend implements idemtype.Store.
func (s *Store) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	var rec idemtype.Record
	sh, i, now, err := s.owned(ctx, "extend", key, token, &rec)
	if err != nil {
		return err
	}
	defer sh.mu.Unlock()
	idemtype.Extended(&rec, lease, now)
	sh.writeLease(s, i, &rec)
	return nil
}

// Complete implements idemtype.Store. The value is copied into the
// store: the caller may reuse its slice.
func (s *Store) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if err := idemtype.CheckOutcome(out); err != nil {
		// Recorded, a zero status would also mark the slot free under the
		// index.
		return &idemtype.OpError{Store: "memstore", Op: "complete", Key: key, Err: err}
	}
	var rec idemtype.Record
	sh, i, now, err := s.owned(ctx, "complete", key, token, &rec)
	if err != nil {
		return err
	}
	defer sh.mu.Unlock()
	old, oldExpiry := len(rec.Value), sh.slots[i].expiresAt
	idemtype.Completed(&rec, out, now)
	s.use.bytes.Add(int64(len(rec.Value) - old))
	sh.writeOutcome(s, i, &rec)
	sh.schedule(i, oldExpiry)
	sh.notify(key)
	return nil
}

// Release implements idemtype.Store.
func (s *Store) Release(ctx context.Context, key string, token idemtype.Token) error {
	var rec idemtype.Record
	sh, i, _, err := s.owned(ctx, "release", key, token, &rec)
	if err != nil {
		return err
	}
	defer sh.mu.Unlock()
	sh.removeSlot(i)
	return nil
}

// owned locks the key's shard if token owns an in-progress record, and
// returns with the lock held, rec holding what of the record the owner's
// writes need (see shard.owned) and i the slot to write it back to.
func (s *Store) owned(ctx context.Context, op, key string, token idemtype.Token, rec *idemtype.Record) (sh *shard, i uint32, now time.Time, err error) {
	if err := s.usable(ctx, op, key); err != nil {
		return nil, 0, now, err
	}
	now, at := s.clock()
	sh, h := s.shard(key)
	sh.mu.Lock()
	i, ok := sh.live(key, h, at)
	if ok {
		*rec = sh.owned(s, i, key)
	}
	if !ok || !idemtype.Owns(rec, token, now) {
		sh.mu.Unlock()
		return nil, 0, now, idemtype.ErrLeaseLost
	}
	return sh, i, now, nil
}

// Get implements idemtype.Store.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if err := s.usable(ctx, "get", key); err != nil {
		return idemtype.Record{}, err
	}
	at := s.at()
	sh, h := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, ok := sh.live(key, h, at); ok {
		return sh.record(s, i, key, ""), nil
	}
	return idemtype.Record{}, idemtype.ErrNotFound
}

// Delete implements idemtype.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.usable(ctx, "delete", key); err != nil {
		return err
	}
	sh, h := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.remove(key, h)
	return nil
}

// Watch implements idemtype.Watcher: the channel is closed by the next
// change of the key's record in this store.
func (s *Store) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	sh, _ := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// Under the lock: Close wakes each shard's watchers under it after
	// marking the store closed, so a watch is either refused or woken.
	if err := s.usable(ctx, "watch", key); err != nil {
		return nil, nil, err
	}
	w := sh.watchers[key]
	if w == nil {
		if sh.watchers == nil {
			sh.watchers = make(map[string]*watch)
		}
		w = &watch{ch: make(chan struct{})}
		sh.watchers[key] = w
	}
	w.n++
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			if w.n--; w.n == 0 && sh.watchers[key] == w {
				delete(sh.watchers, key)
				sh.shrink()
			}
		})
	}, nil
}

// List implements idemtype.Lister.
func (s *Store) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
	if err := s.usable(ctx, "list", ""); err != nil {
		return err
	}
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return err
		}
		sh := &s.shards[i]
		at := s.at()
		sh.mu.Lock()
		var recs []idemtype.Record
		for j := range sh.slots {
			sl := &sh.slots[j]
			if k := sh.key(sl); sl.status != 0 && sl.live(at) && len(k) >= len(prefix) && string(k[:len(prefix)]) == prefix {
				recs = append(recs, sh.record(s, uint32(j), string(k), ""))
			}
		}
		sh.mu.Unlock()
		for _, rec := range recs {
			if !fn(rec) {
				return nil
			}
		}
	}
	return nil
}

// Sweep implements idemtype.Sweeper.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := s.usable(ctx, "sweep", ""); err != nil {
		return 0, err
	}
	return s.sweep(ctx)
}

func (s *Store) sweep(ctx context.Context) (int, error) {
	n := 0
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.expire(s.at())
		sh.mu.Unlock()
	}
	return n, nil
}

// Bytes reports the bytes the store counts against [Options.MaxBytes],
// expired records not yet swept included.
func (s *Store) Bytes() int64 { return s.use.bytes.Load() }

// Len reports how many records the store holds, expired ones not yet
// swept included.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.index.n
		sh.mu.Unlock()
	}
	return n
}

// Clear forgets every record, as if the store were new. Executions still
// running can no longer complete their records.
func (s *Store) Clear() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for i := range sh.slots {
			if sl := &sh.slots[i]; sl.status != 0 {
				sh.notify(string(sh.key(sl)))
				s.use.free(sl.size())
			}
		}
		sh.index = index{}
		sh.slots, sh.reads, sh.free, sh.data, sh.garbage = nil, nil, nil, nil, 0
		sh.exp = nil
		sh.recsPeak = 0
		sh.mu.Unlock()
	}
}

// Close implements idemtype.Closer: it stops the background sweeper and
// wakes every watcher; every operation after it fails with
// idemtype.ErrClosed. The records are dropped with the Store.
func (s *Store) Close() error {
	return s.life.Close(func() error {
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			for k := range sh.watchers {
				sh.notify(k)
			}
			sh.mu.Unlock()
		}
		return nil
	})
}

// usable reports why op may not run: the store is closed, or ctx ended.
func (s *Store) usable(ctx context.Context, op, key string) error {
	if s.life.Closed() {
		return &idemtype.OpError{Store: "memstore", Op: op, Key: key, Err: idemtype.ErrClosed}
	}
	return ctx.Err()
}
