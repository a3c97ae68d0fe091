package idemtype_test

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

var (
	t0 = time.Unix(1_700_000_000, 0)
	ns = time.Nanosecond
)

func inProgress(leaseUntil, expiresAt time.Time) *idemtype.Record {
	return &idemtype.Record{Key: "k", Fingerprint: "fp", Status: idemtype.StatusInProgress, Token: 7, LeaseUntil: leaseUntil, ExpiresAt: expiresAt}
}

func TestLive(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		expires time.Time
		now     time.Time
		want    bool
	}{
		{"NeverExpires", time.Time{}, t0.Add(1000 * time.Hour), true},
		{"BeforeExpiry", t0, t0.Add(-ns), true},
		{"AtExpiry", t0, t0, false},
		{"AfterExpiry", t0, t0.Add(ns), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := idemtype.Live(&idemtype.Record{ExpiresAt: c.expires}, c.now); got != c.want {
				t.Fatalf("Live(expires %v, now %v) = %v, want %v", c.expires, c.now, got, c.want)
			}
		})
	}
}

func TestLapsed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		status idemtype.Status
		now    time.Time
		want   bool
	}{
		{"BeforeLeaseUntil", idemtype.StatusInProgress, t0.Add(-ns), false},
		{"AtLeaseUntil", idemtype.StatusInProgress, t0, true},
		{"AfterLeaseUntil", idemtype.StatusInProgress, t0.Add(ns), true},
		{"CompletedHasNoLease", idemtype.StatusCompleted, t0.Add(time.Hour), false},
		{"FailedHasNoLease", idemtype.StatusFailed, t0.Add(time.Hour), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := &idemtype.Record{Status: c.status, LeaseUntil: t0}
			if got := idemtype.Lapsed(rec, c.now); got != c.want {
				t.Fatalf("Lapsed(%v, lease until %v, now %v) = %v, want %v", c.status, t0, c.now, got, c.want)
			}
		})
	}
}

func TestOwns(t *testing.T) {
	t.Parallel()
	done := inProgress(t0, t0.Add(time.Hour))
	done.Status = idemtype.StatusCompleted
	for _, c := range []struct {
		name  string
		rec   *idemtype.Record
		token idemtype.Token
		now   time.Time
		want  bool
	}{
		{"Owner", inProgress(t0, t0.Add(time.Hour)), 7, t0.Add(-ns), true},
		{"OwnerPastLease", inProgress(t0, t0.Add(time.Hour)), 7, t0.Add(time.Minute), true},
		{"OtherToken", inProgress(t0, t0.Add(time.Hour)), 8, t0, false},
		{"NoRecord", nil, 7, t0, false},
		{"Expired", inProgress(t0, t0.Add(time.Hour)), 7, t0.Add(time.Hour), false},
		{"Completed", done, 7, t0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := idemtype.Owns(c.rec, c.token, c.now); got != c.want {
				t.Fatalf("Owns = %v, want %v", got, c.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		ttl  time.Duration
		want time.Time
	}{
		{"TTL", time.Minute, t0.Add(time.Minute)},
		{"OneNanosecond", ns, t0.Add(ns)},
		{"Zero", 0, time.Time{}},
		{"NoExpiry", -1, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := idemtype.Expiry(t0, c.ttl); !got.Equal(c.want) {
				t.Fatalf("Expiry(%v) = %v, want %v", c.ttl, got, c.want)
			}
		})
	}
}

func TestJudgeClaim(t *testing.T) {
	t.Parallel()
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	noTakeover := req
	noTakeover.Takeover = false
	other := req
	other.Fingerprint = "other"
	done := inProgress(t0, t0.Add(time.Hour))
	done.Status = idemtype.StatusCompleted
	failed := inProgress(t0, t0.Add(time.Hour))
	failed.Status = idemtype.StatusFailed
	for _, c := range []struct {
		name      string
		rec       *idemtype.Record
		req       idemtype.ClaimRequest
		now       time.Time
		want      idemtype.Verdict
		abandoned bool
	}{
		{"NoRecord", nil, req, t0, idemtype.Acquire, false},
		{"ExpiredRecord", inProgress(t0, t0.Add(time.Second)), req, t0.Add(time.Second), idemtype.Acquire, false},
		{"ExpiredCompleted", &idemtype.Record{Status: idemtype.StatusCompleted, ExpiresAt: t0}, other, t0, idemtype.Acquire, false},
		{"LeaseHeld", inProgress(t0, t0.Add(time.Hour)), req, t0.Add(-ns), idemtype.Refuse, false},
		{"LeaseLapsedAtLeaseUntil", inProgress(t0, t0.Add(time.Hour)), req, t0, idemtype.TakeOver, false},
		{"LeaseLapsed", inProgress(t0, t0.Add(time.Hour)), req, t0.Add(time.Minute), idemtype.TakeOver, false},
		{"LapsedNoTakeover", inProgress(t0, t0.Add(time.Hour)), noTakeover, t0, idemtype.Refuse, true},
		{"LapsedOtherFingerprint", inProgress(t0, t0.Add(time.Hour)), other, t0, idemtype.Refuse, true},
		{"LapsedNoExpiry", inProgress(t0, time.Time{}), req, t0, idemtype.TakeOver, false},
		{"Completed", done, req, t0.Add(time.Minute), idemtype.Refuse, false},
		{"Failed", failed, req, t0.Add(time.Minute), idemtype.Refuse, false},
		{"CompletedOtherFingerprint", done, other, t0, idemtype.Refuse, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if v, abandoned := idemtype.JudgeClaim(c.rec, &c.req, c.now); v != c.want || abandoned != c.abandoned {
				t.Fatalf("JudgeClaim = %v (abandoned %v), want %v (abandoned %v)", v, abandoned, c.want, c.abandoned)
			}
		})
	}
}

func TestClaimedAndUpdates(t *testing.T) {
	t.Parallel()
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour}
	rec := idemtype.Claimed(req, 9, t0)
	want := idemtype.Record{Key: "k", Fingerprint: "fp", Status: idemtype.StatusInProgress, Token: 9,
		LeaseUntil: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0}
	if !equal(rec, want) {
		t.Fatalf("Claimed = %+v, want %+v", rec, want)
	}
	if r := idemtype.Claimed(idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: -1}, 9, t0); !r.ExpiresAt.IsZero() {
		t.Fatalf("Claimed with TTL -1 expires at %v", r.ExpiresAt)
	}
	t1 := t0.Add(time.Second)
	idemtype.Extended(&rec, 2*time.Minute, t1)
	if !rec.LeaseUntil.Equal(t1.Add(2*time.Minute)) || !rec.UpdatedAt.Equal(t1) || !rec.CreatedAt.Equal(t0) {
		t.Fatalf("Extended = %+v", rec)
	}
	t2 := t1.Add(time.Second)
	idemtype.Completed(&rec, idemtype.Outcome{Status: idemtype.StatusFailed, Value: []byte("v"), TTL: time.Minute}, t2)
	if rec.Status != idemtype.StatusFailed || string(rec.Value) != "v" || !rec.ExpiresAt.Equal(t2.Add(time.Minute)) || !rec.UpdatedAt.Equal(t2) || rec.Token != 9 {
		t.Fatalf("Completed = %+v", rec)
	}
	idemtype.Completed(&rec, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: -1}, t2)
	if !rec.ExpiresAt.IsZero() {
		t.Fatalf("Completed with TTL -1 expires at %v", rec.ExpiresAt)
	}
}

func equal(a, b idemtype.Record) bool {
	return a.Key == b.Key && a.Fingerprint == b.Fingerprint && a.Status == b.Status && a.Token == b.Token &&
		string(a.Value) == string(b.Value) && a.LeaseUntil.Equal(b.LeaseUntil) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func TestCheckOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status idemtype.Status
		ok     bool
	}{
		{0, false},
		{idemtype.StatusInProgress, false},
		{idemtype.StatusCompleted, true},
		{idemtype.StatusFailed, true},
		{idemtype.StatusFailed + 1, false},
		{255, false},
	} {
		t.Run(tc.status.String(), func(t *testing.T) {
			t.Parallel()
			err := idemtype.CheckOutcome(idemtype.Outcome{Status: tc.status})
			if (err == nil) != tc.ok || tc.status.Final() != tc.ok {
				t.Fatalf("CheckOutcome = %v, Final = %v; want ok %v", err, tc.status.Final(), tc.ok)
			}
		})
	}
}
