//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
)

// The benchmarks measure one first call (Claim and Complete of a new key)
// and one duplicate (Claim of a completed key) on the file store, with and
// without fsync, against the in-memory store as the baseline of the same
// run. fsyncs/op is counted by the store.
func benchStores(b *testing.B) []struct {
	name string
	s    idemtype.Store
} {
	mem := memstore.New(&memstore.Options{SweepInterval: -1})
	b.Cleanup(func() { _ = mem.Close() })
	out := []struct {
		name string
		s    idemtype.Store
	}{{"memstore", mem}}
	for _, c := range []struct {
		name   string
		noSync bool
	}{{"filestore", false}, {"filestore-nosync", true}} {
		s, err := filestore.New(b.TempDir(), &filestore.Options{NoSync: c.noSync, SweepInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		out = append(out, struct {
			name string
			s    idemtype.Store
		}{c.name, s})
	}
	return out
}

func reportSyncs(b *testing.B, s idemtype.Store, before uint64) {
	if fs, ok := s.(*filestore.Store); ok {
		b.ReportMetric(float64(fs.Stats().Syncs-before)/float64(b.N), "fsyncs/op")
	}
}

func syncs(s idemtype.Store) uint64 {
	if fs, ok := s.(*filestore.Store); ok {
		return fs.Stats().Syncs
	}
	return 0
}

func BenchmarkFirstCall(b *testing.B) {
	ctx := context.Background()
	value := []byte(`{"receipt":"r-123456"}`)
	var next atomic.Int64 // keys stay new when the function runs again
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			b.ReportAllocs()
			before := syncs(st.s)
			for b.Loop() {
				key := "first/" + strconv.Itoa(int(next.Add(1)))
				c, err := st.s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour})
				if err != nil || !c.Acquired {
					b.Fatal(c, err)
				}
				if err := st.s.Complete(ctx, key, c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: value, TTL: time.Hour}); err != nil {
					b.Fatal(err)
				}
			}
			reportSyncs(b, st.s, before)
		})
	}
}

func BenchmarkDuplicate(b *testing.B) {
	ctx := context.Background()
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			c, err := st.s.Claim(ctx, idemtype.ClaimRequest{Key: "dup", Lease: time.Minute, TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			// The function runs again with -count: the key may be done.
			if c.Acquired {
				if err := st.s.Complete(ctx, "dup", c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(`{"receipt":"r-123456"}`), TTL: time.Hour}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			before := syncs(st.s)
			for b.Loop() {
				c, err := st.s.Claim(ctx, idemtype.ClaimRequest{Key: "dup", Lease: time.Minute, TTL: time.Hour})
				if err != nil || c.Acquired {
					b.Fatal(c, err)
				}
			}
			reportSyncs(b, st.s, before)
		})
	}
}
