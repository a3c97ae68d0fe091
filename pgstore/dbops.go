package pgstore

import (
	"context"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// The operations of a DBStore: each the shared statement (core) on the
// database, or, for the key of a DoTxSQL call running under ctx, in its
// transaction.

// Claim implements idemtype.Store in one statement, or two when it reads
// first (see [Options.ReadFirst]) and the key holds no finished record.
func (s *DBStore) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	if err := s.usable("claim", req.Key); err != nil {
		return idemtype.Claim{}, err
	}
	if err := s.nested(ctx, "claim", req.Key); err != nil {
		return idemtype.Claim{}, err
	}
	if c := sqlTxCallFrom(ctx, s, req.Key); c != nil {
		return c.claim(ctx, req)
	}
	return s.claimFirst(ctx, s.q, req)
}

// Extend implements idemtype.Store.
func (s *DBStore) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	if err := s.usable("extend", key); err != nil {
		return err
	}
	if c := sqlTxCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return nil // the transaction's row lock is the claim: nothing lapses
	}
	return s.extend(ctx, s.q, key, token, lease)
}

// Complete implements idemtype.Store.
func (s *DBStore) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if err := s.usable("complete", key); err != nil {
		return err
	}
	if c := sqlTxCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return c.complete(ctx, out)
	}
	return s.complete(ctx, s.q, key, token, out)
}

// Release implements idemtype.Store.
func (s *DBStore) Release(ctx context.Context, key string, token idemtype.Token) error {
	if err := s.usable("release", key); err != nil {
		return err
	}
	if c := sqlTxCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return c.release(ctx)
	}
	return s.release(ctx, s.q, key, token)
}

// Get implements idemtype.Store.
func (s *DBStore) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if err := s.usable("get", key); err != nil {
		return idemtype.Record{}, err
	}
	if c := sqlTxCallFrom(ctx, s, key); c != nil {
		if rec, ok := c.contended(); ok {
			return rec, nil
		}
	}
	return s.get(ctx, s.q, key)
}

// Delete implements idemtype.Store.
func (s *DBStore) Delete(ctx context.Context, key string) error {
	if err := s.usable("delete", key); err != nil {
		return err
	}
	if err := s.nested(ctx, "delete", key); err != nil {
		return err
	}
	return s.del(ctx, s.q, key)
}

// List implements idemtype.Lister. It scans the table; it is meant for
// operators, not for request paths.
func (s *DBStore) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
	if err := s.usable("list", prefix); err != nil {
		return err
	}
	return s.list(ctx, s.q, prefix, fn)
}

// Sweep implements idemtype.Sweeper: it deletes expired rows in batches
// of Options.SweepBatch, using the index on expires_at.
func (s *DBStore) Sweep(ctx context.Context) (int, error) {
	if err := s.usable("sweep", ""); err != nil {
		return 0, err
	}
	return s.sweep(ctx, s.q)
}
