package idempotency

import (
	"context"
	"fmt"
	"time"
)

// acquire claims key into c, which is then either Acquired (run fn) or
// holds a completed record (replay it); every other outcome is an error.
// c is filled in place: a Claim is large, and the duplicate's path is hot. While the key is held by a running call it waits, as the
// duplicate policy allows, and claims again after every change.
func (g *Guard) acquire(ctx context.Context, key string, co *callOptions, c *Claim) error {
	if err := validKey(key); err != nil {
		return err
	}
	req := ClaimRequest{Key: key, Lease: g.cfg.Lease, TTL: g.ttl(co), Takeover: !g.cfg.NoTakeover}
	if req.TTL > 0 && req.TTL < req.Lease {
		// The rule of Config.Validate, for WithTTL.
		return &Error{Kind: ErrInvalidConfig, Key: key, Err: fmt.Errorf("WithTTL %v is shorter than Config.Lease %v", req.TTL, req.Lease)}
	}
	if co.hasPayload {
		fp, err := fingerprint(co.payload)
		if err != nil {
			return err
		}
		req.Fingerprint = fp
	}
	var deadline time.Time // zero: wait until ctx ends
	var poll pollState
	var waiting Token // the running execution waited for, if any
	for {
		if err := g.claim(ctx, &req, co, c); err != nil {
			if waiting != 0 && ctx.Err() != nil {
				// The caller gave up while waiting, as it claimed again:
				// the same outcome as giving up during the wait.
				return g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: waiting, Err: context.Cause(ctx)})
			}
			g.storeError(ctx, "claim", key, 0, err)
			return &Error{Kind: ErrStore, Key: key, Err: err}
		}
		if c.Acquired {
			return nil // execute observes a takeover once renewals run
		}
		rec := &c.Record
		if rec.Fingerprint != req.Fingerprint {
			return g.conflict(ctx, &Error{Kind: ErrKeyReused, Key: key, Token: rec.Token})
		}
		if g.cfg.OnDuplicate == Reject {
			var cause error
			switch {
			case c.Abandoned:
				cause = ErrAbandoned // it may not be running at all
			case rec.Status == StatusInProgress:
				cause = ErrInProgress
			}
			return g.conflict(ctx, &Error{Kind: ErrDuplicate, Key: key, Token: rec.Token, Err: cause})
		}
		switch rec.Status {
		case StatusCompleted:
			return nil
		case StatusFailed:
			err := decodeFailure(key, rec.Value, &g.cfg)
			g.observe(ctx, Event{Kind: EventReplayed, Key: key, Token: rec.Token, Err: err})
			return err
		}
		if c.Abandoned {
			return g.conflict(ctx, &Error{Kind: ErrAbandoned, Key: key, Token: rec.Token})
		}
		if deadline.IsZero() && g.cfg.OnDuplicate == ReturnStored {
			wait := g.cfg.WaitTimeout
			if co.wait != 0 {
				wait = co.wait
			}
			if wait < 0 {
				return g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: rec.Token})
			}
			deadline = time.Now().Add(wait)
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: rec.Token})
		}
		waiting = rec.Token
		if err := g.wait(ctx, *rec, deadline, &poll); err != nil {
			return g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: rec.Token, Err: err})
		}
	}
}

// claim answers from the local cache when it holds the key, else claims
// in the store and caches a final record the store answers with.
func (g *Guard) claim(ctx context.Context, req *ClaimRequest, co *callOptions, c *Claim) (err error) {
	if g.local == nil {
		*c, err = g.store.Claim(ctx, *req)
		return err
	}
	now := g.clock.Now()
	e, epoch := g.local.get(req.Key, now)
	if e != nil {
		co.cached = e
		*c = Claim{Record: e.rec}
		return nil
	}
	co.epoch = epoch
	*c, err = g.store.Claim(ctx, *req)
	if err == nil && !c.Acquired {
		g.local.put(c.Record, epoch, now)
	}
	return err
}

// remember caches the outcome out that the execution owning rec just
// recorded.
func (g *Guard) remember(claimed *Record, out Outcome, co *callOptions) {
	if g.local == nil {
		return
	}
	now := g.clock.Now()
	rec := *claimed
	rec.Status, rec.Value, rec.ExpiresAt = out.Status, out.Value, time.Time{}
	if out.TTL > 0 {
		rec.ExpiresAt = now.Add(out.TTL)
	}
	g.local.put(rec, co.epoch, now)
}

func (g *Guard) conflict(ctx context.Context, err *Error) error {
	g.observe(ctx, Event{Kind: EventConflict, Key: err.Key, Token: err.Token, Err: err})
	return err
}
