//go:build unix

package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency/internal/testbench"
)

// inParallel runs op b.N times over exactly g goroutines (b.RunParallel
// would start a multiple of GOMAXPROCS) and reports allocations and the
// CPU time per call of this process and of server (see meterCPU). op gets
// a call number unique in this run.
func inParallel(b *testing.B, g int, op func(i int) error, server serverCPU) {
	b.Helper()
	b.ReportAllocs()
	defer meterCPU(b, server)()
	if g == 1 {
		for i := 0; b.Loop(); i++ {
			if err := op(i); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := op(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// paired runs raw and guard alternately on g goroutines and reports
// x-baseline, guard's time per call over raw's, both measured under the
// same load (testbench.Paired).
func paired(b *testing.B, g int, raw, guard func(i int) error) {
	b.Helper()
	testbench.Paired(b, g,
		func(_ context.Context, i int) error { return raw(i) },
		func(_ context.Context, i int) error { return guard(i) })
}
