package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	// tableID names the records table on the server: the server's start
	// time, the database's and the table's OIDs.
	tableID string
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
	c, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	s := &Store{core: c, pool: pool}
	s.lis = newListener(s)
	if s.opts.ManualMigrate {
		err = s.checkSchema(ctx, s.pool)
	} else {
		err = s.Migrate(ctx)
	}
	if err != nil {
		return nil, err
	}
	// Which table this is on the server, whatever the names used to
	// reach it: nested calls compare it (see nested), and waiters of
	// stores that name it with and without its schema share a channel.
	var schema string
	err = pool.QueryRow(ctx, `SELECT pg_postmaster_start_time()::text || '/' || d.oid::text || '/' || c.oid::text, c.relnamespace::regnamespace::text
		FROM pg_database d, pg_class c WHERE d.datname = current_database() AND c.oid = $1::regclass`, s.names.table).Scan(&s.tableID, &schema)
	if err != nil {
		return nil, fmt.Errorf("idempotency: pgstore: New: read the table's identity: %w", err)
	}
	if ch := channelName(strings.Trim(schema, `"`) + "." + s.names.bare); s.names.schema == "" && ch != s.names.channel {
		s.names.channel2 = ch
		s.sql = buildStatements(s.names)
	}
	return s, nil
}

// Close implements idemtype.Closer: it stops the listening connection and
// wakes every waiter; every operation after it fails with
// idemtype.ErrClosed. The pool stays open.
func (s *Store) Close() error {
	return s.life.Close(func() error {
		s.lis.close()
		return nil
	})
}

// Table returns the quoted name of the records table.
func (s *Store) Table() string { return s.names.table }
