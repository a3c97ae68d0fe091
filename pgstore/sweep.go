package pgstore

import (
	"context"
	"fmt"
)

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
