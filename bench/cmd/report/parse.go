package main

import (
	"bufio"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Samples holds every figure one benchmark reported across -count runs,
// by unit ("ns/op", "B/op", "allocs/op", "B/record", ...).
type Samples map[string][]float64

// Run is what one `go test -bench` output held.
type Run struct {
	Order   []string           // benchmark names, in order of first appearance
	Samples map[string]Samples // by name, without the -GOMAXPROCS suffix
	CPU     string             // the "cpu:" header line, if any
	Skipped map[string]string  // benchmark name: the reason it gave
	Failed  []string           // benchmarks that reported --- FAIL
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads the output of `go test -bench`. Benchmark names lose their
// -GOMAXPROCS suffix, so names must not end in -digits of their own.
func Parse(r io.Reader) (*Run, error) {
	run := &Run{Samples: map[string]Samples{}, Skipped: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	skipping := "" // the benchmark whose SKIP reason follows
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if skipping != "" {
			if strings.HasPrefix(line, " ") && trimmed != "" && run.Skipped[skipping] == "" {
				// "    file_test.go:27: reason"
				reason := trimmed
				if _, after, ok := strings.Cut(trimmed, ": "); ok && strings.Contains(trimmed[:len(trimmed)-len(after)], ".go:") {
					reason = after
				}
				run.Skipped[skipping] = reason
				continue
			}
			skipping = ""
		}
		switch {
		case strings.HasPrefix(trimmed, "--- SKIP: "):
			skipping = benchName(strings.Fields(trimmed)[2])
			run.Skipped[skipping] = ""
		case strings.HasPrefix(trimmed, "--- FAIL: "):
			run.Failed = append(run.Failed, benchName(strings.Fields(trimmed)[2]))
		case strings.HasPrefix(line, "cpu: "):
			run.CPU = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "Benchmark"):
			parseLine(run, line)
		}
	}
	return run, sc.Err()
}

// benchName returns a benchmark's name as the report knows it: without
// "Benchmark" and the -GOMAXPROCS suffix.
func benchName(s string) string {
	return procsSuffix.ReplaceAllString(strings.TrimPrefix(s, "Benchmark"), "")
}

// parseLine records one result line, "BenchmarkX-2  1000  123 ns/op
// 45 B/op ..."; lines that are not results (a benchmark's log output that
// starts with its name) are ignored.
func parseLine(run *Run, line string) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return
	}
	s := Samples{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return
		}
		s[f[i+1]] = append(s[f[i+1]], v)
	}
	name := benchName(f[0])
	have, ok := run.Samples[name]
	if !ok {
		run.Order = append(run.Order, name)
		run.Samples[name] = s
		return
	}
	for unit, vs := range s {
		have[unit] = append(have[unit], vs...)
	}
}

// Merge adds the results of other to run (a second `go test` invocation).
func (run *Run) Merge(other *Run) {
	for _, name := range other.Order {
		if _, ok := run.Samples[name]; !ok {
			run.Order = append(run.Order, name)
			run.Samples[name] = Samples{}
		}
		for unit, vs := range other.Samples[name] {
			run.Samples[name][unit] = append(run.Samples[name][unit], vs...)
		}
	}
	for k, v := range other.Skipped {
		run.Skipped[k] = v
	}
	run.Failed = append(run.Failed, other.Failed...)
	if run.CPU == "" {
		run.CPU = other.CPU
	}
}

// Median returns the median of vs (the mean of the middle two when their
// number is even) and false when vs is empty.
func Median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m], true
	}
	return (s[m-1] + s[m]) / 2, true
}

// Median returns the median figure of benchmark name in unit.
func (run *Run) Median(name, unit string) (float64, bool) {
	return Median(run.Samples[name][unit])
}

// Ratio returns the median ns/op of name divided by that of base.
func (run *Run) Ratio(name, base string) (float64, bool) {
	v, ok1 := run.Median(name, "ns/op")
	b, ok2 := run.Median(base, "ns/op")
	if !ok1 || !ok2 || b == 0 {
		return 0, false
	}
	return v / b, true
}

// Find returns the first benchmark whose name is pattern, or, when
// pattern ends in "*", starts with the rest of it.
func (run *Run) Find(pattern string) (string, bool) {
	prefix, wild := strings.CutSuffix(pattern, "*")
	for _, name := range run.Order {
		if name == pattern || wild && strings.HasPrefix(name, prefix) {
			return name, true
		}
	}
	return "", false
}
