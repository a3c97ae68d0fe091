package main

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartWidth = 960
	labelWidth = 300
	valueWidth = 90
	barHeight  = 16
	rowGap     = 6
	titleSpace = 28
	panelGap   = 14
	margin     = 16
)

var kindColor = map[Kind]string{Base: "#9e9e9e", Peer: "#e69f00", Ours: "#0072b2"}

// WriteSVG draws one panel per group measured in time per call, a
// horizontal bar per measured row, scaled to the panel's longest: groups
// differ by orders of magnitude, so each panel has its own scale.
func WriteSVG(w io.Writer, title string, run *Run, gs []Group) error {
	var body strings.Builder
	y := margin + 20
	fmt.Fprintf(&body, `<text x="%d" y="%d" font-size="16" font-weight="bold">%s</text>`+"\n", margin, y, html.EscapeString(title))
	y += 10
	legendX := margin
	y += 18
	for _, k := range []Kind{Base, Peer, Ours} {
		fmt.Fprintf(&body, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", legendX, y-11, kindColor[k])
		fmt.Fprintf(&body, `<text x="%d" y="%d">%s</text>`+"\n", legendX+16, y, [...]string{"baseline", "peer", "idempotency (this project)"}[k])
		legendX += 140
	}
	y += panelGap
	barSpace := chartWidth - 2*margin - labelWidth - valueWidth
	for _, g := range gs {
		if g.unit() != "ns/op" || g.CPU {
			continue
		}
		var lines []Line
		longest := 0.0
		for _, l := range Measure(run, g) {
			if l.Name != "" {
				lines = append(lines, l)
				longest = max(longest, l.Value)
			}
		}
		if len(lines) == 0 || longest <= 0 {
			continue
		}
		y += titleSpace - 8
		fmt.Fprintf(&body, `<text x="%d" y="%d" font-weight="bold">%s (time per call)</text>`+"\n", margin, y, html.EscapeString(g.Title))
		y += 8
		for _, l := range lines {
			width := float64(barSpace) * l.Value / longest
			fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", margin+labelWidth-8, y+barHeight-4, html.EscapeString(l.Label))
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s</title></rect>`+"\n",
				margin+labelWidth, y, max(width, 1), barHeight, kindColor[l.Kind], html.EscapeString(l.Name), FormatNs(l.Value))
			fmt.Fprintf(&body, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(margin+labelWidth)+max(width, 1)+6, y+barHeight-4, FormatNs(l.Value))
			y += barHeight + rowGap
		}
		y += panelGap
	}
	height := y + margin
	_, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
%s</svg>
`, chartWidth, height, chartWidth, height, body.String())
	return err
}
