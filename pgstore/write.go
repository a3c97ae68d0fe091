package pgstore

import (
	"context"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
)

// Extend implements idemtype.Store.
func (s *Store) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	if err := s.usable("extend", key); err != nil {
		return err
	}
	if c := txCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return nil // the transaction's row lock is the claim: nothing lapses
	}
	return s.extend(ctx, s.pool, key, token, lease)
}

// Complete implements idemtype.Store.
func (s *Store) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if err := s.usable("complete", key); err != nil {
		return err
	}
	if c := txCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return c.complete(ctx, out)
	}
	return s.complete(ctx, s.pool, key, token, out)
}

// Release implements idemtype.Store.
func (s *Store) Release(ctx context.Context, key string, token idemtype.Token) error {
	if err := s.usable("release", key); err != nil {
		return err
	}
	if c := txCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return c.release(ctx)
	}
	return s.release(ctx, s.pool, key, token)
}

// exec runs a write fenced by a token: no row written is ErrLeaseLost.
func (s *core) exec(ctx context.Context, q querier2, op, sql, key string, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return wrap(op, key, err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return wrap(op, key, err)
	}
	if n == 0 {
		return wrap(op, key, idemtype.ErrLeaseLost)
	}
	return nil
}

// Delete implements idemtype.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.usable("delete", key); err != nil {
		return err
	}
	if err := s.nested(ctx, "delete", key, true); err != nil {
		return err
	}
	return s.del(ctx, s.pool, key)
}

type querier2 interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// micros converts d to whole microseconds, at least floor when d > 0 (a
// positive lease never rounds to none).
func micros(d time.Duration, floor int64) int64 {
	if d <= 0 {
		return 0
	}
	return max(d.Microseconds(), floor)
}

// tokenArg maps a token to the bigint column; tokens beyond it match
// nothing.
func tokenArg(t idemtype.Token) int64 {
	if t > 1<<63-1 {
		return -1
	}
	return int64(t)
}
