package memstore_test

import (
	"math"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/memstore"
)

// Options.Shards is rounded up to a power of two; a count past MaxShards
// used to loop for ever (rounding overflowed to zero) or ask for terabytes.
func TestShardsOption(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		shards int
		want   int
	}{
		{"Default", 0, 64},
		{"Negative", -3, 64},
		{"One", 1, 1},
		{"RoundedUp", 3, 4},
		{"Max", memstore.MaxShards, memstore.MaxShards},
		{"PastMax", memstore.MaxShards + 1, memstore.MaxShards},
		{"Huge", 1 << 40, memstore.MaxShards},
		{"PastLastPowerOfTwo", 1<<62 + 1, memstore.MaxShards},
		{"MaxInt", math.MaxInt, memstore.MaxShards},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan int, 1)
			go func() {
				s := memstore.New(&memstore.Options{Shards: c.shards, SweepInterval: -1})
				got <- memstore.Shards(s)
			}()
			select {
			case n := <-got:
				if n != c.want {
					t.Fatalf("Options.Shards %d: %d shards, want %d", c.shards, n, c.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("New with Options.Shards %d did not return within 20s", c.shards)
			}
		})
	}
}
