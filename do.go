package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"
)

// Do runs fn at most once for key and returns its result; duplicates get
// the stored result instead of running fn.
//
// A first call claims key in the store, runs fn with a context carrying
// the claim's fencing token ([TokenFrom]) while renewing the lease, and
// records the outcome. A call whose key was seen before gets, by
// [Config.OnDuplicate], the stored result, the result once the running call
// finishes, or [ErrDuplicate]; a remembered failure comes back as a
// [*FailedError]. fn's own error is returned unchanged. Store failures before
// fn runs return [ErrStore] and fn does not run; a failure to record fn's
// outcome returns fn's result together with [ErrNotRecorded]. If fn panics,
// its claim is released (or the failure remembered) and the panic goes on.
func Do[T any](ctx context.Context, g *Guard, key string, fn func(context.Context) (T, error), opts ...CallOption) (v T, err error) {
	co := applyOptions(opts)
	if g.calls != nil {
		var start time.Time
		ctx, start = g.startCall(ctx, key)
		defer func() { g.endCall(ctx, key, start, &co, err) }()
	}
	var c Claim
	if err = g.acquire(ctx, key, &co, &c); err != nil {
		return v, err
	}
	co.token = c.Record.Token
	if !c.Acquired {
		return replay[T](ctx, g, &c.Record, co.cached)
	}
	co.acquired, co.tookOver = true, c.TookOver
	return execute(ctx, g, &c, fn, &co)
}

// replay decodes a completed record's value. Decoded values of immutable
// types are kept: with the entry of the local cache that answered (cached),
// else in the replay cache.
func replay[T any](ctx context.Context, g *Guard, rec *Record, cached *localEntry) (T, error) {
	if len(rec.Value) == 0 {
		err := &Error{Kind: ErrResultUnavailable, Key: rec.Key, Token: rec.Token, Err: errors.New("the result could not be encoded when it was recorded")}
		g.observe(ctx, Event{Kind: EventReplayed, Key: rec.Key, Token: rec.Token, Err: err})
		var zero T
		return zero, err
	}
	// The caches hold values of immutable types only: a value found needs
	// no judging of its type, which costs a lookup of its own.
	typ := reflect.TypeFor[T]()
	var kept any
	var ok bool
	switch {
	case cached != nil:
		kept, ok = cached.value(typ)
	case rec.Memo != nil:
		kept, ok = memoGet(g, rec, typ)
	default:
		kept, ok = g.replays.get(rec.Key, rec.Token, typ, rec.Value)
	}
	if ok {
		g.observe(ctx, Event{Kind: EventReplayed, Key: rec.Key, Token: rec.Token})
		return kept.(T), nil
	}
	cache := immutable(typ)
	v, err := decode[T](g.cfg.Codec, rec.Value)
	if err != nil {
		err = &Error{Kind: ErrResultUnavailable, Key: rec.Key, Token: rec.Token, Err: err}
		g.observe(ctx, Event{Kind: EventReplayed, Key: rec.Key, Token: rec.Token, Err: err})
		return v, err
	}
	switch {
	case cache && cached != nil:
		cached.keep(typ, v)
	case cache && rec.Memo != nil:
		memoPut(g, rec, typ, v)
	case cache:
		g.replays.put(rec.Key, rec.Token, typ, rec.Value, v)
	}
	g.observe(ctx, Event{Kind: EventReplayed, Key: rec.Key, Token: rec.Token})
	return v, nil
}

// encode marshals a result. A panicking Marshal (a MarshalJSON method
// with a bug) makes a result that cannot be encoded: fn has run, so its
// claim must still be settled, or the key would be run again once the
// lease lapsed.
// With jb, the default codec encodes into jb's buffer.
func encode[T any](c Codec, v T, jb *jsonBuffer) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("idempotency: Marshal panicked: %v", p)
		}
	}()
	if m, ok := selfEncoding(&v); ok {
		if b, err = m.MarshalResult(); err == nil && len(b) == 0 {
			err = errors.New("idempotency: MarshalResult returned no bytes")
		}
		return b, err
	}
	if jb != nil {
		return jb.marshal(v)
	}
	return c.Marshal(v)
}

// selfEncoding reports whether results of type T encode themselves: T
// implements ResultMarshaler and *T ResultUnmarshaler. The type alone
// decides, the same way for writing and reading (a *R or an interface
// holding an R goes through the Codec).
func selfEncoding[T any](p *T) (ResultMarshaler, bool) {
	if _, ok := any(p).(ResultUnmarshaler); !ok {
		return nil, false
	}
	m, ok := any(*p).(ResultMarshaler)
	return m, ok
}

// decode decodes a stored outcome. Its bytes may be shared with every
// later duplicate (memstore's own, a local cache entry's), so decoders
// that may keep what they are given, and hand it to a caller who writes
// into its result, get a copy: a ResultUnmarshaler, and every Codec but
// JSONCodec (encoding/json copies what it keeps).
func decode[T any](c Codec, data []byte) (T, error) {
	var v T
	if _, ok := selfEncoding(&v); ok {
		return v, any(&v).(ResultUnmarshaler).UnmarshalResult(bytes.Clone(data))
	}
	if _, ok := c.(JSONCodec); !ok {
		data = bytes.Clone(data)
	}
	err := c.Unmarshal(data, &v)
	return v, err
}

// execute runs fn under the claim c and records its outcome. Events are
// observed once the claim is settled, on the calling goroutine: whatever
// an Observer does, it cannot keep a claim unsettled or delay a renewal.
func execute[T any](ctx context.Context, g *Guard, c *Claim, fn func(context.Context) (T, error), co *callOptions) (v T, err error) {
	key, token := c.Record.Key, c.Record.Token
	e := g.start(ctx, key, token)
	defer e.end()
	if c.TookOver {
		g.observe(ctx, Event{Kind: EventTakeover, Key: key, Token: token})
	}
	var start time.Time // read only for an Observer: the clock costs
	if g.cfg.Observer != nil {
		start = time.Now()
	}
	done := false
	defer func() {
		if done {
			return
		}
		// fn panicked or called runtime.Goexit: free the key (or remember
		// the failure), then let the panic go on.
		p := recover()
		e.stop()
		took := g.took(start)
		perr := fmt.Errorf("panic: %v", p)
		if p == nil {
			perr = errors.New("the guarded function exited its goroutine")
		}
		co.lost, co.panicked = e.leaseLost(), perr
		settled := g.fail(ctx, c, perr, co)
		g.deliver(ctx, e, Event{Kind: EventExecuted, Key: key, Token: token, Took: took, Err: perr}, settled)
		if p != nil {
			panic(p)
		}
	}()
	v, err = fn(e)
	done = true
	e.stop()
	co.lost = e.leaseLost()
	executed := Event{Kind: EventExecuted, Key: key, Token: token, Took: g.took(start), Err: err}
	var settled Event
	if err != nil {
		switch {
		case e.leaseLost():
			// The key is no longer ours to write.
		case isContextError(e, err):
			// A cancelled call (by the caller, or at MaxExecution) is
			// not a failure worth remembering.
			settled = g.release(ctx, key, token)
		default:
			settled = g.fail(ctx, c, err, co)
		}
		g.deliver(ctx, e, executed, settled)
		return v, err
	}
	out := Outcome{Status: StatusCompleted, TTL: g.ttl(co)}
	jb := g.getJSONBuffer()
	var eerr error
	if out.Value, eerr = encode(g.cfg.Codec, v, jb); eerr != nil {
		// Duplicates get ErrResultUnavailable; fn never runs again.
		g.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "idempotency: result cannot be encoded; recorded without a value",
			g.keyAttr(key), slog.Any("error", eerr))
		out.Value = nil
	}
	if cerr := g.store.Complete(writeCtx(ctx), key, token, out); cerr != nil {
		settled = g.settleFailed(ctx, "complete", key, token, cerr)
		err = &Error{Kind: ErrNotRecorded, Key: key, Token: token, Err: cerr}
	} else {
		g.remember(&c.Record, out, co)
	}
	putJSONBuffer(jb)
	g.deliver(ctx, e, executed, settled)
	return v, err
}

// took is fn's run time since start, for an Observer.
func (g *Guard) took(start time.Time) time.Duration {
	if g.cfg.Observer == nil {
		return 0
	}
	return time.Since(start)
}

// deliver observes, once the claim is settled, what happened during the
// execution (renewal failures, a lost lease), then the execution itself,
// then the failure to settle it, if any.
func (g *Guard) deliver(ctx context.Context, e *execution, executed, settled Event) {
	lost := false
	for _, ev := range e.events {
		lost = lost || ev.Kind == EventLeaseLost
		g.observe(ctx, ev)
	}
	g.observe(ctx, executed)
	if settled.Kind != 0 && !(lost && settled.Kind == EventLeaseLost) {
		g.observe(ctx, settled)
	}
}

// isContextError reports whether err is fn's context ending (the caller's
// context, or MaxExecution), not fn's own failure: the context is done and
// err is its error or its cause. fn's own errors follow the failure policy
// even when the caller gave up meanwhile: a payment declined as the
// caller's deadline passed is still declined.
func isContextError(ctx context.Context, err error) bool {
	cerr := ctx.Err()
	if cerr == nil {
		return false
	}
	return errors.Is(err, cerr) || errors.Is(err, context.Cause(ctx))
}

func (g *Guard) ttl(co *callOptions) time.Duration {
	if co.ttl != 0 {
		return co.ttl
	}
	return g.cfg.TTL
}

// fail settles a failed execution by the failure policy. It returns the
// event of a failure to settle, if any, for the caller to observe.
func (g *Guard) fail(ctx context.Context, c *Claim, err error, co *callOptions) Event {
	key, token := c.Record.Key, c.Record.Token
	if g.cfg.OnFailure != Remember {
		return g.release(ctx, key, token)
	}
	out := Outcome{Status: StatusFailed, Value: encodeFailure(err, &g.cfg), TTL: g.ttl(co)}
	if serr := g.store.Complete(writeCtx(ctx), key, token, out); serr != nil {
		return g.settleFailed(ctx, "complete", key, token, serr)
	}
	g.remember(&c.Record, out, co)
	return Event{}
}

func (g *Guard) release(ctx context.Context, key string, token Token) Event {
	if err := g.store.Release(writeCtx(ctx), key, token); err != nil {
		// The claim lapses with its lease; nothing is lost.
		return g.settleFailed(ctx, "release", key, token, err)
	}
	return Event{}
}

// writeCtx is the context for recording an outcome. fn has run, so the
// record must be written even if the caller gave up meanwhile: the caller's
// cancellation does not reach the store (its values do). Stores bound their
// own I/O (network clients time out).
func writeCtx(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx // never cancelled: nothing to detach
	}
	return context.WithoutCancel(ctx)
}

// storeError logs and observes a failed store operation of the calling
// goroutine.
func (g *Guard) storeError(ctx context.Context, op, key string, token Token, err error) {
	g.logStoreError(ctx, op, key, token, err)
	g.observe(ctx, Event{Kind: EventStoreError, Key: key, Token: token, Err: err})
}

func (g *Guard) logStoreError(ctx context.Context, op, key string, token Token, err error) {
	g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "idempotency: store "+op+" failed",
		g.keyAttr(key), slog.Uint64("token", uint64(token)), slog.Any("error", err))
}

// settleFailed logs a failure to record or release an outcome and returns
// its event. A store that refuses the write because the claim is no longer
// ours (taken over after its lease lapsed, or forgotten) did its job: that
// is a lost lease, worth a warning, not a store error.
func (g *Guard) settleFailed(ctx context.Context, op, key string, token Token, err error) Event {
	if errors.Is(err, ErrLeaseLost) {
		g.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "idempotency: claim lost before "+op,
			g.keyAttr(key), slog.Uint64("token", uint64(token)), slog.Any("error", err))
		return Event{Kind: EventLeaseLost, Key: key, Token: token, Err: err}
	}
	g.logStoreError(ctx, op, key, token, err)
	return Event{Kind: EventStoreError, Key: key, Token: token, Err: err}
}
