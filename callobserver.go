package idempotency

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// startCall tells a CallObserver that a call begins and returns the
// context the call goes on with. A Start that panics is logged, and the
// call goes on with its own context.
func (g *Guard) startCall(ctx context.Context, key string) (sctx context.Context, start time.Time) {
	// Set before Start runs: a panic returns what the results hold.
	sctx, start = ctx, time.Now()
	defer func() {
		if p := recover(); p != nil {
			g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "idempotency: Observer.Start panicked",
				g.keyAttr(key), slog.Any("panic", p))
		}
	}()
	if c := g.calls.Start(ctx, Event{Kind: EventStart, Key: key, Name: g.name(key)}); c != nil {
		sctx = c
	}
	return sctx, start
}

// endCall sends the call's EventEnd.
func (g *Guard) endCall(ctx context.Context, key string, start time.Time, co *callOptions, err error) {
	if err == nil && co.panicked != nil {
		err = co.panicked // the panic goes on past Do; the call did not succeed
	}
	g.observe(ctx, Event{Kind: EventEnd, Key: key, Token: co.token, Took: time.Since(start), Err: err, Result: result(co, err)})
}

// result classifies how a call ended.
func result(co *callOptions, err error) Result {
	if co.acquired {
		switch {
		case co.lost || errors.Is(err, ErrNotRecorded) && errors.Is(err, ErrLeaseLost):
			return ResultLeaseLost
		case errors.Is(err, ErrNotRecorded):
			return ResultStoreError
		case co.tookOver:
			return ResultTakeover
		}
		return ResultExecuted
	}
	switch {
	case err == nil, errors.Is(err, ErrResultUnavailable):
		return ResultReplayed
	case errors.Is(err, ErrInvalidKey):
		return ResultInvalidKey
	case errors.Is(err, ErrStore):
		return ResultStoreError
	case errors.Is(err, ErrKeyReused):
		return ResultKeyReused
	case errors.Is(err, ErrFailed):
		return ResultFailed
	}
	return ResultConflict
}

// name is the key's label for events.
func (g *Guard) name(key string) string {
	if g.cfg.Name != nil {
		return g.cfg.Name(key)
	}
	return KeyName(key)
}

// observedStore times every operation for a CallObserver (EventStore).
type observedStore struct {
	Store
	g *Guard
}

func (s observedStore) done(ctx context.Context, op, key string, start time.Time, err error) {
	s.g.observe(ctx, Event{Kind: EventStore, Op: op, Key: key, Took: time.Since(start), Err: err})
}

func (s observedStore) Claim(ctx context.Context, req ClaimRequest) (Claim, error) {
	start := time.Now()
	c, err := s.Store.Claim(ctx, req)
	s.done(ctx, "claim", req.Key, start, err)
	return c, err
}

func (s observedStore) Complete(ctx context.Context, key string, token Token, out Outcome) error {
	start := time.Now()
	err := s.Store.Complete(ctx, key, token, out)
	s.done(ctx, "complete", key, start, err)
	return err
}

func (s observedStore) Release(ctx context.Context, key string, token Token) error {
	start := time.Now()
	err := s.Store.Release(ctx, key, token)
	s.done(ctx, "release", key, start, err)
	return err
}

func (s observedStore) Get(ctx context.Context, key string) (Record, error) {
	start := time.Now()
	r, err := s.Store.Get(ctx, key)
	s.done(ctx, "get", key, start, err)
	return r, err
}

func (s observedStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.Store.Delete(ctx, key)
	s.done(ctx, "delete", key, start, err)
	return err
}
