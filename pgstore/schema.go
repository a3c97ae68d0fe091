package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations are applied in order, each once, in one transaction per
// Migrate call; the version table remembers how many ran. Append only:
// never change what a released step creates. Steps create with IF NOT
// EXISTS, so that a lost version table does not stop Migrate.
func migrations(n names) []string {
	return []string{
		// 1: records keyed by the SHA-256 digest of the key (B-tree
		// entries cannot hold arbitrary 4 KiB keys), the raw key alongside.
		// status: 1 in progress, 2 completed, 3 failed. expires_at NULL:
		// forever. waiters: someone is watching, so writes notify.
		createSeq(n) + createTable(n) + createIndex(n),
	}
}

func createSeq(n names) string {
	return `CREATE SEQUENCE IF NOT EXISTS ` + n.seq + ` AS bigint CACHE 1;`
}

func createTable(n names) string {
	return `CREATE TABLE IF NOT EXISTS ` + n.table + ` (
			key_hash    bytea       PRIMARY KEY,
			key         bytea       NOT NULL,
			fingerprint bytea       NOT NULL,
			status      smallint    NOT NULL,
			token       bigint      NOT NULL,
			value       bytea,
			lease_until timestamptz NOT NULL,
			expires_at  timestamptz,
			created_at  timestamptz NOT NULL,
			updated_at  timestamptz NOT NULL,
			waiters     boolean     NOT NULL DEFAULT false
		);`
}

func createIndex(n names) string {
	return `CREATE INDEX IF NOT EXISTS ` + n.index + ` ON ` + n.table + ` (expires_at) WHERE expires_at IS NOT NULL;`
}

// schemaObject is one object the store needs, and how Migrate recreates
// it when it went away after migration.
type schemaObject struct {
	kind, rel string
	create    func(names) string
}

func schemaObjects(n names) []schemaObject {
	return []schemaObject{
		// A recreated sequence starts above every token the lost one can
		// have issued (at the clock's microseconds since 1970, far beyond
		// any count of claims), so that tokens still grow per key.
		{"sequence", n.seq, func(n names) string {
			return createSeq(n) + ` SELECT setval('` + n.seq + `', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);`
		}},
		{"table", n.table, createTable},
		{"index", n.indexRel, createIndex},
	}
}

// missing lists the schema objects the store needs that are not there,
// and refuses a table without every column the store uses.
func missing(ctx context.Context, q dbtx, n names) ([]schemaObject, error) {
	var gone []schemaObject
	table := true
	for _, o := range schemaObjects(n) {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, o.rel).Scan(&exists); err != nil {
			return nil, fmt.Errorf("idempotency: pgstore: check schema: %w", err)
		}
		if !exists {
			gone = append(gone, o)
			table = table && o.kind != "table"
		}
	}
	if table {
		rows, err := q.Query(ctx, `SELECT `+cols+`, waiters FROM `+n.table+` LIMIT 0`)
		if err == nil {
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("%w: table %s lacks the store's columns: %w", ErrSchema, n.table, err)
		}
	}
	return gone, nil
}

type dbtx interface {
	querier
	querier2
}

// SchemaVersion is the schema version this package writes and reads.
const SchemaVersion = 1

// ErrSchema reports a schema the store cannot use: a version older or
// newer than this package's (SchemaVersion), or, found by New with
// Options.ManualMigrate, an object it needs that is missing (the records
// table, its sequence or its index, named in the message; Migrate
// recreates them), or a records table without the store's columns.
var ErrSchema = errors.New("idempotency: pgstore: schema mismatch")

// Migrate brings the schema up to SchemaVersion. It is safe to run
// concurrently from many processes (an advisory lock serialises them) and
// again on a current schema. It refuses a schema newer than this package.
// It then checks the objects themselves, not only the version table, and
// recreates any that went away after migration: the records table (its
// records are lost with it), its sequence (recreated to issue tokens
// above any the lost one issued) or its expiry index. A table lacking the
// store's columns is refused with ErrSchema.
func (s *Store) Migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, s.names.lockID); err != nil {
			return fmt.Errorf("idempotency: pgstore: migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.names.version+` (version int NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("idempotency: pgstore: migrate: %w", err)
		}
		v, err := schemaVersion(ctx, tx, s.names)
		if err != nil {
			return err
		}
		steps := migrations(s.names)
		if v > len(steps) {
			return fmt.Errorf("%w: the database has version %d, this package knows %d", ErrSchema, v, len(steps))
		}
		for i := v; i < len(steps); i++ {
			if _, err := tx.Exec(ctx, steps[i]); err != nil {
				return fmt.Errorf("idempotency: pgstore: migrate to version %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.names.version+` (version) VALUES ($1)`, i+1); err != nil {
				return fmt.Errorf("idempotency: pgstore: migrate to version %d: %w", i+1, err)
			}
		}
		gone, err := missing(ctx, tx, s.names)
		if err != nil {
			return err
		}
		for _, o := range gone {
			if _, err := tx.Exec(ctx, o.create(s.names)); err != nil {
				return fmt.Errorf("idempotency: pgstore: migrate: recreate %s %s: %w", o.kind, o.rel, err)
			}
		}
		return nil
	})
}

// checkSchema reports ErrSchema unless the schema is at SchemaVersion.
func (s *Store) checkSchema(ctx context.Context) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.names.version).Scan(&exists); err != nil {
		return fmt.Errorf("idempotency: pgstore: check schema: %w", err)
	}
	v := 0
	if exists {
		var err error
		if v, err = schemaVersion(ctx, s.pool, s.names); err != nil {
			return err
		}
	}
	if v != SchemaVersion {
		return fmt.Errorf("%w: the database has version %d, want %d (run Store.Migrate)", ErrSchema, v, SchemaVersion)
	}
	gone, err := missing(ctx, s.pool, s.names)
	if err != nil {
		return err
	}
	if len(gone) > 0 {
		var what []string
		for _, o := range gone {
			what = append(what, o.kind+" "+o.rel)
		}
		return fmt.Errorf("%w: %s missing (run Store.Migrate to recreate)", ErrSchema, strings.Join(what, ", "))
	}
	return nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func schemaVersion(ctx context.Context, q querier, n names) (int, error) {
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+n.version).Scan(&v); err != nil {
		return 0, fmt.Errorf("idempotency: pgstore: read schema version: %w", err)
	}
	return v, nil
}
