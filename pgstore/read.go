package pgstore

import (
	"context"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Get implements idemtype.Store.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if err := s.nested(ctx, "get", key, false); err != nil {
		return idemtype.Record{}, err
	}
	if c := txCallFrom(ctx, s, key); c != nil {
		if rec, ok := c.contended(); ok {
			return rec, nil
		}
	}
	return scanRecord(s.pool.QueryRow(ctx, s.sql.get, hashKey(key)), "get", key)
}

// List implements idemtype.Lister. It scans the table; it is meant for
// operators, not for request paths.
func (s *Store) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
	if err := s.nested(ctx, "list", prefix, false); err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, s.sql.list, []byte(prefix), len(prefix))
	if err != nil {
		return wrap("list", prefix, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r row
		if err := rows.Scan(r.dest()...); err != nil {
			return wrap("list", prefix, err)
		}
		rec, err := r.decode("list", string(r.key))
		if err != nil {
			return err
		}
		if !fn(rec) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return wrap("list", prefix, err)
	}
	return nil
}
