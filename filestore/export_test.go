package filestore

// Trace makes s report every fsync, rename and removal with its path, in
// order. Call it before s is used.
func Trace(s *Store, f func(op, path string)) { s.trace = f }
