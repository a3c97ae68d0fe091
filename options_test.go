package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// TestCallOptions: options apply in order, a later one of a kind
// overriding an earlier one, and the zero CallOption sets nothing.
func TestCallOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		opts       []idempotency.CallOption
		wantTTL    time.Duration // of the record, from the call's clock
		reusedWith []idempotency.CallOption
	}{
		{name: "None", wantTTL: time.Hour},
		{name: "Zero", opts: []idempotency.CallOption{{}}, wantTTL: time.Hour},
		{name: "LaterTTLWins", opts: []idempotency.CallOption{idempotency.WithTTL(2 * time.Hour), {}, idempotency.WithTTL(3 * time.Hour)}, wantTTL: 3 * time.Hour},
		{name: "TTLKeptByZero", opts: []idempotency.CallOption{idempotency.WithTTL(2 * time.Hour), {}}, wantTTL: 2 * time.Hour},
		{
			name:       "LaterFingerprintWins",
			opts:       []idempotency.CallOption{idempotency.WithFingerprint("a"), idempotency.WithFingerprint("b")},
			wantTTL:    time.Hour,
			reusedWith: []idempotency.CallOption{idempotency.WithFingerprint("a")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			s := newStore(t, clk)
			g := newGuardAt(t, s, &idempotency.Config{TTL: time.Hour, Lease: time.Second}, clk)
			ran := 0
			fn := func(context.Context) (int, error) { ran++; return 7, nil }
			if _, err := idempotency.Do(ctx, g, "k", fn, tc.opts...); err != nil {
				t.Fatal(err)
			}
			rec, err := s.Get(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.ExpiresAt.Sub(clk.Now()); got != tc.wantTTL {
				t.Errorf("record expires in %v, want %v", got, tc.wantTTL)
			}
			if tc.reusedWith != nil {
				if _, err := idempotency.Do(ctx, g, "k", fn, tc.reusedWith...); !errors.Is(err, idempotency.ErrKeyReused) {
					t.Errorf("the earlier fingerprint: %v, want ErrKeyReused", err)
				}
			}
			if v, err := idempotency.Do(ctx, g, "k", fn, tc.opts...); err != nil || v != 7 || ran != 1 {
				t.Errorf("duplicate: %v, %v after %d runs, want 7 after 1", v, err, ran)
			}
		})
	}
}
