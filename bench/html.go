package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// modeColors gives each mode one colour in every chart.
var modeColors = map[string]string{
	ModeNative:      "#4c78a8",
	ModeRun:         "#f58518",
	ModeMount:       "#54a24b",
	ModePassthrough: "#b79a20",
	ModeMergerfs:    "#e45756",
	ModeOverlay:     "#72b7b2",
	// The defaults modes: lighter shades of their explicit-options siblings.
	ModeMountDefaults:    "#9ecf95",
	ModeMergerfsDefaults: "#f4a6a6",
}

func colorOf(mode string) string {
	if c, ok := modeColors[mode]; ok {
		return c
	}
	return "#888"
}

// RenderHTML renders r as one self-contained page: inline CSS and SVG, no
// script, no external URL. Per scenario: the table, a bar chart of the median
// time per mode with min–max whiskers, and the latency CDF per mode.
func RenderHTML(r *Report) string {
	var b strings.Builder
	e := html.EscapeString
	m := r.Meta
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mfs bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;text-align:right;border-bottom:1px solid #eee}
td:first-child,th:first-child{text-align:left}code{background:#f4f4f4;padding:1px 4px}
.na{color:#999}.noisy{color:#b00}.meta td{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}
svg text{font:11px system-ui,sans-serif}
</style></head><body>
`)
	fmt.Fprintf(&b, "<h1>mfs bench — %s</h1>\n", e(m.Date.Format(time.RFC3339)))
	b.WriteString(`<table class="meta">`)
	row := func(k, v string) { fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td></tr>\n", e(k), v) }
	row("reproduce", "<code>"+e(m.Command)+"</code>")
	row("machine", e(fmt.Sprintf("kernel %s, %d CPUs (%s), branches on %s", m.Kernel, m.CPUs, m.CPUModel, m.WorkDirFS)))
	row("pinning", e(m.PinNote))
	row("versions", e(fmt.Sprintf("mfs %s; mergerfs %s", orDash(m.MFSVersion), orDash(m.Mergerfs))))
	row("runs", e(fmt.Sprintf("%d per scenario and mode, %d branches; %s", m.Runs, m.Branches, m.Interleave)))
	row("options", "<code>-o "+e(strings.Join(m.Options, ","))+"</code> for mount, mount-passthrough (+passthrough.io=rw) and mergerfs")
	row("ratios", e(m.RatioNote)+"; medians with [min–max]; noisy when max/min &gt; "+e(fmt.Sprint(m.Noise)))
	row("latency", "percentiles of every recorded operation of every run (nearest rank)")
	if m.Disk != "" {
		row("disk I/O", e(m.Disk))
	}
	if m.Perf != "" {
		row("counters", e(m.Perf))
	}
	row("worker", "<code>"+e(m.WorkerCmd)+"</code>")
	if m.Quick && len(m.Dropped) > 0 {
		row("quick", e("one size per family; dropped "+strings.Join(m.Dropped, ", ")))
	}
	for _, mi := range r.Modes {
		v := `<span style="color:` + colorOf(mi.Name) + `">■</span> ok <code>` + e(mi.Command) + `</code>`
		if mi.Status != "ok" {
			v = `<span class="na">unavailable: ` + e(mi.Reason) + `</span>`
		}
		for _, n := range mi.Notes {
			v += "<br>server said: " + e(n)
		}
		if mi.Baseline != nil {
			v += e(fmt.Sprintf("; worker start-up: %d trapped calls, subtracted from every run", mi.Baseline.Notifications))
		}
		row("mode "+mi.Name, v)
		if mi.Name == ModeRun && mi.Status == "ok" {
			row("C-probe", e(m.CProbe.String())+"; floor = native time + trapped calls × (C round trip − the native call)")
			if m.CProbeUnpinned != nil {
				row("C-probe unpinned", e(m.CProbeUnpinned.String())+" (for information; not the floor)")
			}
		}
	}
	b.WriteString("</table>\n")

	// Summary of ratios.
	b.WriteString("<h2>Summary</h2>\n<p>Median time per mode; then ×native / ×mergerfs (ratio = mode time / reference time, &gt;1 is slower). ~ marks a noisy result.</p>\n<table><tr><th>scenario</th>")
	for _, mi := range r.Modes {
		fmt.Fprintf(&b, "<th>%s</th>", e(mi.Name))
	}
	b.WriteString("</tr>\n")
	for _, sr := range r.Scenarios {
		fmt.Fprintf(&b, `<tr><td><a href="#%s">%s</a></td>`, e(sr.Scenario.Name), e(sr.Scenario.Name))
		for _, mi := range r.Modes {
			fmt.Fprintf(&b, "<td>%s</td>", e(summaryCell(sr, mi.Name, r.Meta.Runs)))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")

	for i := range r.Scenarios {
		sr := &r.Scenarios[i]
		sc := sr.Scenario
		fmt.Fprintf(&b, "<h2 id=\"%s\">%s</h2>\n<p>%s</p>\n", e(sc.Name), e(sc.Name), e(sc.About))
		if sr.Skipped != "" {
			fmt.Fprintf(&b, "<p class=\"na\">skipped: %s</p>\n", e(sr.Skipped))
			continue
		}
		fmt.Fprintf(&b, "<table><tr><th>mode</th><th>time</th><th>[min–max]</th><th>%s/s</th><th>p50</th><th>p95</th><th>p99</th><th>ops</th><th>×native</th><th>×mergerfs</th><th>worker CPU</th><th>server CPU</th><th>server peak RSS</th><th>trapped/op</th><th>×floor</th></tr>\n", e(sc.Unit))
		for _, mr := range sr.Results {
			if mr.Status != "ok" {
				fmt.Fprintf(&b, "<tr><td>%s</td><td colspan=\"14\" class=\"na\" style=\"text-align:left\">%s: %s</td></tr>\n", e(mr.Mode), e(mr.Status), e(oneLine(mr.Reason, 300)))
				continue
			}
			s := mr.Summary
			cls := ""
			if s.Noisy {
				cls = ` class="noisy" title="noisy: max/min over the threshold"`
			}
			fmt.Fprintf(&b, "<tr><td>%s</td><td%s>%s</td><td>%s–%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
				e(mr.Mode), cls, fmtSec(s.Wall.Median), fmtSec(s.Wall.Min), fmtSec(s.Wall.Max), fmtCount(s.Throughput.Median),
				fmtNS(s.Latency.P50), fmtNS(s.Latency.P95), fmtNS(s.Latency.P99), s.Latency.N,
				fmtRatio(s.VsNative), fmtRatio(s.VsMergerfs), fmtSec(s.WorkerCPU.Median),
				spreadOr(s.ServerCPU, fmtSec), spreadOr(s.ServerPeakKiB, fmtKiB), spreadOr(s.TrappedPerOp, fmtPerOp), fmtRatio(s.VsFloor))
		}
		b.WriteString("</table>\n")
		if head, rows := systemTable(sr); head != nil {
			b.WriteString("<table class=\"sys\"><tr>")
			for _, h := range head {
				fmt.Fprintf(&b, "<th>%s</th>", e(h))
			}
			b.WriteString("</tr>\n")
			for _, row := range rows {
				b.WriteString("<tr>")
				for _, c := range row {
					fmt.Fprintf(&b, "<td>%s</td>", e(c))
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</table>\n")
		}
		b.WriteString("<div class=\"charts\">\n")
		b.WriteString(barChart(sr))
		b.WriteString(cdfChart(sr))
		b.WriteString("</div>\n")
	}
	fmt.Fprintf(&b, "<p>Reproduce: <code>%s</code></p>\n</body></html>\n", e(m.Command))
	return b.String()
}

// barChart draws one horizontal bar per mode: the median time, with a
// whisker from the fastest to the slowest run.
func barChart(sr *ScenarioReport) string {
	var ok []ModeResult
	maxT := 0.0
	for _, mr := range sr.Results {
		if mr.Summary != nil {
			ok = append(ok, mr)
			maxT = math.Max(maxT, mr.Summary.Wall.Max)
		}
	}
	if len(ok) == 0 || maxT <= 0 {
		return ""
	}
	const left, width, barH, gap = 130.0, 330.0, 18.0, 8.0
	h := 30 + float64(len(ok))*(barH+gap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%.0f" viewBox="0 0 %d %.0f" role="img" aria-label="median time per mode">`, 600, h, 600, h)
	fmt.Fprintf(&b, `<text x="0" y="14">median time of the timed run, whiskers min–max</text>`)
	x := func(t float64) float64 { return left + width*t/maxT }
	for i, mr := range ok {
		s := mr.Summary
		y := 26 + float64(i)*(barH+gap)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-6, y+barH*0.7, html.EscapeString(mr.Mode))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, left, y, x(s.Wall.Median)-left, barH, colorOf(mr.Mode))
		cy := y + barH/2
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`, x(s.Wall.Min), cy, x(s.Wall.Max), cy)
		for _, t := range []float64{s.Wall.Min, s.Wall.Max} {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`, x(t), y+3, x(t), y+barH-3)
		}
		label := fmtSec(s.Wall.Median)
		if s.VsNative > 0 && mr.Mode != ModeNative {
			label += " " + fmtRatio(s.VsNative)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, x(s.Wall.Max)+6, y+barH*0.7, html.EscapeString(label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// cdfChart draws the cumulative distribution of per-operation latency for
// every mode, on a logarithmic time axis.
func cdfChart(sr *ScenarioReport) string {
	type series struct {
		mode string
		pts  [][2]float64
	}
	var ss []series
	lo, hi := math.Inf(1), 0.0
	for i := range sr.Results {
		mr := &sr.Results[i]
		if mr.Summary == nil {
			continue
		}
		sorted := mr.pooledSorted()
		if len(sorted) < 5 { // a CDF of one tool run says nothing
			continue
		}
		pts := cdfPoints(sorted, 120)
		ss = append(ss, series{mr.Mode, pts})
		lo = math.Min(lo, math.Max(pts[0][0], 1))
		hi = math.Max(hi, pts[len(pts)-1][0])
	}
	if len(ss) == 0 {
		return ""
	}
	l0, l1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(math.Max(hi, lo*10)))
	if l1 <= l0 {
		l1 = l0 + 1
	}
	const left, top, w, h = 40.0, 20.0, 420.0, 180.0
	x := func(ns float64) float64 { return left + w*(math.Log10(math.Max(ns, 1))-l0)/(l1-l0) }
	y := func(f float64) float64 { return top + h*(1-f) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="latency CDF per mode">`, 600, 240, 600, 240)
	fmt.Fprintf(&b, `<text x="0" y="12">latency CDF (every operation, log time axis)</text>`)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, left, top, w, h)
	for d := l0; d <= l1; d++ {
		xx := x(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#eee"/>`, xx, top, xx, top+h)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, xx, top+h+14, fmtNS(int64(math.Pow(10, d))))
	}
	for _, f := range []float64{0, 0.5, 0.95, 0.99, 1} {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`, left, y(f), left+w, y(f))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%g</text>`, left-4, y(f)+4, f)
	}
	for i, s := range ss {
		var pts strings.Builder
		prevF := 0.0
		for j, p := range s.pts {
			if j == 0 {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(p[0]), y(0))
			}
			// A step: up at this latency from the previous fraction.
			fmt.Fprintf(&pts, "%.1f,%.1f %.1f,%.1f ", x(p[0]), y(prevF), x(p[0]), y(p[1]))
			prevF = p[1]
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, colorOf(s.mode), strings.TrimSpace(pts.String()))
		ly := top + 10 + float64(i)*15
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/>`, left+w+10, ly, left+w+28, ly, colorOf(s.mode))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`, left+w+32, ly+4, html.EscapeString(s.mode))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
