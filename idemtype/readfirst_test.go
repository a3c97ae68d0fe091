package idemtype_test

import (
	"sync"
	"testing"

	"github.com/idempotency-go/idempotency/idemtype"
)

func TestDuplicateRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		seen []bool // claims observed in order: true found a finished record
		mode idemtype.ReadFirst
		want bool
	}{
		{"auto, nothing seen", nil, idemtype.ReadFirstAuto, false},
		{"always, nothing seen", nil, idemtype.ReadFirstAlways, true},
		{"never, only duplicates", repeat(true, 100), idemtype.ReadFirstNever, false},
		{"always, only new keys", repeat(false, 100), idemtype.ReadFirstAlways, true},
		{"auto, 21 duplicates", repeat(true, 21), idemtype.ReadFirstAuto, false},
		{"auto, 22 duplicates", repeat(true, 22), idemtype.ReadFirstAuto, true},
		{"auto, duplicates then 4 new keys", append(repeat(true, 100), repeat(false, 4)...), idemtype.ReadFirstAuto, true},
		{"auto, duplicates then 5 new keys", append(repeat(true, 100), repeat(false, 5)...), idemtype.ReadFirstAuto, false},
		{"auto, one in two duplicates", alternate(200), idemtype.ReadFirstAuto, false},
		{"auto, new keys then duplicates again", append(append(repeat(true, 100), repeat(false, 100)...), repeat(true, 22)...), idemtype.ReadFirstAuto, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d idemtype.DuplicateRate
			for _, f := range tc.seen {
				d.Observe(f)
			}
			if got := d.ReadFirst(tc.mode); got != tc.want {
				t.Fatalf("ReadFirst(%v) = %v; want %v", tc.mode, got, tc.want)
			}
		})
	}
}

func TestReadFirstString(t *testing.T) {
	t.Parallel()
	for r, want := range map[idemtype.ReadFirst]string{
		idemtype.ReadFirstAuto: "auto", idemtype.ReadFirstAlways: "always", idemtype.ReadFirstNever: "never", 9: "ReadFirst(9)",
	} {
		if got := r.String(); got != want {
			t.Errorf("String() = %q; want %q", got, want)
		}
		if got, valid := r.Valid(), want != "ReadFirst(9)"; got != valid {
			t.Errorf("%v.Valid() = %v; want %v", r, got, valid)
		}
	}
}

func repeat(v bool, n int) []bool {
	s := make([]bool, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func alternate(n int) []bool {
	s := make([]bool, n)
	for i := range s {
		s[i] = i%2 == 0
	}
	return s
}

// TestDuplicateRateConcurrent: claims observed from many goroutines at
// once (run with -race) may lose updates, which only blurs the estimate:
// it stays within its range, and the claims that follow still move it.
func TestDuplicateRateConcurrent(t *testing.T) {
	t.Parallel()
	var d idemtype.DuplicateRate
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				d.Observe((i+g)%3 != 0)
				d.ReadFirst(idemtype.ReadFirstAuto)
			}
		})
	}
	wg.Wait()
	for range 22 {
		d.Observe(true)
	}
	if !d.ReadFirst(idemtype.ReadFirstAuto) {
		t.Fatal("22 duplicates after concurrent claims: not reading first")
	}
	for range 5 {
		d.Observe(false)
	}
	if d.ReadFirst(idemtype.ReadFirstAuto) {
		t.Fatal("5 new keys after: still reading first")
	}
}

func TestObserveClaim(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		claim    idemtype.Claim
		finished bool
	}{
		{"acquired", idemtype.Claim{Acquired: true, Record: idemtype.Record{Status: idemtype.StatusInProgress}}, false},
		{"in progress", idemtype.Claim{Record: idemtype.Record{Status: idemtype.StatusInProgress}}, false},
		{"completed", idemtype.Claim{Record: idemtype.Record{Status: idemtype.StatusCompleted}}, true},
		{"failed", idemtype.Claim{Record: idemtype.Record{Status: idemtype.StatusFailed}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d, after, read idemtype.DuplicateRate
			for range 22 {
				d.ObserveClaim(tc.claim)
				after.ObserveClaimAfter(false, tc.claim)
				read.ObserveClaimAfter(true, tc.claim)
			}
			if got := d.ReadFirst(idemtype.ReadFirstAuto); got != tc.finished {
				t.Fatalf("after 22 such claims ReadFirst = %v; want %v", got, tc.finished)
			}
			if got := after.ReadFirst(idemtype.ReadFirstAuto); got != tc.finished {
				t.Fatalf("after 22 such claims without a read first ReadFirst = %v; want %v", got, tc.finished)
			}
			// A claim the read first did not answer is no duplicate.
			if read.ReadFirst(idemtype.ReadFirstAuto) {
				t.Fatal("after 22 such claims after a read first that did not answer them: ReadFirst = true; want false")
			}
		})
	}
}
