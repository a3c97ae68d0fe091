package idempotency_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  *idempotency.Config
		// want are substrings of the error, one per problem; none: valid.
		want []string
	}{
		{"Nil", nil, nil},
		{"Zero", &idempotency.Config{}, nil},
		{"NoExpiry", &idempotency.Config{TTL: idempotency.NoExpiry}, nil},
		{"TTLEqualsLease", &idempotency.Config{TTL: time.Minute, Lease: time.Minute}, nil},
		{"MinLease", &idempotency.Config{Lease: idempotency.MinLease, TTL: time.Second}, nil},
		{"NegativeWait", &idempotency.Config{WaitTimeout: -1}, nil},
		{"NegativeTTL", &idempotency.Config{TTL: -2}, []string{"TTL -2ns is negative"}},
		{"TinyLease", &idempotency.Config{Lease: time.Microsecond}, []string{"Lease 1µs is shorter than MinLease 1ms"}},
		{"NegativeLease", &idempotency.Config{Lease: -time.Second}, []string{"Lease -1s is shorter than MinLease"}},
		{"TTLBelowLease", &idempotency.Config{TTL: 10 * time.Second, Lease: time.Minute}, []string{"TTL 10s is shorter than Lease 1m0s"}},
		{"TTLBelowMinLease", &idempotency.Config{TTL: time.Millisecond - 1, Lease: idempotency.MinLease}, []string{"TTL 999.999µs is shorter than Lease 1ms"}},
		{"TTLJustBelowLease", &idempotency.Config{TTL: time.Minute - 1, Lease: time.Minute}, []string{"TTL 59.999999999s is shorter than Lease 1m0s"}},
		{"TTLBelowDefaultLease", &idempotency.Config{TTL: time.Second}, []string{"TTL 1s is shorter than Lease 30s"}},
		{"DefaultTTLBelowLease", &idempotency.Config{Lease: 25 * time.Hour}, []string{"TTL 24h0m0s is shorter than Lease 25h0m0s"}},
		{"BadPolicy", &idempotency.Config{OnDuplicate: 7}, []string{"unknown OnDuplicate DuplicatePolicy(7)"}},
		{"BadFailure", &idempotency.Config{OnFailure: 3}, []string{"unknown OnFailure FailurePolicy(3)"}},
		{"NilKnownError", &idempotency.Config{KnownErrors: []error{errDown, nil}}, []string{"KnownErrors[1] is nil"}},
		{"NilKnownErrorType", &idempotency.Config{KnownErrorTypes: []error{nil}}, []string{"KnownErrorTypes[0] is an untyped nil"}},
		{"MaxExecutionAtTTL", &idempotency.Config{MaxExecution: idempotency.DefaultTTL}, nil},
		{"NegativeMaxExecution", &idempotency.Config{MaxExecution: -time.Second}, []string{"MaxExecution -1s is negative"}},
		{"MaxExecutionPastTTL", &idempotency.Config{TTL: time.Hour, MaxExecution: 2 * time.Hour}, []string{"MaxExecution 2h0m0s is longer than TTL 1h0m0s"}},
		{"LocalCache", &idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Second}}, nil},
		{"LocalCacheBounded", &idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Second, MaxEntries: 1}}, nil},
		{"LocalCacheNegativeAge", &idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: -time.Second}}, []string{"LocalCache.MaxAge -1s is negative"}},
		{"LocalCacheNegativeEntries", &idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Second, MaxEntries: -1}}, []string{"LocalCache.MaxEntries -1 is negative"}},
		{"LocalCacheEntriesWithoutAge", &idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxEntries: 100}}, []string{"LocalCache.MaxEntries 100 without MaxAge"}},
		{"Several", &idempotency.Config{TTL: -5, OnFailure: 9, KnownErrors: []error{nil}},
			[]string{"TTL -5ns is negative", "unknown OnFailure", "KnownErrors[0] is nil"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				g := idempotency.New(nil, tc.cfg)
				defer g.Close()
				return
			}
			wantErr(t, err, idempotency.ErrInvalidConfig)
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("Validate = %q, want %d problems", err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], "idempotency: invalid config: ") || !strings.Contains(lines[i], w) {
					t.Fatalf("problem %d = %q, want %q", i, lines[i], w)
				}
			}
			// New refuses it, with the same error.
			defer func() {
				p := recover()
				perr, ok := p.(error)
				if !ok || !errors.Is(perr, idempotency.ErrInvalidConfig) || perr.Error() != err.Error() {
					t.Fatalf("New panicked with %v, want Validate's error", p)
				}
			}()
			idempotency.New(nil, tc.cfg)
		})
	}
}

// The defaults are the exported constants.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	c := g.Config()
	if c.TTL != idempotency.DefaultTTL || c.Lease != idempotency.DefaultLease || c.WaitTimeout != idempotency.DefaultWaitTimeout {
		t.Fatalf("defaults TTL %v, Lease %v, WaitTimeout %v", c.TTL, c.Lease, c.WaitTimeout)
	}
	if c.LocalCache != (idempotency.LocalCacheConfig{}) {
		t.Fatalf("the local cache is on by default: %+v", c.LocalCache)
	}
	on := idempotency.New(nil, &idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Second}})
	defer on.Close()
	if n := on.Config().LocalCache.MaxEntries; n != idempotency.DefaultLocalCacheEntries || idempotency.DefaultLocalCacheEntries != 10_000 {
		t.Fatalf("default LocalCache.MaxEntries %d", n)
	}
	if idempotency.DefaultTTL != 24*time.Hour || idempotency.DefaultLease != 30*time.Second || idempotency.DefaultWaitTimeout != 10*time.Second {
		t.Fatal("documented defaults changed")
	}
}

// A per-call TTL shorter than the lease is refused like a Config's: fn
// does not run and no record is left.
func TestWithTTLShorterThanLease(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, &idempotency.Config{Lease: time.Minute})
	for _, ttl := range []time.Duration{time.Nanosecond, time.Second, time.Minute - 1} {
		_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
			t.Errorf("fn ran with WithTTL(%v)", ttl)
			return 0, nil
		}, idempotency.WithTTL(ttl))
		wantErr(t, err, idempotency.ErrInvalidConfig)
		if !strings.Contains(err.Error(), "shorter than Config.Lease 1m0s") {
			t.Fatalf("error %v", err)
		}
	}
	for _, ttl := range []time.Duration{time.Minute, idempotency.NoExpiry} {
		if _, err := idempotency.Do(context.Background(), g, "ok"+ttl.String(), func(context.Context) (int, error) { return 1, nil }, idempotency.WithTTL(ttl)); err != nil {
			t.Fatalf("WithTTL(%v): %v", ttl, err)
		}
	}
	if _, err := g.Lookup(context.Background(), "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("a refused call left a record: %v", err)
	}
}
