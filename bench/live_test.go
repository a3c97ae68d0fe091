package bench

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// liveSizes are the numbers of live records the scale cases hold: a store
// that fits in the CPU's caches and one that does not.
var liveSizes = []int{1_000, 1_000_000}

// live is a default memstore (background sweeper on; room for 2M records) holding n completed
// records, "invoice:0" to "invoice:n-1", made through the guard.
type live struct {
	store *memstore.Store
	guard *idempotency.Guard
	keys  []string // the n keys in a random order, so that visits scatter over the store
}

var (
	livesMu sync.Mutex
	lives   = map[int]*live{}
)

// liveStore returns the store with n live records, filling it on first
// use. It is kept for the whole process (the benchmark functions run many
// times, with -count and as b.N grows) and never closed: filling a million
// records takes seconds.
func liveStore(b *testing.B, n int) *live {
	b.Helper()
	livesMu.Lock()
	defer livesMu.Unlock()
	if l := lives[n]; l != nil {
		return l
	}
	// Defaults, but room for the first-call cases' extra tenth (see
	// firstCallsLive) beyond DefaultMaxRecords.
	s := memstore.New(&memstore.Options{MaxRecords: 2 * max(n, memstore.DefaultMaxRecords)})
	l := &live{store: s, guard: idempotency.New(s, nil), keys: keys(n)}
	ctx := context.Background()
	for _, k := range l.keys {
		if _, err := idempotency.Do(ctx, l.guard, k, work); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(n, func(i, j int) { l.keys[i], l.keys[j] = l.keys[j], l.keys[i] })
	lives[n] = l
	return l
}

func liveName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return "records=" + strconv.Itoa(n/1_000_000) + "M"
	case n >= 1_000 && n%1_000 == 0:
		return "records=" + strconv.Itoa(n/1_000) + "k"
	}
	return "records=" + strconv.Itoa(n)
}

// BenchmarkDuplicateKeys: duplicates spread over every key of a store with
// 1k or 1M live records, visited in a random order, as retries of many
// different calls arrive; the bare call is the baseline.
func BenchmarkDuplicateKeys(b *testing.B) {
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = work(ctx)
		}
	})
	for _, n := range liveSizes {
		b.Run("memstore/"+liveName(n), func(b *testing.B) {
			l := liveStore(b, n)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := idempotency.Do(ctx, l.guard, l.keys[i%n], work); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// firstSeq numbers first-call keys across the whole process, so that no
// run of a benchmark finds the keys of another.
var firstSeq atomic.Int64

// firstCallsLive makes first calls (fn runs, the outcome is recorded) on a
// store holding n live records. The keys come in batches of n/10 (at least
// 100) made while the timer is stopped; after each batch the new records
// are deleted, so that the store holds between n and 1.1n live records
// throughout, as a service whose records expire as fast as new ones come.
func firstCallsLive(b *testing.B, n int) {
	l := liveStore(b, n)
	ctx := context.Background()
	batch := make([]string, max(n/10, 100))
	next := 0 // keys of the current batch used so far
	refill := func() {
		b.StopTimer()
		for _, k := range batch[:next] {
			if err := l.store.Delete(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
		for i := range batch {
			batch[i] = "new:" + strconv.FormatInt(firstSeq.Add(1), 10)
		}
		next = 0
		b.StartTimer()
	}
	b.ReportAllocs()
	refill()
	b.ResetTimer()
	for range b.N {
		if next == len(batch) {
			refill()
		}
		if _, err := idempotency.Do(ctx, l.guard, batch[next], work); err != nil {
			b.Fatal(err)
		}
		next++
	}
	b.StopTimer()
	for _, k := range batch[:next] {
		if err := l.store.Delete(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}
