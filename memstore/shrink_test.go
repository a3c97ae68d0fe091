package memstore_test

import (
	"context"
	"flag"
	"runtime"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

var burst = flag.Int("burst", 200_000, "records in TestMemoryFollowsLiveRecords's burst")

// heapAfterBurst fills a store with n records, lets them expire and
// sweeps them, and reports the live heap above the empty store's at the
// peak and after the sweep. Collections are forced before each reading,
// so the figures count reachable memory only, whatever the load.
func heapAfterBurst(t *testing.T, n int, shrink bool) (peak, after uint64) {
	c := storetest.NewClock(time.Unix(1e9, 0))
	s := memstore.New(&memstore.Options{Now: c.Now, SweepInterval: -1, MaxRecords: -1, MaxBytes: -1})
	defer s.Close()
	if !shrink {
		memstore.DisableShrink(s)
	}
	base := liveHeap()
	fill(t, s, "burst:", n, time.Minute)
	peak = liveHeap() - base
	// The bytes the store counts against MaxBytes follow what it holds.
	if b := uint64(s.Bytes()); b < peak/2 || b > 2*peak {
		t.Errorf("the store counts %d bytes for %d records that hold %d", b, n, peak)
	}
	c.Advance(2 * time.Minute)
	if got, err := s.Sweep(context.Background()); err != nil || got != n {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, n)
	}
	after = max(liveHeap(), base) - base
	runtime.KeepAlive(s)
	return peak, after
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the first may leave objects freed by finalizers
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryFollowsLiveRecords: after a burst of records expires and is
// swept, the store gives back the memory of its peak (maps and slices
// rebuilt), instead of keeping about a third of it for ever. Not parallel,
// so that no other test allocates during the readings; the store without
// shrinking is the control that shows the reading can fail.
func TestMemoryFollowsLiveRecords(t *testing.T) {
	n := *burst // -args -burst=1000000 for a million
	peak, after := heapAfterBurst(t, n, true)
	t.Logf("%d records: peak %d MiB, after sweep %d KiB (%.1f%%)", n, peak>>20, after>>10, 100*float64(after)/float64(peak))
	if after > peak/20 {
		t.Errorf("after sweeping %d records the store keeps %d of its peak %d bytes; want under 5%%", n, after, peak)
	}
	cpeak, cafter := heapAfterBurst(t, n, false)
	t.Logf("control without shrinking: peak %d MiB, after sweep %d MiB (%.1f%%)", cpeak>>20, cafter>>20, 100*float64(cafter)/float64(cpeak))
	if cafter < cpeak/10 {
		t.Errorf("control: without shrinking the store kept only %d of %d bytes; the reading cannot tell", cafter, cpeak)
	}
}
