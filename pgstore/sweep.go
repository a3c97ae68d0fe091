package pgstore

import "context"

// Sweep implements idemtype.Sweeper: it deletes expired rows in batches
// of Options.SweepBatch, using the index on expires_at.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := s.nested(ctx, "sweep", "", false); err != nil {
		return 0, err
	}
	return s.sweep(ctx, s.pool)
}
