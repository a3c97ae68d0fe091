package filestore

import "time"

// Trace makes s report every fsync, rename and removal with its path, in
// order. Call it before s is used.
func Trace(s *Store, f func(op, path string)) { s.trace = f }

// Backoff makes s report every wait between two tries of a flock that
// another process holds. Call it before s is used.
func Backoff(s *Store, f func(time.Duration)) { s.backoff = f }
