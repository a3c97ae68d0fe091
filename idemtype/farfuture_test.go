package idemtype_test

import (
	"math"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// The largest time.Duration is a common way to say "for ever". From today
// it reaches past 2262, beyond int64 Unix nanoseconds: the rules stop
// there, so that a store keeping nanoseconds does not wrap a lease or an
// expiry into the past (a duplicate would then take over, or find nothing,
// and run fn again).

const forever = time.Duration(math.MaxInt64)

var lastNano = time.Unix(0, math.MaxInt64)

func TestFarFutureTimesStopAtLastNanosecond(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	req := idemtype.ClaimRequest{Key: "k", Lease: forever, TTL: forever}
	rec := idemtype.Claimed(req, 1, now)
	for _, c := range []struct {
		name string
		got  time.Time
	}{
		{"ClaimedLeaseUntil", rec.LeaseUntil},
		{"ClaimedExpiresAt", rec.ExpiresAt},
		{"Expiry", idemtype.Expiry(now, forever)},
		{"ExpiryJustPast", idemtype.Expiry(lastNano.Add(-time.Hour), time.Hour+ns)},
	} {
		if !c.got.Equal(lastNano) || c.got.UnixNano() != math.MaxInt64 {
			t.Errorf("%s = %v (Unix ns %d), want %v", c.name, c.got, c.got.UnixNano(), lastNano)
		}
	}
	idemtype.Extended(&rec, forever, now.Add(time.Hour))
	if !rec.LeaseUntil.Equal(lastNano) {
		t.Errorf("Extended LeaseUntil = %v, want %v", rec.LeaseUntil, lastNano)
	}
	idemtype.Completed(&rec, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: forever}, now.Add(time.Hour))
	if !rec.ExpiresAt.Equal(lastNano) {
		t.Errorf("Completed ExpiresAt = %v, want %v", rec.ExpiresAt, lastNano)
	}
	// Held and live for two centuries, whatever the store.
	later := now.Add(200 * 365 * 24 * time.Hour)
	r := idemtype.Claimed(req, 1, now)
	if v, abandoned := idemtype.JudgeClaim(&r, &idemtype.ClaimRequest{Key: "k", Takeover: true}, later); v != idemtype.Refuse || abandoned {
		t.Errorf("JudgeClaim 200 years on = %v, abandoned %v; want Refuse, held", v, abandoned)
	}
	// Times that fit are exact to the nanosecond.
	if got := idemtype.Expiry(lastNano.Add(-time.Hour), time.Hour); !got.Equal(lastNano) {
		t.Errorf("Expiry to the last nanosecond = %v, want %v", got, lastNano)
	}
	if got := idemtype.Expiry(now, 100*365*24*time.Hour); !got.Equal(now.Add(100 * 365 * 24 * time.Hour)) {
		t.Errorf("Expiry 100 years = %v", got)
	}
}
