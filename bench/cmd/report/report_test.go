package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sample is go test -bench output with -count 3 for two benchmarks, a
// custom metric, a skip with its reason, a log line, a truncated line and a
// failure.
const sample = `goos: linux
goarch: amd64
pkg: github.com/idempotency-go/idempotency/bench
cpu: AMD EPYC
BenchmarkDuplicate/bare-2         	1000000	      2.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkDuplicate/memstore-2     	 100000	    150 ns/op	      16 B/op	       1 allocs/op
BenchmarkDuplicate/bare-2         	1000000	      4.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkDuplicate/memstore-2     	 100000	    120 ns/op	      16 B/op	       1 allocs/op
BenchmarkDuplicate/bare-2         	1000000	      3.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkDuplicate/memstore-2     	 100000	    200 ns/op	      48 B/op	       3 allocs/op
BenchmarkDuplicate/singleflight-2 	 100000	    100 ns/op
BenchmarkDuplicate/paired-2 	 100000	    250 ns/op	        50.0 extra-ns/op	         1.50 x-baseline
BenchmarkHTTP/fiber/paired/duplicate-2 	   1000	   4000 ns/op	      1230 extra-ns/op	         3.00 x-baseline
BenchmarkHTTP/net-http/paired/duplicate-2 	   1000	   9000 ns/op	      1650 extra-ns/op	         1.20 x-baseline
BenchmarkRecordMemory/memstore/records=1M-2   	       1	50748669747 ns/op	       307.1 B/record
BenchmarkRedisRecordMemory/raw/records=10k-2   	       1	 175236760 ns/op	       165.7 B/record
BenchmarkHTTP/fiber/bare-2 logging something that is not a result
BenchmarkTruncated-2 	     100	        12 ns/op	         7
--- SKIP: BenchmarkRedis
    helpers_test.go:27: redis-server is not installed (set IDEM_TEST_REQUIRE_SERVERS=1 to install it and run)
--- FAIL: BenchmarkPostgres/first/g=1/raw-2
    postgres_test.go:60: boom
PASS
`

func parseSample(t *testing.T) *Run {
	t.Helper()
	run, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestParse(t *testing.T) {
	t.Parallel()
	run := parseSample(t)
	wantOrder := []string{"Duplicate/bare", "Duplicate/memstore", "Duplicate/singleflight", "Duplicate/paired",
		"HTTP/fiber/paired/duplicate", "HTTP/net-http/paired/duplicate", "RecordMemory/memstore/records=1M", "RedisRecordMemory/raw/records=10k"}
	if strings.Join(run.Order, ",") != strings.Join(wantOrder, ",") {
		t.Errorf("Order = %q, want %q", run.Order, wantOrder)
	}
	if got := run.Samples["Duplicate/memstore"]["ns/op"]; len(got) != 3 || got[0] != 150 || got[2] != 200 {
		t.Errorf("memstore ns/op samples = %v, want [150 120 200]", got)
	}
	if got := run.Samples["RecordMemory/memstore/records=1M"]["B/record"]; len(got) != 1 || got[0] != 307.1 {
		t.Errorf("B/record = %v, want [307.1]", got)
	}
	if run.CPU != "AMD EPYC" {
		t.Errorf("CPU = %q", run.CPU)
	}
	if r, ok := run.Skipped["Redis"]; !ok || !strings.HasPrefix(r, "redis-server is not installed") {
		t.Errorf("Skipped = %q, want Redis with its reason", run.Skipped)
	}
	if len(run.Failed) != 1 || run.Failed[0] != "Postgres/first/g=1/raw" {
		t.Errorf("Failed = %q", run.Failed)
	}
	if _, ok := run.Samples["HTTP/fiber/bare"]; ok {
		t.Error("a log line was parsed as a result")
	}
	if _, ok := run.Samples["Truncated"]; ok {
		t.Error("a truncated result line was parsed")
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in   []float64
		want float64
		ok   bool
	}{
		"empty":    {nil, 0, false},
		"one":      {[]float64{7}, 7, true},
		"odd":      {[]float64{5, 1, 9}, 5, true},
		"even":     {[]float64{4, 1, 10, 2}, 3, true},
		"outliers": {[]float64{100, 1e9, 101, 99, 0.5}, 100, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := append([]float64(nil), tc.in...)
			got, ok := Median(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Median(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("Median reordered its input: %v", tc.in)
				}
			}
		})
	}
}

func TestRatiosAndLines(t *testing.T) {
	t.Parallel()
	run := parseSample(t)
	if r, ok := run.Ratio("Duplicate/memstore", "Duplicate/bare"); !ok || r != 50 {
		t.Errorf("Ratio = %v, %v; want 150/3 = 50", r, ok)
	}
	if _, ok := run.Ratio("Duplicate/memstore", "Duplicate/absent"); ok {
		t.Error("Ratio to a missing baseline reported")
	}
	g := Group{Title: "t", Base: "Duplicate/bare", Rows: []Row{
		{"bare", "Duplicate/bare", Base, ""},
		{"ours", "Duplicate/memstore", Ours, ""},
		{"peer", "Duplicate/singleflight", Peer, ""},
		{"gone", "Duplicate/absent", Ours, ""},
	}}
	lines := Measure(run, g)
	ours := lines[1]
	if ours.Value != 150 || ours.Bytes != 16 || ours.Allocs != 1 || ours.Ratio != 50 || ours.BaseVal != 3 {
		t.Errorf("ours = %+v, want medians 150 ns, 16 B, 1 alloc, 50x of 3 ns", ours)
	}
	if peer := lines[2]; peer.Bytes != -1 || peer.Allocs != -1 || peer.Ratio != 100/3.0 {
		t.Errorf("peer without -benchmem = %+v", peer)
	}
	if lines[3].Name != "" {
		t.Errorf("a missing benchmark was measured: %+v", lines[3])
	}
	header, rows := Cells(g, lines)
	if len(header) != 6 || len(rows) != 4 {
		t.Fatalf("Cells = %q, %q", header, rows)
	}
	if want := []string{"ours", "150 ns", "16", "1", "50.0x", "+147 ns"}; strings.Join(rows[1], "|") != strings.Join(want, "|") {
		t.Errorf("row = %q, want %q", rows[1], want)
	}
	if rows[3][1] != "not measured" {
		t.Errorf("missing row = %q", rows[3])
	}

	mem := Group{Unit: "B/record", Base: "RedisRecordMemory/raw/*", Rows: []Row{
		{"memstore", "RecordMemory/memstore/*", Ours, "-"},
		{"raw", "RedisRecordMemory/raw/*", Base, ""},
	}}
	_, rows = Cells(mem, Measure(run, mem))
	if want := "memstore, 1M records|307 B|"; strings.Join(rows[0], "|") != want {
		t.Errorf("memory row = %q, want %q", rows[0], want)
	}
	if want := "raw, 10k records|166 B|1.00x"; strings.Join(rows[1], "|") != want {
		t.Errorf("memory baseline row = %q, want %q", rows[1], want)
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	run := parseSample(t)
	got, ok, measured := ratioAtMost("Duplicate/memstore", "Duplicate/singleflight", 1)(run)
	if !measured || ok || got != "1.50x" {
		t.Errorf("memstore 150 ns vs singleflight 100 ns: %q, ok %v, measured %v", got, ok, measured)
	}
	if got, ok, _ := atMost("Duplicate/memstore", 150)(run); !ok || got != "150 ns" {
		t.Errorf("atMost at the limit: %q, %v", got, ok)
	}
	if _, ok, _ := atMost("Duplicate/memstore", 149.9)(run); ok {
		t.Error("atMost over the limit passed")
	}
	got, ok, _ = extraAtMost("HTTP/net-http/paired/duplicate", "HTTP/fiber/paired/duplicate")(run)
	if ok || got != "+1.65 µs vs +1.23 µs" {
		t.Errorf("extra = %q, %v", got, ok)
	}
	if got, ok, _ := extraAtMost("HTTP/fiber/paired/duplicate", "HTTP/net-http/paired/duplicate")(run); !ok || got != "+1.23 µs vs +1.65 µs" {
		t.Errorf("extra, the other way = %q, %v", got, ok)
	}
	if got := FormatValue(-35, "extra-ns/op"); got != "-35.0 ns" {
		t.Errorf("FormatValue(-35, extra-ns/op) = %q", got)
	}
	if _, _, measured := atMost("Redis/first/g=1/guard", 1)(run); measured {
		t.Error("a skipped benchmark was measured")
	}
	// Every target names benchmarks that exist in the report's groups, so
	// that none stays "not measured" by a typo.
	var names []string
	for _, g := range groups {
		for _, r := range g.Rows {
			names = append(names, r.Bench)
		}
	}
	full := &Run{Samples: map[string]Samples{}}
	for i, n := range names {
		full.Order = append(full.Order, n)
		full.Samples[n] = Samples{"ns/op": {float64(i + 1)}, "x-baseline": {1}, "extra-ns/op": {1}}
	}
	for _, tg := range targets {
		if _, _, measured := tg.Check(full); !measured {
			t.Errorf("target %q names a benchmark no group has", tg.Goal)
		}
	}
}

func TestFormatNs(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{
		2.345: "2.35 ns", 12.34: "12.3 ns", 999.4: "999 ns", 999.6: "1.00 µs",
		1234: "1.23 µs", 98765: "98.8 µs", 275000: "275 µs", 1.19e6: "1.19 ms", -250: "-250 ns",
	} {
		if got := FormatNs(in); got != want {
			t.Errorf("FormatNs(%v) = %q, want %q", in, got, want)
		}
	}
}

// svgDoc is the part of the chart the test reads back.
type svgDoc struct {
	Width  int `xml:"width,attr"`
	Height int `xml:"height,attr"`
	Rects  []struct {
		Width string `xml:"width,attr"`
		Fill  string `xml:"fill,attr"`
		Title string `xml:"title"`
	} `xml:"rect"`
	Texts []string `xml:"text"`
}

func TestWriteSVG(t *testing.T) {
	t.Parallel()
	run := parseSample(t)
	gs := []Group{
		{Title: "Dup <&> keys", Base: "Duplicate/bare", Rows: []Row{
			{"bare", "Duplicate/bare", Base, ""},
			{"singleflight", "Duplicate/singleflight", Peer, ""},
			{"guard", "Duplicate/memstore", Ours, ""},
			{"not run", "Duplicate/absent", Ours, ""},
		}},
		{Title: "Memory", Unit: "B/record", Rows: []Row{{"memstore", "RecordMemory/memstore/*", Ours, ""}}},
	}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, "Time per call", run, gs); err != nil {
		t.Fatal(err)
	}
	var doc svgDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, buf.String())
	}
	var bars []float64
	for _, r := range doc.Rects {
		if r.Title == "" {
			continue // background and legend
		}
		w, err := strconv.ParseFloat(r.Width, 64)
		if err != nil {
			t.Fatal(err)
		}
		bars = append(bars, w)
	}
	// Three measured rows of the timed group; none for the missing row or
	// the memory group.
	if len(bars) != 3 {
		t.Fatalf("%d bars, want 3:\n%s", len(bars), buf.String())
	}
	// Bars scale with the medians (3, 100, 150 ns), the longest filling
	// the panel, the shortest at least 1 unit wide.
	full := float64(chartWidth - 2*margin - labelWidth - valueWidth)
	for i, want := range []float64{max(full*3/150, 1), full * 100 / 150, full} {
		if math.Abs(bars[i]-want) > 0.1 {
			t.Errorf("bar %d is %v wide, want %v", i, bars[i], want)
		}
	}
	text := strings.Join(doc.Texts, "\n")
	for _, want := range []string{"Dup <&> keys (time per call)", "150 ns", "singleflight"} {
		if !strings.Contains(text, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Contains(text, "Memory") || strings.Contains(text, "not run") {
		t.Error("chart draws a group not timed or a row not measured")
	}
	if doc.Height <= 0 || doc.Width != chartWidth {
		t.Errorf("size %dx%d", doc.Width, doc.Height)
	}
}

func TestWriteReport(t *testing.T) {
	t.Parallel()
	run := parseSample(t)
	m := Meta{Started: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), Count: 3, Benchtime: "1s", Cores: 2, Go: "go1.26", OS: "linux/amd64",
		LoadBefore: "20.1 19 15", LoadAfter: "21 20 16", Note: "Heavily loaded machine."}
	var md, text bytes.Buffer
	WriteReport(&md, run, m, true)
	WriteReport(&text, run, m, false)
	for _, want := range []string{
		"**Heavily loaded machine.**",
		"load average 20.1 19 15 before the run",
		"`cd bench && go run ./cmd/report -count 3 -benchtime 1s`",
		"![Time per call across peers](benchmarks.svg)",
		"| Hot-key duplicate <= singleflight | 1.50x | NOT met |",
		"| First call <= 1 µs at 1k live records | not measured | - |",
		"- Redis: redis-server is not installed",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if !strings.Contains(text.String(), "Hot-key duplicate <= singleflight") || strings.Contains(text.String(), "| ") {
		t.Errorf("text report:\n%s", text.String())
	}
}

// failingWriter fails every write: WriteSVG reports the error.
type failingWriter struct{}

var errWrite = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteSVGError(t *testing.T) {
	t.Parallel()
	if err := WriteSVG(failingWriter{}, "t", parseSample(t), groups); !errors.Is(err, errWrite) {
		t.Fatalf("WriteSVG = %v, want %v", err, errWrite)
	}
	var _ io.Writer = failingWriter{}
}

func TestPairedTargets(t *testing.T) {
	t.Parallel()
	run := &Run{Order: []string{"Redis/first/g=1/paired"}, Samples: map[string]Samples{
		"Redis/first/g=1/paired": {"x-baseline": {1.3, 1.1, 1.2}, "ns/op": {9e9, 9e9, 9e9}},
	}}
	if got, ok, measured := pairedAtMost("Redis/first/g=1/paired", 1.2)(run); !measured || !ok || got != "1.20x" {
		t.Errorf("median 1.2 at limit 1.2: %q, ok %v, measured %v", got, ok, measured)
	}
	if _, ok, _ := pairedAtMost("Redis/first/g=1/paired", 1.19)(run); ok {
		t.Error("median 1.2 passed the limit 1.19")
	}
	if _, _, measured := pairedAtMost("Redis/first/g=64/paired", 1.2)(run); measured {
		t.Error("a missing paired case was measured")
	}
	g := pairedGroup()
	header, rows := Cells(g, Measure(run, g))
	if want := "case|guard over raw, same load"; strings.Join(header, "|") != want {
		t.Errorf("header %q, want %q", header, want)
	}
	if want := "Redis first, 1 goroutine|1.20x"; strings.Join(rows[0], "|") != want {
		t.Errorf("row %q, want %q", rows[0], want)
	}
}

func TestCPUGroup(t *testing.T) {
	t.Parallel()
	const out = `BenchmarkRedis/first/g=1/raw-2 	 100	 300000 ns/op	 150000 client-cpu-ns/op	 40000 server-cpu-ns/op	 500 B/op	 16 allocs/op
BenchmarkRedis/first/g=1/guard-2 	 100	 400000 ns/op	 160000 client-cpu-ns/op	 90000 server-cpu-ns/op	 1400 B/op	 36 allocs/op
BenchmarkRedis/first/g=1/raw-2 	 100	 320000 ns/op	 170000 client-cpu-ns/op	 42000 server-cpu-ns/op	 500 B/op	 16 allocs/op
BenchmarkRedis/first/g=1/guard-2 	 100	 380000 ns/op	 140000 client-cpu-ns/op	 80000 server-cpu-ns/op	 1400 B/op	 36 allocs/op
BenchmarkRedis/first/g=1/raw-2 	 100	 310000 ns/op	 160000 client-cpu-ns/op	 41000 server-cpu-ns/op	 500 B/op	 16 allocs/op
BenchmarkRedis/first/g=1/guard-2 	 100	 390000 ns/op	 150000 client-cpu-ns/op	 85000 server-cpu-ns/op	 1400 B/op	 36 allocs/op
BenchmarkRedis/duplicate/g=1/guard-2 	 100	 100000 ns/op	 50000 client-cpu-ns/op	 1400 B/op	 36 allocs/op
`
	run, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	g := cpuGroup(storeGroup("Redis", "Redis", "", 64, "first", "duplicate"))
	header, rows := Cells(g, Measure(run, g))
	if want := "case|time/op|client CPU/op|over baseline|server CPU/op|over baseline"; strings.Join(header, "|") != want {
		t.Errorf("header = %q, want %q", header, want)
	}
	want := map[string]string{
		"Redis first, 1 goroutine, raw":       "310 µs|160 µs||41.0 µs|",
		"Redis first, 1 goroutine, guard":     "390 µs|150 µs|-10.0 µs|85.0 µs|+44.0 µs",
		"Redis duplicate, 1 goroutine, guard": "100 µs|50.0 µs||not measured|", // no raw, no server figure
		"Redis first, 64 goroutines, raw":     "not measured||||",
	}
	found := 0
	for _, r := range rows {
		if w, ok := want[r[0]]; ok {
			found++
			if got := strings.Join(r[1:], "|"); got != w {
				t.Errorf("%s = %q, want %q", r[0], got, w)
			}
		}
	}
	if found != len(want) {
		t.Errorf("rows %q lack some of %v", rows, want)
	}
	var svg bytes.Buffer
	if err := WriteSVG(&svg, "t", run, []Group{g}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(svg.String(), "guard") {
		t.Error("the chart shows the CPU group's rows")
	}
}
