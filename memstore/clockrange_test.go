package memstore_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// A clock made before it is set reads the zero time at New, and the time
// it is set to ever after: records must still lease and expire on that
// time, to the nanosecond, and report it.
func TestClockSetAfterNew(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		first, set time.Time
	}{
		{"ZeroThenSet", time.Time{}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"UnixZeroThenSet", time.Unix(0, 0), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"SetBackCenturies", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"SetOnCenturies", time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := storetest.NewClock(c.first)
			s := memstore.New(&memstore.Options{Now: clk.Now, SweepInterval: -1})
			defer s.Close()
			clk.Set(c.set)
			ctx := context.Background()
			now := c.set
			cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
			if err != nil || !cl.Acquired {
				t.Fatalf("Claim = %+v, %v", cl, err)
			}
			got, err := s.Get(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if !got.CreatedAt.Equal(now) || !got.LeaseUntil.Equal(now.Add(time.Minute)) || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
				t.Fatalf("Get = created %v, lease until %v, expires %v; want %v, +1m, +1h", got.CreatedAt, got.LeaseUntil, got.ExpiresAt, now)
			}
			// The lease lapses on time: a takeover.
			clk.Advance(time.Minute)
			cl, err = s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour, Takeover: true})
			if err != nil || !cl.TookOver {
				t.Fatalf("Claim a minute on = %+v, %v; want a takeover", cl, err)
			}
			if err := s.Complete(ctx, "k", cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Hour - 1)
			if _, err := s.Get(ctx, "k"); err != nil {
				t.Fatalf("Get a nanosecond before expiry: %v", err)
			}
			clk.Advance(1)
			if got, err := s.Get(ctx, "k"); !errors.Is(err, idemtype.ErrNotFound) {
				t.Fatalf("Get at expiry = %+v, %v; want ErrNotFound", got, err)
			}
		})
	}
}

// A record kept for the largest time.Duration expires at the last instant
// of Unix nanoseconds, as the rules give it: the store reports that
// instant, not "never", on the real clock and on one it is given.
func TestForeverReportedAsTheLastNanosecond(t *testing.T) {
	t.Parallel()
	last := time.Unix(0, math.MaxInt64)
	clk := storetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	for name, opts := range map[string]*memstore.Options{
		"RealClock":     {SweepInterval: -1},
		"InjectedClock": {Now: clk.Now, SweepInterval: -1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := memstore.New(opts)
			defer s.Close()
			ctx := context.Background()
			const forever = time.Duration(math.MaxInt64)
			c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: forever, TTL: forever})
			if err != nil || !c.Acquired {
				t.Fatalf("Claim = %+v, %v", c, err)
			}
			got, err := s.Get(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if !got.ExpiresAt.Equal(last) || !got.LeaseUntil.Equal(last) {
				t.Fatalf("Get = lease until %v, expires %v; want %v for both", got.LeaseUntil, got.ExpiresAt, last)
			}
		})
	}
}
