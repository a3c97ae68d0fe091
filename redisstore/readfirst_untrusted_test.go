package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
)

// TestReadFirstAutoUntrustedExpiry: duplicates of finished records that
// the read cannot answer, because their key's expiry is not the one the
// scripts set (expires_at itself, as a record written before keys expired
// a millisecond early has it; a later one, as MIGRATE leaves it on another
// master; none, after PERSIST), do not keep a Store under
// idemtype.ReadFirstAuto reading first: each such read is a round trip
// wasted before the claim script, so a duplicate would cost two round
// trips where ReadFirstNever costs one.
func TestReadFirstAutoUntrustedExpiry(t *testing.T) {
	t.Parallel()
	c, rt := client(t, testserver.StartRedis(t).Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		keep func(t *testing.T, name string, e int64) // resets the key's expiry
	}{
		{"expiring at expires_at", func(t *testing.T, name string, e int64) {
			if err := c.PExpireAt(ctx, name, time.UnixMilli(e)).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"expiring after expires_at", func(t *testing.T, name string, e int64) {
			if err := c.PExpireAt(ctx, name, time.UnixMilli(e+3)).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"persisted", func(t *testing.T, name string, e int64) {
			if err := c.Persist(ctx, name).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, c, nil) // ReadFirstAuto
			const keys, dups = 8, 400
			for i := range keys {
				key := "k" + strconv.Itoa(i)
				cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour})
				if err != nil || !cl.Acquired {
					t.Fatalf("Claim = %+v, %v", cl, err)
				}
				if err := s.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
					t.Fatal(err)
				}
				rec, err := s.Get(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				tc.keep(t, s.RedisKey(key), rec.ExpiresAt.UnixMilli())
			}
			rt.count()
			for i := range dups {
				cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k" + strconv.Itoa(i%keys), Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour})
				if err != nil || cl.Acquired || cl.Record.Status != idemtype.StatusCompleted {
					t.Fatalf("duplicate %d: Claim = %+v, %v", i, cl, err)
				}
			}
			// ReadFirstNever: one round trip each. Reading first and
			// falling back to the script costs two; allow a read every
			// few duplicates, while the estimate tries again (one in
			// four as the estimate goes).
			if n := rt.count(); n > dups*3/2 {
				t.Errorf("%d duplicates the read cannot answer cost %d round trips (%.2f each); want at most %d (ReadFirstNever: %d)",
					dups, n, float64(n)/dups, dups*3/2, dups)
			}
		})
	}
}
