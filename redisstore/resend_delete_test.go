package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
)

// TestLostDeleteReplyThenClaimed: an operator's Delete whose reply is lost
// after the server ran it, while a new call claims the freed key before
// go-redis sends the Delete again, forgets the key once: the re-sent
// Delete leaves the new claim alone. Deleting it would free a key whose fn
// is running, and the next caller would run fn a second time beside it.
// The same holds when the new call also finished (its outcome stays),
// when a call claimed and released the key in between (the re-sent Delete
// does not turn on the next claim either), and for a Delete that found
// nothing to forget.
func TestLostDeleteReplyThenClaimed(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	done := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}
	cases := []struct {
		name     string
		status   idemtype.Status // of the new call's record when the Delete is re-sent
		released bool            // a call claimed and released the key before the new call
		absent   bool            // the Delete found nothing to forget
	}{
		{"InProgress", idemtype.StatusInProgress, false, false},
		{"Completed", idemtype.StatusCompleted, false, false},
		{"ReleasedThenInProgress", idemtype.StatusInProgress, true, false},
		{"AbsentThenInProgress", idemtype.StatusInProgress, false, true},
	}
	for _, tc := range cases {
		for _, lost := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/lost=%d", tc.name, lost), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				l := newLossy(t, srv)
				last := 0
				if !tc.absent {
					mustClaim(t, l.direct, req)
				}
				var next atomic.Uint64
				l.lose(lost, func() {
					if next.Load() != 0 {
						return
					}
					if tc.released {
						cl, err := l.direct.Claim(ctx, req)
						if err != nil || !cl.Acquired {
							t.Errorf("claim between the Delete and its re-send = %+v, %v", cl, err)
							return
						}
						if err := l.direct.Release(ctx, "k", cl.Record.Token); err != nil {
							t.Errorf("Release between the Delete and its re-send: %v", err)
							return
						}
					}
					cl, err := l.direct.Claim(ctx, req)
					if err != nil || !cl.Acquired {
						t.Errorf("claim between the Delete and its re-send = %+v, %v", cl, err)
						return
					}
					if tc.status == idemtype.StatusCompleted {
						if err := l.direct.Complete(ctx, "k", cl.Record.Token, done); err != nil {
							t.Errorf("Complete between the Delete and its re-send: %v", err)
						}
					}
					next.Store(uint64(cl.Record.Token))
				})
				if err := l.store.Delete(ctx, "k"); err != nil {
					t.Fatalf("re-sent Delete = %v, want success", err)
				}
				l.checkLost(t, lost, &last)
				rec, err := l.direct.Get(ctx, "k")
				if err != nil || rec.Token != idemtype.Token(next.Load()) || rec.Status != tc.status {
					t.Fatalf("record after the re-sent Delete = %+v, %v; want the new call's (token %d, status %d)", rec, err, next.Load(), tc.status)
				}
				// The Delete went through once: a later Delete still forgets.
				if err := l.direct.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if cl, err := l.direct.Claim(ctx, req); err != nil || !cl.Acquired {
					t.Fatalf("claim after a second Delete = %+v, %v; want acquired", cl, err)
				}
			})
		}
	}
}
