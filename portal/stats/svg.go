package stats

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/enthub/enthub/directory/usage"
)

// Chart geometry, in SVG user units; the viewBox scales it to the width
// of the page, a phone's included.
const (
	chartW, chartH         = 720, 260
	padLeft, padBottom     = 70, 50
	padTop, padRight       = 20, 10
	maxCategoryBars        = 15 // the table lists every row; the chart the largest
	barGap             int = 2
)

// barChart draws rows as an SVG bar chart readable without JavaScript:
// role="img" with a title and a description that points to the table of
// the same figures, labelled axes, and each bar's figure in its own
// <title> (a tooltip, and text for assistive technology). timeline keeps
// the rows' order (days, hours); otherwise the largest rows are drawn.
// Colours are attributes, not styles: the strict CSP allows them.
func barChart(id, title, desc, countAxis, keyAxis string, rows []usage.Row, timeline bool) template.HTML {
	if len(rows) == 0 {
		return ""
	}
	if !timeline && len(rows) > maxCategoryBars {
		rows = rows[:maxCategoryBars]
	}
	var most int64
	for _, r := range rows {
		most = max(most, r.Logins)
	}
	top := niceCeil(most)
	plotW := chartW - padLeft - padRight
	plotH := chartH - padTop - padBottom
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg id="%s-chart" role="img" aria-labelledby="%s-chart-title %s-chart-desc" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`,
		id, id, id, chartW, chartH)
	fmt.Fprintf(&b, `<title id="%s-chart-title">%s</title><desc id="%s-chart-desc">%s</desc>`, id, esc(title), id, esc(desc))
	// Axes and the scale: 0, half and the top.
	fmt.Fprintf(&b, `<g fill="#1a1a1a" font-size="12" font-family="sans-serif">`)
	for _, v := range []int64{0, top / 2, top} {
		y := padTop + plotH - int(float64(plotH)*float64(v)/float64(max(top, 1)))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#767676" stroke-width="1"/>`, padLeft, y, padLeft+plotW, y)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, padLeft-6, y+4, groupDigits(v))
	}
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`, padTop+plotH/2, padTop+plotH/2, esc(countAxis))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, padLeft+plotW/2, chartH-6, esc(keyAxis))
	n := len(rows)
	slot := float64(plotW) / float64(n)
	w := max(slot-float64(barGap), 1)
	if slot < 3 {
		w = slot // a year of days: bars touch
	}
	every := max(1, n/8) // at most 8 or so key labels under the axis
	for i, r := range rows {
		x := float64(padLeft) + float64(i)*slot
		h := float64(plotH) * float64(r.Logins) / float64(max(top, 1))
		label := r.Label
		if label == "" {
			label = r.Key
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1d4f91"><title>%s : %s</title></rect>`,
			x, float64(padTop+plotH)-h, w, h, esc(label), groupDigits(r.Logins))
		if i%every == 0 {
			short := label
			if len([]rune(short)) > 14 {
				short = string([]rune(short)[:13]) + "…"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+w/2, padTop+plotH+16, esc(short))
		}
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, so the scale
// reads as round figures.
func niceCeil(v int64) int64 {
	if v <= 0 {
		return 1
	}
	p := int64(1)
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
