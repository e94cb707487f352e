package console

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/territories"
)

// The charts are inline SVG rendered on the server, with a title and a
// description for screen readers; the figures they draw are always also
// given as text next to them.

// barChart draws horizontal bars of values in [0, 100] with an optional
// target line; labels name each bar and its value is written at its end.
func barChart(title string, bars []bar, target float64) string {
	const w, rowH, left, right = 520, 28, 170, 60
	h := rowH*len(bars) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-labelledby="t d" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">`, w, h, w, h)
	fmt.Fprintf(&b, `<title id="t">%s</title><desc id="d">`, html.EscapeString(title))
	for i, br := range bars {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s : %s", html.EscapeString(br.Label), html.EscapeString(frPercent(br.Value)))
	}
	b.WriteString(`</desc>`)
	span := float64(w - left - right)
	for i, br := range bars {
		y := 10 + i*rowH
		v := min(max(br.Value, 0), 100)
		fill := "#18753c"
		if target > 0 && br.Value < target {
			fill = "#c9191e"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-8, y+15, html.EscapeString(br.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#f0f0f0" stroke="#1e1e1e"/>`, left, y, span, rowH-8)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y, span*v/100, rowH-8, fill)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`, float64(left)+span+6, y+15, html.EscapeString(frPercent(br.Value)))
	}
	if target > 0 {
		x := float64(left) + span*target/100
		fmt.Fprintf(&b, `<line x1="%.1f" y1="4" x2="%.1f" y2="%d" stroke="#000091" stroke-width="2" stroke-dasharray="4 3"/>`, x, x, h-16)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">objectif %s</text>`, x, h-4, html.EscapeString(frPercent(target)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

type bar struct {
	Label string
	Value float64
}

// progressChart draws a campaign's cumulative progress over time: notices
// done and delivered, against the audience size.
func progressChart(pts []campaigns.Point, total int64) string {
	const w, h, left, bottom, top, right = 640, 260, 60, 40, 15, 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-labelledby="pt pd" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">`, w, h, w, h)
	b.WriteString(`<title id="pt">Progression de la campagne dans le temps</title>`)
	if len(pts) == 0 {
		b.WriteString(`<desc id="pd">Aucun avis traité pour l'instant.</desc>`)
		fmt.Fprintf(&b, `<text x="%d" y="%d">Aucun avis traité pour l'instant.</text></svg>`, left, h/2)
		return b.String()
	}
	last := pts[len(pts)-1]
	fmt.Fprintf(&b, `<desc id="pd">%s avis traités dont %s distribués sur %s, du %s au %s.</desc>`,
		frNumber(last.Done), frNumber(last.Delivered), frNumber(total), frDateTime(pts[0].At), frDateTime(last.At))
	ymax := max(total, last.Done, 1)
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	t0, t1 := pts[0].At, last.At
	x := func(t time.Time) float64 {
		if !t1.After(t0) {
			return float64(left) + pw
		}
		return float64(left) + pw*float64(t.Sub(t0))/float64(t1.Sub(t0))
	}
	y := func(v int64) float64 { return float64(top) + ph*(1-float64(v)/float64(ymax)) }
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1e1e1e"/>`, left, top, left, h-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1e1e1e"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, left-6, y(ymax)+4, frNumber(ymax))
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">0</text>`, left-6, y(0)+4)
	paris := territories.Paris()
	fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, left, h-bottom+16, t0.In(paris).Format("02/01 15:04"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, w-right, h-bottom+16, t1.In(paris).Format("02/01 15:04"))
	line := func(val func(campaigns.Point) int64, color, dash string) {
		var p strings.Builder
		fmt.Fprintf(&p, "M%.1f %.1f", float64(left), y(0))
		for _, pt := range pts {
			fmt.Fprintf(&p, " L%.1f %.1f", x(pt.At), y(val(pt)))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2.5" stroke-dasharray="%s"/>`, p.String(), color, dash)
	}
	line(func(p campaigns.Point) int64 { return p.Done }, "#000091", "")
	line(func(p campaigns.Point) int64 { return p.Delivered }, "#18753c", "6 4")
	// Legend: line styles differ as well as colours.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000091" stroke-width="2.5"/><text x="%d" y="%d">traités (trait plein)</text>`,
		left+10, h-8, left+40, h-8, left+46, h-4)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#18753c" stroke-width="2.5" stroke-dasharray="6 4"/><text x="%d" y="%d">distribués (pointillés)</text>`,
		left+220, h-8, left+250, h-8, left+256, h-4)
	b.WriteString(`</svg>`)
	return b.String()
}
