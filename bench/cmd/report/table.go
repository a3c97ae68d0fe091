package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Cells returns the header and rows of g's table as text.
func Cells(g Group, lines []Line) (header []string, rows [][]string) {
	unit := g.unit()
	timed, paired := unit == "ns/op", unit == "x-baseline" || unit == "extra-ns/op"
	switch {
	case g.CPU:
		header = []string{"case", "time/op", "client CPU/op", "over baseline", "server CPU/op", "over baseline"}
	case timed:
		header = []string{"case", "time/op", "B/op", "allocs/op", "x baseline", "over baseline"}
	case unit == "extra-ns/op":
		header = []string{"case", "over its baseline, same load"}
	case paired:
		header = []string{"case", "guard over raw, same load"}
	default:
		header = []string{"case", unit, "x baseline"}
	}
	for _, l := range lines {
		label := l.Label
		if strings.HasSuffix(l.Bench, "*") && l.Name != "" {
			_, size, _ := strings.Cut(strings.TrimPrefix(l.Name, strings.TrimSuffix(l.Bench, "*")), "records=")
			if size != "" {
				label += ", " + size + " records"
			}
		}
		if l.Name == "" {
			row := []string{label, "not measured"}
			for len(row) < len(header) {
				row = append(row, "")
			}
			rows = append(rows, row)
			continue
		}
		ratio, over := "", ""
		if l.Ratio > 0 {
			ratio = FormatRatio(l.Ratio)
			if d := l.Value - l.BaseVal; d >= 0 {
				over = "+" + FormatNs(d)
			} else {
				over = FormatNs(d)
			}
		}
		if l.Kind == Base {
			over = "" // the baseline itself, or a peer's
		}
		switch {
		case g.CPU:
			rows = append(rows, []string{label, FormatNs(l.Value), cpu(l.Client), cpuOver(l, l.Client, l.BaseClient),
				cpu(l.Server), cpuOver(l, l.Server, l.BaseServer)})
			continue
		case paired:
			rows = append(rows, []string{label, FormatValue(l.Value, unit)})
			continue
		case !timed:
			rows = append(rows, []string{label, FormatValue(l.Value, unit), ratio})
			continue
		}
		rows = append(rows, []string{label, FormatNs(l.Value), count(l.Bytes), count(l.Allocs), ratio, over})
	}
	return header, rows
}

// FormatRatio prints a ratio with about 3 significant digits: 0.87x,
// 12.3x, 630x.
func FormatRatio(r float64) string { return sig3(r) + "x" }

func cpu(v float64) string {
	if v < 0 {
		return "not measured"
	}
	return FormatNs(v)
}

// cpuOver prints a CPU time over the baseline's, for l unless it is the
// baseline.
func cpuOver(l Line, v, base float64) string {
	if l.Kind == Base || v < 0 || base < 0 {
		return ""
	}
	if d := v - base; d < 0 {
		return FormatNs(d)
	}
	return "+" + FormatNs(v-base)
}

func count(v float64) string {
	if v < 0 {
		return ""
	}
	return fmt.Sprintf("%.0f", v)
}

// WriteText prints a table with aligned columns, the first left-aligned
// and the rest right-aligned.
func WriteText(w io.Writer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range append([][]string{header}, rows...) {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// WriteMarkdown prints a table in GitHub markdown, numbers right-aligned.
func WriteMarkdown(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	align := make([]string, len(header))
	for i := range align {
		align[i] = "---:"
	}
	align[0] = "---"
	fmt.Fprintln(w, "| "+strings.Join(align, " | ")+" |")
	for _, r := range rows {
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
}
