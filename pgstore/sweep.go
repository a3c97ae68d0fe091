package pgstore

import "context"

// Sweep implements idemtype.Sweeper: it deletes expired rows in batches
// of Options.SweepBatch, using the index on expires_at.
//
// Nothing sweeps a pgstore table by itself (unlike memstore and filestore,
// which run a sweeper): an expired row is ignored at once, by every
// statement, but its space is reclaimed only when Sweep runs. Call it
// from a scheduled job, or run `idem sweep --store postgres://...`.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := s.usable("sweep", ""); err != nil {
		return 0, err
	}
	if err := s.nested(ctx, "sweep", "", false); err != nil {
		return 0, err
	}
	return s.sweep(ctx, s.pool)
}
