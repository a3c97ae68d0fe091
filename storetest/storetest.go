package storetest

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Run runs every conformance case as a parallel subtest. newStore must
// return a fresh store for each case; it may register cleanups with t.
func Run(t *testing.T, newStore func(t *testing.T) idemtype.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
}

// Durations the cases use. A short lease is long enough for a claim and a
// few calls to finish before it lapses on any sane store, and short enough
// to wait out.
const (
	longLease  = time.Minute
	shortLease = 500 * time.Millisecond
	lapse      = 1200 * time.Millisecond // sleep that outlasts shortLease
	shortTTL   = time.Second
	pastTTL    = 2200 * time.Millisecond // sleep that outlasts shortTTL

	// On a Clock (RunClock), no time passes but what a case moves.
	ns        = time.Nanosecond
	testLease = 10 * time.Second
	testTTL   = time.Minute
)

var cases = []struct {
	name string
	run  func(t *testing.T, s idemtype.Store)
}{
	// claims.go
	{"ClaimNewKey", testClaimNewKey},
	{"DuplicateSeesInProgress", testDuplicateSeesInProgress},
	{"DuplicateSeesCompleted", testDuplicateSeesCompleted},
	{"DuplicateSeesFailed", testDuplicateSeesFailed},
	{"OneWinnerAmongConcurrentClaims", testOneWinner},
	{"ManyKeysConcurrently", testManyKeys},
	{"CancelledContext", testCancelledContext},
	// leases.go
	{"NoTakeoverBeforeLease", testNoTakeoverBeforeLease},
	{"TakeoverAfterLease", testTakeoverAfterLease},
	{"TakeoverDisabled", testTakeoverDisabled},
	{"TakeoverNeedsSameFingerprint", testTakeoverFingerprint},
	{"OneWinnerAmongConcurrentTakeovers", testOneTakeoverWinner},
	{"ExtendMovesLease", testExtend},
	{"CompletedIsFinal", testCompletedIsFinal},
	{"CompleteRefusesUnfinishedStatus", testCompleteRefusesUnfinishedStatus},
	{"TakeoverRenewsExpiry", testTakeoverRenewsExpiry},
	// expiry.go
	{"TTLExpiry", testTTLExpiry},
	{"InProgressTTLExpiry", testInProgressTTLExpiry},
	{"NoExpiry", testNoExpiry},
	{"CompleteNoExpiryAfterTTL", testCompleteNoExpiryAfterTTL},
	// farfuture.go
	{"FarFutureLeaseAndTTL", testFarFuture},
	// fencing.go
	{"StaleTokenRejected", testStaleToken},
	{"UnknownKeyRejected", testUnknownKey},
	{"ReleaseFreesKey", testRelease},
	{"GetAndDelete", testGetDelete},
	{"DeleteFencesExecutor", testDeleteFences},
	// keys.go
	{"FingerprintKept", testFingerprintKept},
	{"OddKeysNeverCollide", testOddKeys},
	{"LargeValue", testLargeValue},
	{"EmptyValue", testEmptyValue},
	{"ValueCopiedOnComplete", testValueCopiedOnComplete},
	// watchers.go
	{"Watcher", testWatcher},
	// capabilities.go
	{"Lister", testLister},
	{"Sweeper", testSweeper},
	{"Close", testClose},
}

// RunClock runs the cases that need the store's clock in hand: every
// boundary of a lease and an expiry, to the nanosecond, as the rules of
// package idemtype define them (a lease has lapsed at LeaseUntil, a record
// is gone at ExpiresAt). newStore must return a fresh store that judges
// time by now alone. Stores that take an injected clock run it besides
// Run.
func RunClock(t *testing.T, newStore func(t *testing.T, now func() time.Time) idemtype.Store) {
	t.Helper()
	for _, c := range clockCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := NewClock(epoch)
			c.run(t, newStore(t, clk.Now), clk)
		})
	}
}

// epoch is where the cases' clocks start: a time with nanoseconds, so that
// a store that rounds times shows.
var epoch = time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC)

// clockCases are in boundaries.go.
var clockCases = []struct {
	name string
	run  func(t *testing.T, s idemtype.Store, clk *Clock)
}{
	{"LeaseHeldUntilLeaseUntil", testLeaseHeldUntilBoundary},
	{"LeaseLapsedAtLeaseUntil", testLeaseLapsedAtBoundary},
	{"AbandonedAtLeaseUntil", testAbandonedAtBoundary},
	{"ExtendMovesBoundary", testExtendMovesBoundary},
	{"LapsedOwnerMayFinish", testLapsedOwnerMayFinish},
	{"RecordGoneAtExpiresAt", testRecordGoneAtExpiry},
	{"InProgressGoneAtExpiresAt", testInProgressGoneAtExpiry},
	{"SweepAtExpiresAt", testSweepAtExpiry},
	{"TakeoverRenewsExpiry", testTakeoverRenewsExpiryClock},
	{"SettledRecordsHaveNoLease", testSettledHaveNoLease},
	{"AbandonedWithOtherFingerprint", testAbandonedWithOtherFingerprint},
	{"ListSkipsExpired", testListSkipsExpired},
	// farfuture.go
	{"FarFutureOnClock", testFarFutureClock},
}
