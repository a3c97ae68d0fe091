package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is an idemtype.Store in a PostgreSQL table. It is safe for
// concurrent use by many goroutines and processes. Make one with New and
// Close it when done.
type Store struct {
	pool  *pgxpool.Pool
	opts  Options
	names names
	sql   statements
	lis   *listener

	closeOnce sync.Once
}

var (
	_ idemtype.Store   = (*Store)(nil)
	_ idemtype.Watcher = (*Store)(nil)
	_ idemtype.Lister  = (*Store)(nil)
	_ idemtype.Sweeper = (*Store)(nil)
)

// claimAttempts bounds how often Claim runs its statement again after
// losing a race to a concurrent commit (see statements.claim); each retry
// sees that commit, so more than two are rare.
const claimAttempts = 16

// New returns a Store over pool, applying the schema first unless
// opts.ManualMigrate is set (then it checks the schema is current, or
// reports ErrSchema). A nil opts means defaults. The pool is the caller's:
// Close does not close it.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("idempotency: pgstore: nil pool")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	o, n, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool, opts: o, names: n, sql: buildStatements(n)}
	s.lis = newListener(s)
	if o.ManualMigrate {
		err = s.checkSchema(ctx)
	} else {
		err = s.Migrate(ctx)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops the listening connection and wakes every waiter. The pool
// stays open; the Store must not be used afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(s.lis.close)
	return nil
}

// Table returns the quoted name of the records table.
func (s *Store) Table() string { return s.names.table }

// Claim implements idemtype.Store in one statement.
func (s *Store) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	if c := txCallFrom(ctx, s, req.Key); c != nil {
		return c.claim(ctx, req)
	}
	return s.claim(ctx, s.pool, req)
}

// claim runs the claim statement on q (the pool, or a DoTx transaction).
func (s *Store) claim(ctx context.Context, q querier, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	args := []any{hashKey(req.Key), []byte(req.Key), []byte(req.Fingerprint), micros(req.Lease, 1), micros(req.TTL, 0), req.Takeover}
	for range claimAttempts {
		var c idemtype.Claim
		rec, err := scanRecord(q.QueryRow(ctx, s.sql.claim, args...), req.Key, &c.Acquired, &c.TookOver, &c.Abandoned)
		if errors.Is(err, idemtype.ErrNotFound) {
			continue // lost a race with a concurrent commit: look again
		}
		if err != nil {
			return idemtype.Claim{}, err
		}
		c.Record = rec
		return c, nil
	}
	return idemtype.Claim{}, fmt.Errorf("idempotency: pgstore: claim %q: still racing after %d attempts", truncate(req.Key), claimAttempts)
}

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
		return c.rollback(ctx)
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
		return idemtype.ErrLeaseLost
	}
	return nil
}

// Get implements idemtype.Store.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if c := txCallFrom(ctx, s, key); c != nil {
		if rec, ok := c.contended(); ok {
			return rec, nil
		}
	}
	return scanRecord(s.pool.QueryRow(ctx, s.sql.get, hashKey(key)), key)
}

// Delete implements idemtype.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, s.sql.del, hashKey(key)); err != nil {
		return wrap("delete", key, err)
	}
	return nil
}

// List implements idemtype.Lister. It scans the table; it is meant for
// operators, not for request paths.
func (s *Store) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
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
		rec, err := r.decode(string(r.key))
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

// Sweep implements idemtype.Sweeper: it deletes expired rows in batches
// of Options.SweepBatch, using the index on expires_at.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		if err := s.pool.QueryRow(ctx, s.sql.sweep, s.opts.SweepBatch).Scan(&n); err != nil {
			return total, fmt.Errorf("idempotency: pgstore: sweep: %w", err)
		}
		total += n
		if n < s.opts.SweepBatch {
			return total, nil
		}
	}
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
