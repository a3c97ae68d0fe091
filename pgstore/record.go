package pgstore

import (
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// row is a records row as scanned, before any check.
type row struct {
	key, fingerprint []byte
	status           int16
	token            int64
	value            []byte
	leaseUntil       pgtype.Timestamptz
	expiresAt        pgtype.Timestamptz
	createdAt        pgtype.Timestamptz
	updatedAt        pgtype.Timestamptz
}

// dest lists r's fields in the order of cols, for Scan.
func (r *row) dest(extra ...any) []any {
	return append([]any{&r.key, &r.fingerprint, &r.status, &r.token, &r.value,
		&r.leaseUntil, &r.expiresAt, &r.createdAt, &r.updatedAt}, extra...)
}

func hashKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// decode checks a row read for key by op and turns it into a Record.
// Whatever the row holds, the result is key's record or an error matching
// idemtype.ErrCorrupt: never another key's record.
func (r *row) decode(op, key string) (idemtype.Record, error) {
	corrupt := func(format string, args ...any) (idemtype.Record, error) {
		return idemtype.Record{}, &idemtype.CorruptError{Store: "pgstore", Op: op, Key: key,
			Path: fmt.Sprintf("row key_hash=%x", hashKey(key)[:8]), Reason: fmt.Sprintf(format, args...)}
	}
	if string(r.key) != key {
		return corrupt("the row holds another key")
	}
	st := idemtype.Status(r.status)
	if r.status < int16(idemtype.StatusInProgress) || r.status > int16(idemtype.StatusFailed) {
		return corrupt("unknown status %d", r.status)
	}
	if r.token <= 0 {
		return corrupt("invalid token %d", r.token)
	}
	rec := idemtype.Record{Key: key, Fingerprint: string(r.fingerprint), Status: st, Token: idemtype.Token(r.token)}
	if st != idemtype.StatusInProgress {
		rec.Value = r.value
	}
	var err error
	for _, f := range []struct {
		name     string
		ts       pgtype.Timestamptz
		dst      *time.Time
		nullable bool
	}{
		{"lease_until", r.leaseUntil, &rec.LeaseUntil, false},
		{"expires_at", r.expiresAt, &rec.ExpiresAt, true},
		{"created_at", r.createdAt, &rec.CreatedAt, false},
		{"updated_at", r.updatedAt, &rec.UpdatedAt, false},
	} {
		switch {
		case !f.ts.Valid && f.nullable:
		case !f.ts.Valid:
			_, err = corrupt("%s is NULL", f.name)
		case f.ts.InfinityModifier != pgtype.Finite:
			_, err = corrupt("%s is infinite", f.name)
		default:
			*f.dst = f.ts.Time
		}
		if err != nil {
			return idemtype.Record{}, err
		}
	}
	return rec, nil
}

// scanRecord reads one row for key, read by op, with Scan: through
// database/sql, and wherever a row is not read raw (see queryRecord); no
// row is ErrNotFound.
func scanRecord(rows pgx.Row, op, key string, extra ...any) (idemtype.Record, error) {
	var r row
	if err := rows.Scan(r.dest(extra...)...); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // pgx.ErrNoRows matches it too
			return idemtype.Record{}, idemtype.ErrNotFound
		}
		return idemtype.Record{}, wrap(op, key, err)
	}
	return r.decode(op, key)
}

func truncate(k string) string {
	if len(k) > 64 {
		return k[:61] + "..."
	}
	return k
}

// wrap labels err with the operation (claim, complete, release, extend,
// get, delete, list, sweep) and the key it was for. The key stays out of
// the message, which reaches logs: keys may carry client data.
func wrap(op, key string, err error) error {
	return &idemtype.OpError{Store: "pgstore", Op: op, Key: key, Err: err}
}
