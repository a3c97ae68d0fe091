package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are applied in order, each once, in one transaction per
// Migrate call; the version table remembers how many ran. Append only:
// never edit a released step.
func migrations(n names) []string {
	return []string{
		// 1: records keyed by the SHA-256 digest of the key (B-tree
		// entries cannot hold arbitrary 4 KiB keys), the raw key alongside.
		// status: 1 in progress, 2 completed, 3 failed. expires_at NULL:
		// forever. waiters: someone is watching, so writes notify.
		`CREATE SEQUENCE ` + n.seq + ` AS bigint CACHE 1;
		CREATE TABLE ` + n.table + ` (
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
		);
		CREATE INDEX ` + n.index + ` ON ` + n.table + ` (expires_at) WHERE expires_at IS NOT NULL;`,
	}
}

// SchemaVersion is the schema version this package writes and reads.
const SchemaVersion = 1

// ErrSchema reports a schema older or newer than this package's
// (SchemaVersion), found by New with Options.ManualMigrate.
var ErrSchema = errors.New("idempotency: pgstore: schema version mismatch")

// Migrate brings the schema up to SchemaVersion. It is safe to run
// concurrently from many processes (an advisory lock serialises them) and
// again on a current schema. It refuses a schema newer than this package.
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
