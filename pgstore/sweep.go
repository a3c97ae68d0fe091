package pgstore

import "context"

// Sweep implements idemtype.Sweeper: it deletes expired rows in batches
// of Options.SweepBatch, using the index on expires_at.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := s.nested(ctx, "sweep", "", false); err != nil {
		return 0, err
	}
	total := 0
	for {
		var n int
		if err := s.pool.QueryRow(ctx, s.sql.sweep, s.opts.SweepBatch).Scan(&n); err != nil {
			return total, wrap("sweep", "", err)
		}
		total += n
		if n < s.opts.SweepBatch {
			return total, nil
		}
	}
}
