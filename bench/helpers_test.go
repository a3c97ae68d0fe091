package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// requireServer skips b when the server binary bin is missing (globs are
// tried in order), unless IDEM_TEST_REQUIRE_SERVERS=1 asks that every
// server case run; testserver then installs it.
func requireServer(b *testing.B, bin string, globs ...string) {
	b.Helper()
	if os.Getenv("IDEM_TEST_REQUIRE_SERVERS") == "1" {
		return
	}
	if _, err := exec.LookPath(bin); err == nil {
		return
	}
	for _, g := range globs {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return
		}
	}
	b.Skipf("%s is not installed (set IDEM_TEST_REQUIRE_SERVERS=1 to install it and run)", bin)
}

// inParallel runs op b.N times over exactly g goroutines (b.RunParallel
// would start a multiple of GOMAXPROCS) and reports allocations. op gets a
// call number unique in this run.
func inParallel(b *testing.B, g int, op func(i int) error) {
	b.Helper()
	b.ReportAllocs()
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
