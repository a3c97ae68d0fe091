package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
)

// Extend implements idemtype.Store.
func (s *Store) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	if c := txCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return nil // the transaction's row lock is the claim: nothing lapses
	}
	return s.exec(ctx, s.pool, "extend", s.sql.extend, key, hashKey(key), []byte(key), tokenArg(token), micros(lease, 1))
}

// Complete implements idemtype.Store.
func (s *Store) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if c := txCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return c.complete(ctx, out)
	}
	if out.Status != idemtype.StatusCompleted && out.Status != idemtype.StatusFailed {
		return fmt.Errorf("idempotency: pgstore: complete %q: invalid outcome status %v", truncate(key), out.Status)
	}
	return s.exec(ctx, s.pool, "complete", s.sql.complete, key, hashKey(key), []byte(key), tokenArg(token), int16(out.Status), out.Value, micros(out.TTL, 0))
}

// Release implements idemtype.Store.
func (s *Store) Release(ctx context.Context, key string, token idemtype.Token) error {
	if c := txCallFrom(ctx, s, key); c != nil && c.owns(token) {
		return c.release(ctx)
	}
	return s.exec(ctx, s.pool, "release", s.sql.release, key, hashKey(key), []byte(key), tokenArg(token))
}

// exec runs a write fenced by a token: no row written is ErrLeaseLost.
func (s *Store) exec(ctx context.Context, q querier2, op, sql, key string, args ...any) error {
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
	if err := s.nested(ctx, "delete", key, true); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.sql.del, hashKey(key)); err != nil {
		return wrap("delete", key, err)
	}
	return nil
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
