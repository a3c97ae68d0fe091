package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// An outcome is completed or failed: Complete refuses any other status
// with an error and leaves the record as it was, for its owner to settle
// properly. (A zero status would mark the record's slot free while the
// index still finds it, and its counts would never be given back.)
func TestCompleteRefusesInvalidStatus(t *testing.T) {
	t.Parallel()
	for _, st := range []idemtype.Status{0, idemtype.StatusInProgress, idemtype.StatusFailed + 1, 255} {
		t.Run(fmt.Sprint("Status", uint8(st)), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := storetest.NewClock(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
			s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1, MaxRecords: 1})
			defer s.Close()
			c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
			if err != nil || !c.Acquired {
				t.Fatalf("Claim = %+v, %v", c, err)
			}
			if err := s.Complete(ctx, "k", c.Record.Token, idemtype.Outcome{Status: st, Value: []byte("v"), TTL: time.Hour}); err == nil {
				t.Fatalf("Complete with status %d = nil; want an error", st)
			}
			got, err := s.Get(ctx, "k")
			if err != nil || got.Status != idemtype.StatusInProgress || got.Token != c.Record.Token || got.Value != nil {
				t.Fatalf("Get after the refused Complete = %+v, %v; want the claim as it was", got, err)
			}
			if records, bytes, rr, rb := memstore.Usage(s); records != 1 || records != rr || bytes != rb {
				t.Fatalf("the store counts %d records, %d bytes; its records add up to %d, %d", records, bytes, rr, rb)
			}
			if err := s.Complete(ctx, "k", c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
				t.Fatalf("Complete by the owner after the refused one: %v", err)
			}
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			// The one record MaxRecords allows is free again.
			if c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "other", Lease: time.Minute, TTL: time.Hour}); err != nil || !c.Acquired {
				t.Fatalf("Claim after the delete = %+v, %v", c, err)
			}
		})
	}
}
