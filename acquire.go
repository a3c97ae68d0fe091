package idempotency

import (
	"context"
	"fmt"
	"time"
)

// acquire claims key. It returns a Claim that is either Acquired (run fn)
// or holds a completed record (replay it); every other outcome is an
// error. While the key is held by a running call it waits, as the
// duplicate policy allows, and claims again after every change.
func (g *Guard) acquire(ctx context.Context, key string, co *callOptions) (Claim, error) {
	if err := validKey(key); err != nil {
		return Claim{}, err
	}
	req := ClaimRequest{Key: key, Lease: g.cfg.Lease, TTL: g.ttl(co), Takeover: !g.cfg.NoTakeover}
	if req.TTL > 0 && req.TTL < req.Lease {
		// The rule of Config.Validate, for WithTTL.
		return Claim{}, &Error{Kind: ErrInvalidConfig, Key: key, Err: fmt.Errorf("WithTTL %v is shorter than Config.Lease %v", req.TTL, req.Lease)}
	}
	if co.hasPayload {
		fp, err := fingerprint(co.payload)
		if err != nil {
			return Claim{}, err
		}
		req.Fingerprint = fp
	}
	var deadline time.Time // zero: wait until ctx ends
	var poll pollState
	var waiting Token // the running execution waited for, if any
	for {
		c, err := g.store.Claim(ctx, req)
		if err != nil {
			if waiting != 0 && ctx.Err() != nil {
				// The caller gave up while waiting, as it claimed again:
				// the same outcome as giving up during the wait.
				return Claim{}, g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: waiting, Err: context.Cause(ctx)})
			}
			g.storeError(ctx, "claim", key, 0, err)
			return Claim{}, &Error{Kind: ErrStore, Key: key, Err: err}
		}
		if c.Acquired {
			return c, nil // execute observes a takeover once renewals run
		}
		rec := c.Record
		if rec.Fingerprint != req.Fingerprint {
			return Claim{}, g.conflict(ctx, &Error{Kind: ErrKeyReused, Key: key, Token: rec.Token})
		}
		if g.cfg.OnDuplicate == Reject {
			var cause error
			switch {
			case c.Abandoned:
				cause = ErrAbandoned // it may not be running at all
			case rec.Status == StatusInProgress:
				cause = ErrInProgress
			}
			return Claim{}, g.conflict(ctx, &Error{Kind: ErrDuplicate, Key: key, Token: rec.Token, Err: cause})
		}
		switch rec.Status {
		case StatusCompleted:
			return c, nil
		case StatusFailed:
			err := decodeFailure(key, rec.Value, &g.cfg)
			g.observe(ctx, Event{Kind: EventReplayed, Key: key, Token: rec.Token, Err: err})
			return Claim{}, err
		}
		if c.Abandoned {
			return Claim{}, g.conflict(ctx, &Error{Kind: ErrAbandoned, Key: key, Token: rec.Token})
		}
		if deadline.IsZero() && g.cfg.OnDuplicate == ReturnStored {
			wait := g.cfg.WaitTimeout
			if co.wait != 0 {
				wait = co.wait
			}
			if wait < 0 {
				return Claim{}, g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: rec.Token})
			}
			deadline = time.Now().Add(wait)
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return Claim{}, g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: rec.Token})
		}
		waiting = rec.Token
		if err := g.wait(ctx, rec, deadline, &poll); err != nil {
			return Claim{}, g.conflict(ctx, &Error{Kind: ErrInProgress, Key: key, Token: rec.Token, Err: err})
		}
	}
}

func (g *Guard) conflict(ctx context.Context, err *Error) error {
	g.observe(ctx, Event{Kind: EventConflict, Key: err.Key, Token: err.Token, Err: err})
	return err
}
