package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// heapAfterPack fills a shard with big records, completes a small one
// while the arena is big and replays it (replay: through a guard with cfg,
// which keeps the decoded value in the record's memo, or the record in its
// local cache), then deletes the big ones, so that the shard packs its
// arena, and reports the live heap above the start's.
func heapAfterPack(t *testing.T, replay bool, cfg *idempotency.Config) uint64 {
	ctx := context.Background()
	s := memstore.New(&memstore.Options{Shards: 1, SweepInterval: -1, MaxRecords: -1, MaxBytes: -1})
	defer s.Close()
	g, dup := idempotency.New(s, nil), idempotency.New(s, cfg)
	base := liveHeap()
	big := strings.Repeat("b", 8<<10)
	for i := range 2000 {
		if _, err := idempotency.Do(ctx, g, fmt.Sprint("big", i), func(context.Context) (string, error) { return big, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := idempotency.Do(ctx, g, "small", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
		t.Fatalf("Do(small) = %d, %v", v, err)
	}
	if replay {
		if v, err := idempotency.Do(ctx, dup, "small", func(context.Context) (int, error) { return 8, nil }); err != nil || v != 7 {
			t.Fatalf("duplicate Do(small) = %d, %v; want 7", v, err)
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
	if v, err := idempotency.Do(ctx, dup, "small", func(context.Context) (int, error) { return 8, nil }); err != nil || v != 7 {
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
	control := heapAfterPack(t, false, nil)
	const arena = 2000 * 8 << 10
	if control > arena/8 {
		t.Fatalf("control: the store keeps %d bytes of a %d-byte arena without a replay; the reading cannot tell", control, arena)
	}
	for name, cfg := range map[string]*idempotency.Config{
		"Memo":       nil,
		"LocalCache": {LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Hour}},
	} {
		after := heapAfterPack(t, true, cfg)
		t.Logf("%s: live heap after the pack: %d KiB, %d KiB without a replay", name, after>>10, control>>10)
		if after > arena/8 {
			t.Errorf("%s: after the pack the store keeps %d bytes of its %d-byte arena: the replayed record holds it", name, after, arena)
		}
	}
}

// heapAfterGrowth completes records with values of a KiB one by one, so
// that the shard's arena grows (an append copies it to a larger array)
// many times over, each read once by a duplicate when dups, and reports
// the live heap above the start's.
func heapAfterGrowth(t *testing.T, dups bool) uint64 {
	ctx := context.Background()
	s := memstore.New(&memstore.Options{Shards: 1, SweepInterval: -1, MaxRecords: -1, MaxBytes: -1})
	defer s.Close()
	g := idempotency.New(s, nil)
	base := liveHeap()
	val := strings.Repeat("v", 1<<10)
	for i := range 10_000 {
		k := fmt.Sprint("k", i)
		if _, err := idempotency.Do(ctx, g, k, func(context.Context) (string, error) { return val, nil }); err != nil {
			t.Fatal(err)
		}
		if dups {
			// Read as another type: the read is made, nothing decoded kept.
			if _, err := idempotency.Do(ctx, g, k, func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, idempotency.ErrResultUnavailable) {
				t.Fatalf("duplicate Do[int](%s) = %v; want ErrResultUnavailable", k, err)
			}
		}
	}
	after := max(liveHeap(), base) - base
	runtime.KeepAlive(s)
	return after
}

// TestDuplicatesDoNotKeepGrownArenas: a duplicate's read of a record made
// before its shard's arena grew must not keep the smaller array the arena
// was copied from alive: with a duplicate after every completion, every
// array the arena ever grew through would stay (four times the arena
// again, at Go's growth of a quarter). Not parallel, for the readings.
func TestDuplicatesDoNotKeepGrownArenas(t *testing.T) {
	control := heapAfterGrowth(t, false)
	after := heapAfterGrowth(t, true)
	t.Logf("live heap: %d KiB, %d KiB without duplicates", after>>10, control>>10)
	// The reads themselves cost a few hundred bytes a record.
	if limit := control + control/2; after > limit {
		t.Errorf("with duplicates the store keeps %d bytes, without %d: the reads keep arrays the arena grew out of", after, control)
	}
}
