package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind tells what a row measures: a baseline, a peer library, or ours.
type Kind int

const (
	Base Kind = iota
	Peer
	Ours
)

// Row is one benchmark in a group. Base names the row's baseline when it
// is not the group's; a name no benchmark has (such as "-") means none.
type Row struct {
	Label string
	Bench string // a benchmark name; a trailing "*" matches by prefix
	Kind  Kind
	Base  string
}

// Group is one table of the report and one panel of the chart.
type Group struct {
	Title string
	Note  string
	Unit  string // the figure compared: "ns/op" (default) or another unit
	Base  string // the baseline of the rows that name none
	Rows  []Row
	// CPU shows, beside time per call, the CPU time per call of the
	// client process and of the server (client-cpu-ns/op,
	// server-cpu-ns/op) instead of bytes and allocations: on which side
	// of the connection the time over the baseline is spent. The chart
	// leaves such a group out (its times are another group's).
	CPU bool
}

func (g Group) unit() string {
	if g.Unit == "" {
		return "ns/op"
	}
	return g.Unit
}

// groups is the report's layout.
var groups = []Group{
	{
		Title: "In process: a duplicate of one hot key",
		Note:  "The same key every call; its outcome is stored. singleflight collapses concurrent duplicates but remembers nothing.",
		Base:  "Duplicate/bare",
		Rows: []Row{
			{"bare call", "Duplicate/bare", Base, ""},
			{"singleflight", "Duplicate/singleflight", Peer, ""},
			{"guard, memstore", "Duplicate/memstore", Ours, ""},
		},
	},
	{
		Title: "In process: duplicates over many keys",
		Note:  "Every key of a default memstore, visited in a random order.",
		Base:  "DuplicateKeys/bare",
		Rows: []Row{
			{"bare call", "DuplicateKeys/bare", Base, ""},
			{"guard, memstore, 1k records", "DuplicateKeys/memstore/records=1k", Ours, ""},
			{"guard, memstore, 1M records", "DuplicateKeys/memstore/records=1M", Ours, ""},
		},
	},
	{
		Title: "In process: a first call",
		Note:  "A new key every call: fn runs and its outcome is recorded, on a default memstore (sweeper on) holding 1k or 1M live records.",
		Base:  "FirstCall/bare",
		Rows: []Row{
			{"bare call", "FirstCall/bare", Base, ""},
			{"singleflight", "FirstCall/singleflight", Peer, ""},
			{"guard, memstore, 1k records", "FirstCall/memstore/records=1k", Ours, ""},
			{"guard, memstore, 1M records", "FirstCall/memstore/records=1M", Ours, ""},
		},
	},
	{
		Title: "HTTP in process: middleware over its bare handler",
		Note:  "A small JSON POST answered 201. fiber: app.Handler() on a reused fasthttp.RequestCtx; net/http: httptest.NewRequest and NewRecorder. Each middleware's ratio is to its own bare handler.",
		Rows: []Row{
			{"fasthttp handler (fiber), bare", "HTTP/fiber/bare", Base, "HTTP/fiber/bare"},
			{"fiber idempotency, duplicate", "HTTP/fiber/duplicate", Peer, "HTTP/fiber/bare"},
			{"fiber idempotency, first", "HTTP/fiber/first", Peer, "HTTP/fiber/bare"},
			{"net/http handler, bare", "HTTP/net-http/bare", Base, "HTTP/net-http/bare"},
			{"idemhttp, duplicate", "HTTP/net-http/duplicate", Ours, "HTTP/net-http/bare"},
			{"idemhttp, first", "HTTP/net-http/first", Ours, "HTTP/net-http/bare"},
		},
	},
	storeGroup("Redis", "Redis", "raw go-redis: SET NX then SET XX (first), GET (duplicate)", 64, "first", "duplicate"),
	storeGroup("PostgreSQL", "Postgres", "raw pgx: INSERT then UPDATE (first), SELECT by primary key (duplicate), "+
		"a transaction holding the INSERT, the ledger row and the UPDATE (DoTx)", 16, "first", "duplicate", "DoTx"),
	pairedGroup(),
	cpuGroup(storeGroup("Redis", "Redis", "", 64, "first", "duplicate"), storeGroup("PostgreSQL", "Postgres", "", 16, "first", "duplicate", "DoTx")),
	{
		Title: "In process side by side",
		Note: "Ours and a baseline alternated in rounds (64 calls for the hot key, 16 requests for HTTP) so that both meet the same load: " +
			"the time per call over the baseline's. The hot-key and HTTP targets are judged on these.",
		Unit: "extra-ns/op",
		Base: "-",
		Rows: []Row{
			{"guard, memstore, hot-key duplicate, over singleflight", "Duplicate/paired", Ours, ""},
			{"fiber idempotency, duplicate, over its bare handler", "HTTP/fiber/paired/duplicate", Peer, ""},
			{"idemhttp, duplicate, over its bare handler", "HTTP/net-http/paired/duplicate", Ours, ""},
			{"fiber idempotency, first, over its bare handler", "HTTP/fiber/paired/first", Peer, ""},
			{"idemhttp, first, over its bare handler", "HTTP/net-http/paired/first", Ours, ""},
		},
	},
	{
		Title: "Memory per live record",
		Note:  "Made through the guard with a small result: growth of the Go heap (memstore) or of Redis's used_memory, divided by the records. Raw Redis: plain SET keys holding the same result.",
		Unit:  "B/record",
		Base:  "RedisRecordMemory/raw/*",
		Rows: []Row{
			{"memstore", "RecordMemory/memstore/*", Ours, "-"},
			{"Redis, raw SET", "RedisRecordMemory/raw/*", Base, ""},
			{"Redis, guard", "RedisRecordMemory/guard/*", Ours, ""},
		},
	},
}

// storeGroup lays out a server's cases (ops) at 1 and par goroutines,
// each against its raw baseline.
func storeGroup(title, bench, raw string, par int, ops ...string) Group {
	g := Group{Title: title + " (local server, one client)", Note: "Baseline: " + raw + "."}
	for _, op := range ops {
		for _, n := range []int{1, par} {
			prefix := fmt.Sprintf("%s/%s/g=%d/", bench, op, n)
			label := fmt.Sprintf("%s, %d goroutines", op, n)
			if n == 1 {
				label = op + ", 1 goroutine"
			}
			g.Rows = append(g.Rows,
				Row{label + ", raw", prefix + "raw", Base, prefix + "raw"},
				Row{label + ", guard", prefix + "guard", Ours, prefix + "raw"})
		}
	}
	return g
}

// cpuGroup puts the rows of the store groups gs in one table of CPU time
// per call, each label naming its store.
func cpuGroup(gs ...Group) Group {
	g := Group{
		Title: "Stores: where the time goes",
		Note: "The cases above again with the CPU time they cost per call, of this process (the guard, the store, the client library " +
			"and the driver, the collector included) and of the server's processes (Redis's own account; PostgreSQL's postmaster and backends, " +
			"from /proc). CPU time leaves waiting out; on 2 cores, time spent spinning or waking up counts too, most on 1 goroutine.",
		CPU: true,
	}
	for _, sg := range gs {
		store, _, _ := strings.Cut(sg.Title, " ")
		for _, r := range sg.Rows {
			r.Label = store + " " + r.Label
			g.Rows = append(g.Rows, r)
		}
	}
	return g
}

// pairedGroup lists the stores' paired cases: raw and guard calls
// alternated, so that both meet the same load, and the guard's time per
// call divided by raw's.
func pairedGroup() Group {
	g := Group{
		Title: "Stores side by side",
		Note: "The cases above again, raw and guard calls alternated (call by call on 1 goroutine, in rounds of 16 calls " +
			"per goroutine on more) so that both meet the same load: the guard's time per call over raw's. The store targets are judged on these.",
		Unit: "x-baseline",
		Base: "-",
	}
	for _, c := range pairedCases {
		g.Rows = append(g.Rows, Row{Label: c.label, Bench: c.bench, Kind: Ours})
	}
	return g
}

var pairedCases = []struct{ label, bench string }{
	{"Redis first, 1 goroutine", "Redis/first/g=1/paired"},
	{"Redis first, 64 goroutines", "Redis/first/g=64/paired"},
	{"Redis duplicate, 1 goroutine", "Redis/duplicate/g=1/paired"},
	{"Redis duplicate, 64 goroutines", "Redis/duplicate/g=64/paired"},
	{"PostgreSQL first, 1 goroutine", "Postgres/first/g=1/paired"},
	{"PostgreSQL first, 16 goroutines", "Postgres/first/g=16/paired"},
	{"PostgreSQL duplicate, 1 goroutine", "Postgres/duplicate/g=1/paired"},
	{"PostgreSQL duplicate, 16 goroutines", "Postgres/duplicate/g=16/paired"},
	{"PostgreSQL DoTx, 1 goroutine", "Postgres/DoTx/g=1/paired"},
	{"PostgreSQL DoTx, 16 goroutines", "Postgres/DoTx/g=16/paired"},
}

// Line is one row of a group as measured.
type Line struct {
	Row
	Name    string  // the benchmark's full name, "" when not measured
	Value   float64 // the group's unit, median
	Bytes   float64 // B/op, median (-1 when not reported)
	Allocs  float64 // allocs/op, median (-1 when not reported)
	Ratio   float64 // Value / the baseline's Value, 0 when not known
	BaseVal float64 // the baseline's Value, 0 when not known
	// For a CPU group: client-cpu-ns/op and server-cpu-ns/op, medians
	// (-1 when not reported), and the baseline's (-1 when not known).
	Client, Server, BaseClient, BaseServer float64
}

// Measure resolves the rows of g against run.
func Measure(run *Run, g Group) []Line {
	var lines []Line
	for _, r := range g.Rows {
		l := Line{Row: r, Bytes: -1, Allocs: -1, Client: -1, Server: -1, BaseClient: -1, BaseServer: -1}
		name, ok := run.Find(r.Bench)
		if ok {
			if v, ok := run.Median(name, g.unit()); ok {
				l.Name, l.Value = name, v
			}
		}
		if l.Name != "" {
			if v, ok := run.Median(name, "B/op"); ok {
				l.Bytes = v
			}
			if v, ok := run.Median(name, "allocs/op"); ok {
				l.Allocs = v
			}
			base := r.Base
			if base == "" {
				base = g.Base
			}
			if bn, ok := run.Find(base); ok {
				if bv, ok := run.Median(bn, g.unit()); ok && bv > 0 {
					l.BaseVal, l.Ratio = bv, l.Value/bv
				}
				if g.CPU {
					l.BaseClient, l.BaseServer = median(run, bn, "client-cpu-ns/op"), median(run, bn, "server-cpu-ns/op")
				}
			}
			if g.CPU {
				l.Client, l.Server = median(run, name, "client-cpu-ns/op"), median(run, name, "server-cpu-ns/op")
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// median is run.Median, -1 when name did not report unit.
func median(run *Run, name, unit string) float64 {
	if v, ok := run.Median(name, unit); ok {
		return v
	}
	return -1
}

// Target is one goal the report checks.
type Target struct {
	Goal string
	// Check returns what was measured and whether it meets the goal;
	// measured is false when a figure it needs is missing.
	Check func(run *Run) (got string, ok, measured bool)
}

func ns(run *Run, name string) (float64, bool) { return run.Median(name, "ns/op") }

// atMost checks that the median of name is at most limit ns.
func atMost(name string, limit float64) func(*Run) (string, bool, bool) {
	return func(run *Run) (string, bool, bool) {
		v, ok := ns(run, name)
		if !ok {
			return "", false, false
		}
		return FormatNs(v), v <= limit, true
	}
}

// pairedAtMost checks that the median x-baseline of the paired case name
// is at most limit.
func pairedAtMost(name string, limit float64) func(*Run) (string, bool, bool) {
	return func(run *Run) (string, bool, bool) {
		r, ok := run.Median(name, "x-baseline")
		if !ok {
			return "", false, false
		}
		return FormatRatio(r), r <= limit, true
	}
}

// ratioAtMost checks that name / base is at most limit.
func ratioAtMost(name, base string, limit float64) func(*Run) (string, bool, bool) {
	return func(run *Run) (string, bool, bool) {
		r, ok := run.Ratio(name, base)
		if !ok {
			return "", false, false
		}
		return FormatRatio(r), r <= limit, true
	}
}

// extraAtMost checks that the median extra-ns/op of the paired case ours
// is at most that of theirs: ours costs no more over its baseline.
func extraAtMost(ours, theirs string) func(*Run) (string, bool, bool) {
	return func(run *Run) (string, bool, bool) {
		a, ok1 := run.Median(ours, "extra-ns/op")
		t, ok2 := run.Median(theirs, "extra-ns/op")
		if !ok1 || !ok2 {
			return "", false, false
		}
		return fmt.Sprintf("%s vs %s", FormatValue(a, "extra-ns/op"), FormatValue(t, "extra-ns/op")), a <= t, true
	}
}

// targets are the goals set for the guard: in process and HTTP first, then
// the stores.
var targets = []Target{
	{"Duplicates over 1M records <= 600 ns", atMost("DuplicateKeys/memstore/records=1M", 600)},
	{"Duplicates over 1M records <= 1.2x the 1k-record figure", ratioAtMost("DuplicateKeys/memstore/records=1M", "DuplicateKeys/memstore/records=1k", 1.2)},
	{"Hot-key duplicate <= singleflight", pairedAtMost("Duplicate/paired", 1)},
	{"First call <= 1 µs at 1k live records", atMost("FirstCall/memstore/records=1k", 1000)},
	{"First call <= 1 µs at 1M live records", atMost("FirstCall/memstore/records=1M", 1000)},
	{"idemhttp duplicate overhead <= fiber's", extraAtMost("HTTP/net-http/paired/duplicate", "HTTP/fiber/paired/duplicate")},
	{"idemhttp first-request overhead <= fiber's", extraAtMost("HTTP/net-http/paired/first", "HTTP/fiber/paired/first")},
	{"Redis first call, 1 goroutine <= 1.2x raw", pairedAtMost("Redis/first/g=1/paired", 1.2)},
	{"Redis duplicate, 1 goroutine <= 1.2x raw", pairedAtMost("Redis/duplicate/g=1/paired", 1.2)},
	{"Redis first call, 64 goroutines >= 0.8x raw throughput (<= 1.25x time)", pairedAtMost("Redis/first/g=64/paired", 1.25)},
	{"Redis duplicate, 64 goroutines >= 0.8x raw throughput (<= 1.25x time)", pairedAtMost("Redis/duplicate/g=64/paired", 1.25)},
	{"PostgreSQL duplicate, 1 goroutine <= 1.2x a SELECT", pairedAtMost("Postgres/duplicate/g=1/paired", 1.2)},
	{"PostgreSQL duplicate, 16 goroutines <= 1.2x a SELECT", pairedAtMost("Postgres/duplicate/g=16/paired", 1.2)},
	{"PostgreSQL first call, 1 goroutine <= 1.15x raw", pairedAtMost("Postgres/first/g=1/paired", 1.15)},
	{"PostgreSQL first call, 16 goroutines <= 1.15x raw", pairedAtMost("Postgres/first/g=16/paired", 1.15)},
	{"PostgreSQL DoTx, 1 goroutine <= 1.3x a raw transaction", pairedAtMost("Postgres/DoTx/g=1/paired", 1.3)},
	{"PostgreSQL DoTx, 16 goroutines <= 1.3x a raw transaction", pairedAtMost("Postgres/DoTx/g=16/paired", 1.3)},
}

// FormatNs prints a duration given in ns with a unit that keeps about 3
// significant digits: 12.3 ns, 4.56 µs, 789 µs, 1.20 ms.
func FormatNs(v float64) string {
	neg := ""
	if v < 0 {
		neg, v = "-", -v
	}
	switch {
	case v >= 999.5e3:
		return neg + sig3(v/1e6) + " ms"
	case v >= 999.5:
		return neg + sig3(v/1e3) + " µs"
	}
	return neg + sig3(v) + " ns"
}

func sig3(x float64) string {
	switch {
	case x < 9.995:
		return strconv.FormatFloat(x, 'f', 2, 64)
	case x < 99.95:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 0, 64)
}

// FormatValue prints a figure in unit: a duration for ns/op, a ratio for
// x-baseline, else the number and the unit without its "/..." part
// (307 B).
func FormatValue(v float64, unit string) string {
	switch unit {
	case "ns/op":
		return FormatNs(v)
	case "x-baseline":
		return FormatRatio(v)
	case "extra-ns/op":
		if v >= 0 {
			return "+" + FormatNs(v)
		}
		return FormatNs(v)
	}
	u, _, _ := strings.Cut(unit, "/")
	return strconv.FormatFloat(v, 'f', 0, 64) + " " + u
}
