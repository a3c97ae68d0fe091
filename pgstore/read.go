package pgstore

import (
	"context"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Get implements idemtype.Store.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if err := s.usable("get", key); err != nil {
		return idemtype.Record{}, err
	}
	if err := s.nested(ctx, "get", key, false); err != nil {
		return idemtype.Record{}, err
	}
	if c := txCallFrom(ctx, s, key); c != nil {
		if rec, ok := c.contended(); ok {
			return rec, nil
		}
	}
	return s.get(ctx, s.pool, key)
}

// List implements idemtype.Lister. It scans the table; it is meant for
// operators, not for request paths.
func (s *Store) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
	if err := s.usable("list", prefix); err != nil {
		return err
	}
	if err := s.nested(ctx, "list", prefix, false); err != nil {
		return err
	}
	return s.list(ctx, s.pool, prefix, fn)
}
