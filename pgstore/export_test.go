package pgstore

import (
	"context"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
)

// Statements exposes the claim, complete and DoTx-complete statements to
// the benchmarks, which run them through raw pgx as a baseline.
func (s *Store) Statements() (claim, complete, completeTx string) {
	return s.sql.claim, s.sql.complete, s.sql.completeTx
}

// HashKey is the digest keys are stored under.
func HashKey(key string) []byte { return hashKey(key) }

// EndsTx is the scanner DoTx refuses transaction-ending statements with.
var EndsTx = endsTx

// ClaimIn runs the claim statement on q (a transaction of the test's).
func (s *Store) ClaimIn(ctx context.Context, q pgx.Tx, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	return s.claim(ctx, q, req)
}

// Cols are a record's columns in the order the statements return them.
const Cols = cols

// ReadRaw reads the current row of rows (after Next) from its raw values,
// as a claim or Get through pgx does, and reports whether it could (else
// they scan); then it checks the row as decode does.
func ReadRaw(rows pgx.Rows, key string, extra ...*bool) (rec idemtype.Record, raw bool, err error) {
	var r row
	if !r.raw(rows, extra) {
		return idemtype.Record{}, false, nil
	}
	rec, err = r.decode("get", key)
	return rec, true, err
}

// ScanRecord reads row by pgx's Scan, as before rows were read raw.
func ScanRecord(row pgx.Row, key string, extra ...any) (idemtype.Record, error) {
	return scanRecord(row, "get", key, extra...)
}

// ReadRecord is readRecord: the raw values when it can, else Scan.
func ReadRecord(rows pgx.Rows, err error, key string, extra ...*bool) (idemtype.Record, error) {
	return readRecord(rows, err, "get", key, extra...)
}
