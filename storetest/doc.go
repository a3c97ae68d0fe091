// Package storetest is the conformance suite for idempotency stores. Every
// store, ours and yours, runs it from a test:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) idempotency.Store {
//			return mystore.New(...) // a fresh, empty store for each case
//		})
//	}
//
// It uses only the standard library's testing package. Cases that need
// time to pass use short leases and TTLs (a few hundred milliseconds) and
// real sleeps, since a store's clock may be a server's; they assert what
// must have happened after the time passed, never how fast.
//
// A store that takes its clock from the caller also runs RunClock, which
// moves a Clock by hand to check every boundary of leases and expiry to
// the nanosecond, as the rules in package idemtype define them: a lease
// has lapsed at LeaseUntil, a record is gone at ExpiresAt.
//
//	func TestConformanceClock(t *testing.T) {
//		storetest.RunClock(t, func(t *testing.T, now func() time.Time) idempotency.Store {
//			return mystore.New(&mystore.Options{Now: now})
//		})
//	}
package storetest
