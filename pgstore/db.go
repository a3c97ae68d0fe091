package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/idempotency-go/idempotency/idemtype"
)

// DBStore is Store for a *sql.DB of any PostgreSQL driver (pgx's stdlib,
// lib/pq, ...): the same table, schema, migrations, statements and errors,
// so the two can share a table, and DoTxSQL for functions that write
// through a *sql.Tx. It is safe for concurrent use by many goroutines and
// processes. Make one with NewDB.
//
// database/sql cannot receive notifications, so a DBStore does not
// implement idemtype.Watcher: a waiting duplicate polls the record (the
// guard's backoff, from 5ms growing to 500ms), and Options.PollInterval
// is not used. It implements idemtype.Lister and idemtype.Sweeper.
type DBStore struct {
	core
	db *sql.DB
	q  sqlConn
}

var (
	_ idemtype.Store   = (*DBStore)(nil)
	_ idemtype.Lister  = (*DBStore)(nil)
	_ idemtype.Sweeper = (*DBStore)(nil)
)

// NewDB returns a DBStore over db, applying the schema first unless
// opts.ManualMigrate is set (then it checks the schema is current, or
// reports ErrSchema), as New does. A nil opts means defaults. The
// database is the caller's: Close does not close it.
func NewDB(ctx context.Context, db *sql.DB, opts *Options) (*DBStore, error) {
	if db == nil {
		return nil, errors.New("idempotency: pgstore: nil *sql.DB")
	}
	c, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	s := &DBStore{core: c, db: db, q: sqlConn{db}}
	if s.opts.ManualMigrate {
		err = s.checkSchema(ctx, s.q)
	} else {
		err = s.Migrate(ctx)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Migrate is Store.Migrate through database/sql.
func (s *DBStore) Migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("idempotency: pgstore: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if err := s.migrate(ctx, sqlConn{tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("idempotency: pgstore: migrate: commit: %w", err)
	}
	return nil
}

// Close implements idemtype.Closer: every operation after it fails with
// idemtype.ErrClosed. A DBStore holds no connection of its own; the
// database stays open.
func (s *DBStore) Close() error { return s.life.Close(nil) }

// Table returns the quoted name of the records table.
func (s *DBStore) Table() string { return s.names.table }
