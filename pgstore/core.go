package pgstore

import (
	"context"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5/pgconn"
)

// core is what Store (pgx) and DBStore (database/sql) share: the options,
// the schema's names and the statements, and each operation's statement
// with its arguments and the reading of its reply. The two stores only
// choose the connection (a pool, a database, or a DoTx transaction).
type core struct {
	opts  Options
	names names
	sql   statements
	life  *idemtype.Lifecycle     // a pointer: core is built by value
	dups  *idemtype.DuplicateRate // of the store's claims, for ReadFirstAuto
}

// newCore applies the defaults to opts (nil: all defaults).
func newCore(opts *Options) (core, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o, n, err := o.withDefaults()
	if err != nil {
		return core{}, err
	}
	return core{opts: o, names: n, sql: buildStatements(n), life: new(idemtype.Lifecycle), dups: new(idemtype.DuplicateRate)}, nil
}

// usable reports, for op on key, that the store was closed.
func (s *core) usable(op, key string) error {
	if s.life.Closed() {
		return wrap(op, key, idemtype.ErrClosed)
	}
	return nil
}

// dbtx is a connection the statements run on: a pgx pool or transaction,
// or a database/sql one adapted by sqlConn.
type dbtx interface {
	querier
	querier2
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (s *core) extend(ctx context.Context, q querier2, key string, token idemtype.Token, lease time.Duration) error {
	return s.exec(ctx, q, "extend", s.sql.extend, key, hashKey(key), []byte(key), tokenArg(token), micros(lease, 1))
}

func (s *core) complete(ctx context.Context, q querier2, key string, token idemtype.Token, out idemtype.Outcome) error {
	if err := idemtype.CheckOutcome(out); err != nil {
		return wrap("complete", key, err)
	}
	return s.exec(ctx, q, "complete", s.sql.complete, key, hashKey(key), []byte(key), tokenArg(token), int16(out.Status), out.Value, micros(out.TTL, 0))
}

func (s *core) release(ctx context.Context, q querier2, key string, token idemtype.Token) error {
	return s.exec(ctx, q, "release", s.sql.release, key, hashKey(key), []byte(key), tokenArg(token))
}

func (s *core) del(ctx context.Context, q dbtx, key string) error {
	if _, err := q.Exec(ctx, s.sql.del, hashKey(key)); err != nil {
		return wrap("delete", key, err)
	}
	return nil
}

func (s *core) get(ctx context.Context, q querier, key string) (idemtype.Record, error) {
	return queryRecord(ctx, q, "get", key, s.sql.get, []any{hashKey(key)})
}

func (s *core) list(ctx context.Context, q querier2, prefix string, fn func(idemtype.Record) bool) error {
	rows, err := q.Query(ctx, s.sql.list, []byte(prefix), len(prefix))
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

// sweep deletes expired rows in batches of Options.SweepBatch, using the
// index on expires_at.
func (s *core) sweep(ctx context.Context, q querier) (int, error) {
	total := 0
	for {
		var n int
		if err := q.QueryRow(ctx, s.sql.sweep, s.opts.SweepBatch).Scan(&n); err != nil {
			return total, wrap("sweep", "", err)
		}
		total += n
		if n < s.opts.SweepBatch {
			return total, nil
		}
	}
}

// completeTx writes a success inside the DoTx transaction whose claim saw
// the transaction id xid; in another transaction it changes nothing.
func (s *core) completeTx(ctx context.Context, q querier2, key string, token idemtype.Token, out idemtype.Outcome, xid string) error {
	return s.exec(ctx, q, "complete", s.sql.completeTx, key,
		hashKey(key), []byte(key), tokenArg(token), int16(out.Status), out.Value, micros(out.TTL, 0), xid)
}

// settle records out for a DoTx call on its own, after its transaction
// rolled back (see statements.settle).
func (s *core) settle(ctx context.Context, q querier2, op string, req idemtype.ClaimRequest, token idemtype.Token, out idemtype.Outcome) error {
	return s.exec(ctx, q, op, s.sql.settle, req.Key,
		hashKey(req.Key), []byte(req.Key), []byte(req.Fingerprint), tokenArg(token), out.Value, micros(out.TTL, 0), int16(out.Status))
}

// held reports whether the claim token of key committed (fn committed its
// DoTx transaction itself). An error reads as not.
func (s *core) held(ctx context.Context, q querier, key string, token idemtype.Token) bool {
	var held bool
	err := q.QueryRow(ctx, s.sql.held, hashKey(key), tokenArg(token)).Scan(&held)
	return err == nil && held
}
