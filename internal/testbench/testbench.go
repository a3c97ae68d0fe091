// Package testbench runs benchmark operations on several goroutines, and
// side by side with a baseline, for the stores' benchmarks: ratios
// measured call by call hold on a machine whose load changes from second
// to second, where two separate benchmarks would not.
package testbench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Op is one call of a benchmarked operation; i numbers the calls of a run
// from 0.
type Op func(ctx context.Context, i int) error

// Run makes b.N calls of op on exactly par goroutines (b.RunParallel
// would start a multiple of GOMAXPROCS) and reports allocations.
func Run(b *testing.B, par int, op Op) {
	b.ReportAllocs()
	ctx := context.Background()
	if par == 1 {
		for i := 0; b.Loop(); i++ {
			if err := op(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.ResetTimer()
	round(b, ctx, par, 0, b.N, op)
}

// Paired runs the baseline and op alternately and reports x-baseline,
// op's time per call over the baseline's, and extra-ns/op, op's time per
// call less the baseline's: both meet the same load. On one goroutine the
// two alternate call by call (latency); on more, in rounds of
// par*PairedRound calls spread over par goroutines (throughput: wall time
// per call of a round). Its allocs/op are those of both.
func Paired(b *testing.B, par int, baseline, op Op) {
	calls := PairedRound
	if par == 1 {
		calls = 1
	}
	PairedRounds(b, par, calls, baseline, op)
}

// PairedRounds is Paired with rounds of calls calls per goroutine, on one
// goroutine too: for calls of well under a microsecond, whose time a
// reading of the clock per call would blur.
func PairedRounds(b *testing.B, par, calls int, baseline, op Op) {
	b.ReportAllocs()
	ctx := context.Background()
	var baseNs, opNs time.Duration
	for done := 0; done < b.N; {
		n := min(par*calls, b.N-done)
		baseNs += round(b, ctx, par, done, n, baseline)
		opNs += round(b, ctx, par, done, n, op)
		done += n
	}
	if baseNs > 0 {
		b.ReportMetric(float64(opNs)/float64(baseNs), "x-baseline")
		b.ReportMetric(float64(opNs-baseNs)/float64(b.N), "extra-ns/op")
	}
}

// PairedRound is how many calls each goroutine makes per round of Paired.
const PairedRound = 16

// round makes n calls of op, numbered from first, on up to par goroutines
// and returns the wall time they took.
func round(b *testing.B, ctx context.Context, par, first, n int, op Op) time.Duration {
	start := time.Now()
	if par == 1 {
		for i := first; i < first+n; i++ {
			if err := op(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var next atomic.Int64
	next.Store(int64(first))
	var wg sync.WaitGroup
	for range min(par, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < first+n; i = int(next.Add(1) - 1) {
				if err := op(ctx, i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
