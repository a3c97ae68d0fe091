// Command report runs the benchmarks of the bench module (the guard beside
// bare calls, singleflight, gofiber's idempotency middleware and raw
// Redis and PostgreSQL clients, all in one run), prints a table of median
// figures with ratios to the baseline of the same run, and writes
// benchmarks.md and a bar chart, benchmarks.svg, to the docs directory.
//
//	cd bench && go run ./cmd/report            # 5 runs of 1s per case
//	cd bench && go run ./cmd/report -short     # one quick run
//
// Redis and PostgreSQL cases start their own servers on loopback and are
// skipped when the binaries are missing (with IDEM_TEST_REQUIRE_SERVERS=1
// that is an error instead; ./scripts/test installs them). The command exits non-zero only if a benchmark
// fails.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// speedBenchmarks are timed -count times; the memory benchmark runs once.
const (
	speedBenchmarks  = `^Benchmark(Duplicate|DuplicateKeys|FirstCall|HTTP|Redis|Postgres)$`
	memoryBenchmarks = `^Benchmark(RecordMemory|RedisRecordMemory)$`
)

func main() {
	count := flag.Int("count", 5, "runs of each benchmark; figures are medians over them (-short: 1)")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime of each run (-short: 200ms)")
	short := flag.Bool("short", false, "a quick run: -count 1 -benchtime 200ms unless given, and fewer Redis records for the memory case")
	out := flag.String("out", "../docs", "directory to write benchmarks.md and benchmarks.svg to; empty: write nothing")
	pkg := flag.String("pkg", ".", "the benchmarks' package, as go test takes it")
	note := flag.String("note", "", "a sentence for the header of benchmarks.md, such as the state of the machine")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *short {
		if !set["count"] {
			*count = 1
		}
		if !set["benchtime"] {
			*benchtime = "200ms"
		}
	}
	os.Exit(run(os.Stdout, os.Stderr, options{
		count: *count, benchtime: *benchtime, short: *short, out: *out, pkg: *pkg, note: *note,
	}))
}

type options struct {
	count     int
	benchtime string
	short     bool
	out, pkg  string
	note      string
}

// run measures and reports; it returns the exit code.
func run(stdout, stderr io.Writer, o options) int {
	started := time.Now().UTC()
	loadBefore := loadAverage()
	args := func(pattern, count, benchtime string) []string {
		a := []string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", count, "-benchtime", benchtime, "-timeout", "0"}
		if o.short {
			a = append(a, "-short")
		}
		return append(a, o.pkg)
	}
	results := &Run{Samples: map[string]Samples{}, Skipped: map[string]string{}}
	failed := false
	for _, a := range [][]string{
		args(speedBenchmarks, fmt.Sprint(o.count), o.benchtime),
		args(memoryBenchmarks, "1", "1x"),
	} {
		fmt.Fprintln(stderr, "go", strings.Join(a, " "))
		var buf bytes.Buffer
		cmd := exec.Command("go", a...)
		cmd.Stdout = io.MultiWriter(&buf, stderr)
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(stderr, "report: go test: %v\n", err)
			failed = true
		}
		r, err := Parse(&buf)
		if err != nil {
			fmt.Fprintf(stderr, "report: reading go test output: %v\n", err)
			return 2
		}
		results.Merge(r)
	}
	meta := Meta{
		Started: started, Elapsed: time.Since(started).Round(time.Second),
		Count: o.count, Benchtime: o.benchtime, Short: o.short,
		CPU: results.CPU, Cores: runtime.NumCPU(), Go: goVersion(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		LoadBefore: loadBefore, LoadAfter: loadAverage(), Note: o.note,
	}
	WriteReport(stdout, results, meta, false)
	if failed || len(results.Failed) > 0 {
		fmt.Fprintf(stderr, "report: benchmarks failed (%s); docs not written\n", strings.Join(results.Failed, ", "))
		return 1
	}
	if o.out == "" {
		return 0
	}
	var md, svg bytes.Buffer
	WriteReport(&md, results, meta, true)
	if err := WriteSVG(&svg, "Time per call, median of "+fmt.Sprint(o.count)+" runs ("+started.Format("2006-01-02")+")", results, groups); err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 2
	}
	for name, b := range map[string][]byte{"benchmarks.md": md.Bytes(), "benchmarks.svg": svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(o.out, name), b, 0o644); err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return 2
		}
	}
	fmt.Fprintf(stderr, "report: wrote %s and %s\n", filepath.Join(o.out, "benchmarks.md"), filepath.Join(o.out, "benchmarks.svg"))
	return 0
}

// loadAverage returns /proc/loadavg's 1, 5 and 15 minute load averages,
// or "" where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// goVersion returns the version of the go command that runs the
// benchmarks, which may differ from the one that built the report.
func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
