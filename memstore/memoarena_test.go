package memstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// heapAfterPack fills a shard with big records, completes a small one
// while the arena is big and replays it (replay: through a guard, which
// keeps the decoded value in the record's memo), then deletes the big
// ones, so that the shard packs its arena, and reports the live heap
// above the start's.
func heapAfterPack(t *testing.T, replay bool) uint64 {
	ctx := context.Background()
	clk := storetest.NewClock(time.Unix(1e9, 0))
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1, MaxRecords: -1, MaxBytes: -1})
	defer s.Close()
	g := idempotency.New(s, nil)
	base := liveHeap()
	big := strings.Repeat("b", 8<<10)
	for i := range 2000 {
		if _, err := idempotency.Do(ctx, g, fmt.Sprint("big", i), func(context.Context) (string, error) { return big, nil }); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if v, err := idempotency.Do(ctx, g, "small", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
			t.Fatalf("Do(small) = %d, %v", v, err)
		}
		if !replay {
			break
		}
	}
	for i := range 2000 {
		if err := g.Forget(ctx, fmt.Sprint("big", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
	after := max(liveHeap(), base) - base
	// The record still replays, from wherever it now lives.
	if v, err := idempotency.Do(ctx, g, "small", func(context.Context) (int, error) { return 8, nil }); err != nil || v != 7 {
		t.Fatalf("Do(small) after the pack = %d, %v; want 7", v, err)
	}
	return after
}

// TestReplayedRecordDoesNotKeepOldArena: a record replayed while its
// shard's arena was big must not keep that arena alive once the shard
// packs it: the value a guard keeps in the record's memo must not hold the
// old arena's bytes. Not parallel, so that no other test allocates during
// the readings; the store without a replay is the control.
func TestReplayedRecordDoesNotKeepOldArena(t *testing.T) {
	control := heapAfterPack(t, false)
	after := heapAfterPack(t, true)
	t.Logf("live heap after the pack: %d KiB, %d KiB without a replay", after>>10, control>>10)
	const arena = 2000 * 8 << 10
	if control > arena/8 {
		t.Fatalf("control: the store keeps %d bytes of a %d-byte arena without a replay; the reading cannot tell", control, arena)
	}
	if after > arena/8 {
		t.Errorf("after the pack the store keeps %d bytes of its %d-byte arena: the replayed record's memo holds it", after, arena)
	}
}
