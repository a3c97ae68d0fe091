package idempotency

import (
	"context"
	"hash/maphash"
	"io"
	"sync/atomic"

	"github.com/idempotency-go/idempotency/memstore"
)

// Guard runs functions at most once per key, recording executions in a
// Store. A Guard is safe for concurrent use; build one per store and
// configuration and share it.
type Guard struct {
	store    Store        // the store calls go through: user, or user timed for a CallObserver
	user     Store        // the store given to New (or the private one)
	watcher  Watcher      // nil when the store cannot notify
	noWatch  atomic.Bool  // the watcher answered errors.ErrUnsupported: poll
	calls    CallObserver // nil unless Config.Observer is one
	cfg      Config
	owned    io.Closer // the private store of New(nil, ...)
	replays  *replayCache
	memo     *memoOwner  // this guard, in records' memos
	local    *localCache // nil unless Config.LocalCache is on
	clock    clock
	poolJSON bool // results are encoded into pooled buffers (see jsonBuffer)
	renewals [1 << renewalQueuesLog2]renewals
}

// New returns a Guard over store. A nil store means a private in-memory
// store (memstore), closed by [Guard.Close]; a nil cfg means defaults. New
// panics with the error of [Config.Validate] (matching [ErrInvalidConfig]) on
// an invalid Config: a Config is written by a programmer, not read from
// input. Call Validate first where it is read from input.
func New(store Store, cfg *Config) *Guard {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	g := &Guard{cfg: c.withDefaults(), store: store, replays: &replayCache{seed: maphash.MakeSeed()}, memo: new(memoOwner)}
	g.local = newLocalCache(g.cfg.LocalCache)
	_, isJSON := g.cfg.Codec.(JSONCodec)
	g.poolJSON = isJSON
	g.setClock(realClock{})
	if store == nil {
		m := memstore.New(nil)
		g.store, g.owned = m, m
	}
	g.user = g.store
	g.watcher, _ = g.store.(Watcher)
	if co, ok := g.cfg.Observer.(CallObserver); ok {
		g.calls = co
		g.store = observedStore{Store: g.user, g: g}
	}
	return g
}

func (g *Guard) setClock(c clock) {
	g.clock = c
	for i := range g.renewals {
		g.renewals[i].clock = c
	}
}

// Store returns the guard's store.
func (g *Guard) Store() Store { return g.user }

// Config returns the guard's configuration with defaults filled in.
func (g *Guard) Config() Config { return g.cfg }

// Lookup returns the live record for key, or an error matching [ErrNotFound].
// It asks the store, never the local cache.
func (g *Guard) Lookup(ctx context.Context, key string) (Record, error) {
	return g.store.Get(ctx, key)
}

// Forget deletes the record for key, so that the next call runs fn again.
// It is meant for operators (an abandoned key under NoTakeover, a bad
// remembered outcome); an execution still running under key can then no
// longer record its outcome. The key's entry in this guard's local cache
// ([Config.LocalCache]) is dropped at once; other guards see the deletion
// once their entries age out.
func (g *Guard) Forget(ctx context.Context, key string) error {
	err := g.store.Delete(ctx, key)
	if g.local != nil {
		// After the delete: a duplicate that read the record before it
		// cannot cache it any more.
		g.local.drop(key)
	}
	return err
}

// Close releases the private store of a Guard made with a nil store. It
// does not close a store passed to New.
func (g *Guard) Close() error {
	if g.owned != nil {
		return g.owned.Close()
	}
	return nil
}
