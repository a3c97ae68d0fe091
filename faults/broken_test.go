package faults

import (
	"context"
	"errors"
	"time"

	"github.com/idempotency-go/idempotency"
)

// The negative control runs cells against stores broken on purpose: a
// checker that passes them proves nothing.
const (
	// brokenClaim drops the claim's check that a key already has an
	// outcome: a completed key is forgotten and claimed again, so fn runs
	// again.
	brokenClaim = "claim-unchecked"
	// brokenFence ignores the fencing token on Complete: a stale executor
	// whose claim was taken over forces its outcome over the newer one.
	brokenFence = "unfenced-complete"
)

func wrapBroken(kind string, s idempotency.Store) idempotency.Store {
	switch kind {
	case brokenClaim:
		return uncheckedClaim{s}
	case brokenFence:
		return unfencedComplete{s}
	}
	return s
}

type uncheckedClaim struct{ idempotency.Store }

func (s uncheckedClaim) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	c, err := s.Store.Claim(ctx, req)
	if err == nil && !c.Acquired && c.Record.Status == idempotency.StatusCompleted {
		if err := s.Store.Delete(ctx, req.Key); err != nil {
			return c, err
		}
		return s.Store.Claim(ctx, req)
	}
	return c, err
}

type unfencedComplete struct{ idempotency.Store }

func (s unfencedComplete) Complete(ctx context.Context, key string, token idempotency.Token, out idempotency.Outcome) error {
	err := s.Store.Complete(ctx, key, token, out)
	if !errors.Is(err, idempotency.ErrLeaseLost) {
		return err
	}
	// Not the owner any more: write anyway, over whatever is there.
	if err := s.Store.Delete(ctx, key); err != nil {
		return err
	}
	c, err := s.Store.Claim(ctx, idempotency.ClaimRequest{Key: key, Lease: time.Minute, TTL: out.TTL})
	if err != nil {
		return err
	}
	if !c.Acquired {
		return idempotency.ErrLeaseLost
	}
	return s.Store.Complete(ctx, key, c.Record.Token, out)
}
