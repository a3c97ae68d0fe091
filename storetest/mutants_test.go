package storetest_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/storetest"
)

// mutantEnv names the defect a child process gives the reference store.
const mutantEnv = "STORETEST_MUTANT"

// The reference store passes the suite as it is: the mutants below fail
// it for their defect, not for the harness.
func TestReferenceStorePasses(t *testing.T) {
	t.Parallel()
	bug := os.Getenv(mutantEnv)
	t.Run("Run", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) idemtype.Store { return newRefStore(nil, bug) })
	})
	t.Run("RunClock", func(t *testing.T) {
		t.Parallel()
		storetest.RunClock(t, func(t *testing.T, now func() time.Time) idemtype.Store { return newRefStore(now, bug) })
	})
}

// Each defect, given to the reference store, makes the named cases fail:
// a child process runs them, so that their failure is the expected result
// here.
func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("in a child")
	}
	t.Parallel()
	for _, m := range []struct {
		bug   string
		cases []string // each fails; under TestReferenceStorePasses
	}{
		{"TakeoverKeepsExpiry", []string{"Run/TakeoverRenewsExpiry", "RunClock/TakeoverRenewsExpiry"}},
		{"FailedLeaseLapses", []string{"Run/CompletedIsFinal", "RunClock/SettledRecordsHaveNoLease"}},
		{"NotAbandonedOnOtherFingerprint", []string{"Run/TakeoverNeedsSameFingerprint", "RunClock/AbandonedWithOtherFingerprint"}},
		{"CompleteNoExpiryKeepsClaimExpiry", []string{"Run/CompleteNoExpiryAfterTTL"}},
		{"CompleteKeepsCallersSlice", []string{"Run/ValueCopiedOnComplete"}},
		{"ListExpired", []string{"RunClock/ListSkipsExpired"}},
		{"LiveAtExpiresAt", []string{"RunClock/RecordGoneAtExpiresAt"}},
		{"WritesIgnoreToken", []string{"Run/StaleTokenRejected", "Run/UnknownKeyRejected", "RunClock/LeaseLapsedAtLeaseUntil"}},
		{"LapsedOwnerLosesRecord", []string{"Run/TakeoverDisabled", "RunClock/LapsedOwnerMayFinish"}},
		{"TokenRestartsWithRecord", []string{"Run/ReleaseFreesKey", "Run/DeleteFencesExecutor", "Run/TTLExpiry", "RunClock/RecordGoneAtExpiresAt"}},
		{"ReleaseKeepsRecord", []string{"Run/ReleaseFreesKey"}},
		{"CompleteAnyStatus", []string{"Run/CompleteRefusesUnfinishedStatus"}},
		{"UsableAfterClose", []string{"Run/Close"}},
		{"SweepAfterClose", []string{"Run/Close"}},
		{"SecondCloseFails", []string{"Run/Close"}},
		{"TakeoverKeepsToken", []string{"Run/TakeoverAfterLease", "Run/StaleTokenRejected", "RunClock/LeaseLapsedAtLeaseUntil"}},
	} {
		t.Run(m.bug, func(t *testing.T) {
			t.Parallel()
			// Subtest patterns: each level is matched alone, so run the
			// union and check each case's own verdict.
			run := "^TestReferenceStorePasses$/^(Run|RunClock)$/^(" + caseNames(m.cases) + ")$"
			cmd := testchild.Command(run, mutantEnv+"="+m.bug)
			cmd.Args = append(cmd.Args, "-test.v", "-test.timeout=60s")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with defect %s:\n%s", m.bug, out)
			}
			for _, c := range m.cases {
				if !strings.Contains(string(out), "--- FAIL: TestReferenceStorePasses/"+c+" ") {
					t.Errorf("defect %s: %s did not fail:\n%s", m.bug, c, out)
				}
			}
		})
	}
}

// caseNames returns the alternation of the last elements of cases.
func caseNames(cases []string) string {
	var names []string
	for _, c := range cases {
		names = append(names, c[strings.LastIndex(c, "/")+1:])
	}
	return strings.Join(names, "|")
}
