package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
)

// Claims racing for the last room of a store: exactly MaxRecords keys are
// acquired, whatever the interleaving; duplicates and completions racing
// with them are never refused for room; the counters add up afterwards.
func TestBoundUnderConcurrency(t *testing.T) {
	t.Parallel()
	const maxRecords, workers, perWorker = 100, 8, 40
	s := memstore.New(&memstore.Options{MaxRecords: maxRecords, MaxBytes: -1, Shards: 4, SweepInterval: -1})
	ctx := context.Background()
	var acquired, full atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range perWorker {
				key := fmt.Sprintf("w%d-%d", w, i)
				c, err := s.Claim(ctx, claimReq(key))
				if errors.Is(err, memstore.ErrFull) {
					full.Add(1)
					continue
				}
				if err != nil || !c.Acquired {
					t.Errorf("Claim(%s) = %+v, %v", key, c, err)
					return
				}
				acquired.Add(1)
				// A duplicate and the completion go through a full store.
				if d, err := s.Claim(ctx, claimReq(key)); err != nil || d.Acquired {
					t.Errorf("duplicate Claim(%s) = %+v, %v", key, d, err)
					return
				}
				if err := s.Complete(ctx, key, c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(key), TTL: time.Hour}); err != nil {
					t.Errorf("Complete(%s): %v", key, err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if a, f := acquired.Load(), full.Load(); a != maxRecords || a+f != workers*perWorker {
		t.Fatalf("%d claims acquired, %d refused as full; want %d acquired of %d", a, f, maxRecords, workers*perWorker)
	}
	if n := s.Len(); n != maxRecords {
		t.Fatalf("Len = %d, want %d", n, maxRecords)
	}
	if records, bytes, rr, rb := memstore.Usage(s); records != rr || bytes != rb || records != maxRecords {
		t.Fatalf("counted %d records, %d bytes; the records add up to %d, %d", records, bytes, rr, rb)
	}
}
