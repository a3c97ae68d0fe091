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
