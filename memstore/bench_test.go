package memstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
)

// BenchmarkClaim: the store alone, a duplicate's claim (one live record)
// and a first call's claim and completion (a new key each time, records
// expiring as fast as they come, so that the store stays small).
func BenchmarkClaim(b *testing.B) {
	ctx := context.Background()
	b.Run("duplicate", func(b *testing.B) {
		s := memstore.New(&memstore.Options{SweepInterval: -1})
		defer s.Close()
		req := idemtype.ClaimRequest{Key: "invoice:1", Lease: time.Minute, TTL: time.Hour, Takeover: true}
		if _, err := s.Claim(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if c, err := s.Claim(ctx, req); err != nil || c.Acquired {
				b.Fatal(c, err)
			}
		}
	})
	b.Run("first", func(b *testing.B) {
		var tick int64
		epoch := time.Now()
		s := memstore.New(&memstore.Options{SweepInterval: -1, Now: func() time.Time {
			tick++
			return epoch.Add(time.Duration(tick) * time.Microsecond)
		}})
		defer s.Close()
		keys := make([]string, 4096)
		for i := range keys {
			keys[i] = "invoice:" + strconv.Itoa(i)
		}
		out := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(`{"id":"ch_1"}`), TTL: 1000 * time.Microsecond}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := keys[i%len(keys)]
			i++
			c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: time.Hour, Takeover: true})
			if err != nil {
				b.Fatal(err)
			}
			if c.Acquired {
				if err := s.Complete(ctx, k, c.Record.Token, out); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
