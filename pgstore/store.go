package pgstore

import (
	"context"
	"errors"
	"sync"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is an idemtype.Store in a PostgreSQL table. It is safe for
// concurrent use by many goroutines and processes. Make one with New and
// Close it when done.
type Store struct {
	core
	pool *pgxpool.Pool
	lis  *listener

	closeOnce sync.Once
}

var (
	_ idemtype.Store   = (*Store)(nil)
	_ idemtype.Watcher = (*Store)(nil)
	_ idemtype.Lister  = (*Store)(nil)
	_ idemtype.Sweeper = (*Store)(nil)
)

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
	c, err := newCore(o)
	if err != nil {
		return nil, err
	}
	s := &Store{core: c, pool: pool}
	s.lis = newListener(s)
	if o.ManualMigrate {
		err = s.checkSchema(ctx, s.pool)
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
