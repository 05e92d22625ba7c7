package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// printHeader prints what a reader needs to trust or reproduce the figures.
func printHeader(w io.Writer, r *Report) {
	m := r.Meta
	fmt.Fprintf(w, "mfs bench — %s\n", m.Date.Format(time.RFC3339))
	fmt.Fprintf(w, "reproduce: %s\n", m.Command)
	fmt.Fprintf(w, "machine:   kernel %s, %d CPUs (%s), branches on %s (%s)\n", m.Kernel, m.CPUs, m.CPUModel, m.WorkDirFS, m.WorkDir)
	fmt.Fprintf(w, "pinning:   %s\n", m.PinNote)
	fmt.Fprintf(w, "versions:  mfs %s; mergerfs %s\n", orDash(m.MFSVersion), orDash(m.Mergerfs))
	fmt.Fprintf(w, "runs:      %d per scenario and mode, %d branches; %s\n", m.Runs, m.Branches, m.Interleave)
	fmt.Fprintf(w, "options:   mount, mount-passthrough (+passthrough.io=rw) and mergerfs get -o %s\n", strings.Join(m.Options, ","))
	fmt.Fprintf(w, "ratios:    %s; medians of %d runs [min–max]; runs spread over max/min > %g are flagged noisy\n", m.RatioNote, m.Runs, m.Noise)
	fmt.Fprintf(w, "latency:   percentiles of every recorded operation of every run (nearest rank), not of a mean\n")
	if m.Disk != "" {
		fmt.Fprintf(w, "disk I/O:  %s\n", m.Disk)
	}
	if m.Perf != "" {
		fmt.Fprintf(w, "counters:  %s\n", m.Perf)
	}
	fmt.Fprintf(w, "worker:    %s\n", m.WorkerCmd)
	if m.Quick && len(m.Dropped) > 0 {
		fmt.Fprintf(w, "quick:     one size per family; dropped %s\n", strings.Join(m.Dropped, ", "))
	}
	for _, mi := range r.Modes {
		if mi.Name == ModeRun && mi.Status == "ok" {
			fmt.Fprintf(w, "C-probe:   %s\n", m.CProbe)
			if m.CProbeUnpinned != nil {
				fmt.Fprintf(w, "           (for information, the same probe unpinned: %s)\n", m.CProbeUnpinned)
			}
			if m.CProbe.Usable() {
				fmt.Fprintf(w, "           floor = native time + trapped calls × (C round trip − the native call); ×floor = run time / floor\n")
			}
		}
	}
	fmt.Fprintf(w, "modes:\n")
	for _, mi := range r.Modes {
		if mi.Status == "ok" {
			fmt.Fprintf(w, "  %-18s ok  %s\n", mi.Name, mi.Command)
		} else {
			fmt.Fprintf(w, "  %-18s unavailable: %s\n", mi.Name, mi.Reason)
		}
		for _, n := range mi.Notes {
			fmt.Fprintf(w, "  %-18s server said: %s\n", "", oneLine(n, 300))
		}
		if mi.Baseline != nil {
			fmt.Fprintf(w, "  %-18s worker start-up: %d trapped calls (runs: %v), subtracted from every run's count\n", "", mi.Baseline.Notifications, mi.BaselineRuns)
		}
	}
	fmt.Fprintln(w)
}

// printScenario prints one scenario's block of the table.
func printScenario(w io.Writer, sr *ScenarioReport, r *Report) {
	sc := sr.Scenario
	fmt.Fprintf(w, "%s — %s\n", sc.Name, sc.About)
	if sr.Skipped != "" {
		fmt.Fprintf(w, "  skipped: %s\n\n", sr.Skipped)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  mode\ttime [min–max]\t%s/s\tp50\tp95\tp99\tops\t×native\t×mergerfs\twkr CPU\tsrv CPU\tsrv peak RSS\ttrapped/op\t×floor\t\n", sc.Unit)
	var notes []string
	for _, mr := range sr.Results {
		if mr.Status != "ok" {
			fmt.Fprintf(tw, "  %s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", mr.Mode, mr.Status)
			if mr.Status != "unavailable" { // unavailable modes are explained in the header and the summary
				notes = append(notes, fmt.Sprintf("%s %s: %s", mr.Mode, mr.Status, oneLine(mr.Reason, 300)))
			}
			continue
		}
		s := mr.Summary
		flag := ""
		if s.Noisy {
			flag = " noisy"
		}
		fmt.Fprintf(tw, "  %s\t%s [%s–%s]%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			mr.Mode,
			fmtSec(s.Wall.Median), fmtSec(s.Wall.Min), fmtSec(s.Wall.Max), flag,
			fmtCount(s.Throughput.Median),
			fmtNS(s.Latency.P50), fmtNS(s.Latency.P95), fmtNS(s.Latency.P99), s.Latency.N,
			fmtRatio(s.VsNative), fmtRatio(s.VsMergerfs),
			fmtSec(s.WorkerCPU.Median),
			spreadOr(s.ServerCPU, fmtSec), spreadOr(s.ServerPeakKiB, fmtKiB), spreadOr(s.TrappedPerOp, fmtPerOp), fmtRatio(s.VsFloor))
		if s.VsFloor > 0 {
			notes = append(notes, fmt.Sprintf("%s floor %s = native %s + %s of C-probe round trips for %s trapped/op: %s is %s its floor",
				mr.Mode, fmtSec(s.FloorS), fmtSec(s.FloorS-s.TrappedExtraS.Median), fmtSec(s.TrappedExtraS.Median), spreadOr(s.TrappedPerOp, fmtPerOp), mr.Mode, fmtRatio(s.VsFloor)))
		}
		for _, run := range mr.Runs {
			if run.Error != "" {
				notes = append(notes, fmt.Sprintf("%s: run %d failed: %s", mr.Mode, run.Run, oneLine(run.Error, 200)))
			}
			if run.Teardown != "" {
				notes = append(notes, fmt.Sprintf("%s: run %d, after its measurement: teardown: %s", mr.Mode, run.Run, oneLine(run.Teardown, 200)))
			}
			if t, ok := run.Notes["rsync_transferred"]; ok && t != "0" && sc.Family == "rsync-noop" {
				notes = append(notes, fmt.Sprintf("%s: run %d: the re-run transferred %s files (a no-op re-run should transfer none)", mr.Mode, run.Run, t))
			}
		}
	}
	tw.Flush()
	if head, rows := systemTable(sr); head != nil {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  %s\t\n", strings.Join(head, "\t"))
		for _, row := range rows {
			fmt.Fprintf(tw, "  %s\t\n", strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	for _, n := range notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintln(w)
}

// printSummary prints one row per scenario with every mode's ratios.
func printSummary(w io.Writer, r *Report) {
	var modes []string
	for _, mi := range r.Modes {
		modes = append(modes, mi.Name)
	}
	fmt.Fprintf(w, "summary: median time of each mode, then ×native / ×mergerfs (ratio = mode time / reference time; >1 slower); ~ noisy; (n/K) only n of K runs succeeded\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  scenario\t%s\t\n", strings.Join(modes, "\t"))
	for _, sr := range r.Scenarios {
		cells := []string{sr.Scenario.Name}
		for _, name := range modes {
			cells = append(cells, summaryCell(sr, name, r.Meta.Runs))
		}
		fmt.Fprintf(tw, "  %s\t\n", strings.Join(cells, "\t"))
	}
	tw.Flush()
	for _, mi := range r.Modes {
		if mi.Status != "ok" {
			fmt.Fprintf(w, "  %s: unavailable: %s\n", mi.Name, oneLine(mi.Reason, 200))
		}
	}
	printFloors(w, r)
	fmt.Fprintf(w, "reproduce: %s   (%s; %s; took %s)\n", r.Meta.Command, pinWord(r.Meta), "kernel "+r.Meta.Kernel, (time.Duration(r.Meta.Duration * float64(time.Second))).Round(100*time.Millisecond))
}

// printFloors prints, for every scenario with a run result, the figures
// the project's targets for `mfs run` are stated in: trapped calls per
// operation, the C-probe floor and the ratios.
func printFloors(w io.Writer, r *Report) {
	var rows []string
	for _, sr := range r.Scenarios {
		for _, mr := range sr.Results {
			if mr.Mode != ModeRun || mr.Summary == nil {
				continue
			}
			s := mr.Summary
			floor, vs := "-", "-"
			if s.VsFloor > 0 {
				floor, vs = fmtSec(s.FloorS), fmtRatio(s.VsFloor)
			}
			rows = append(rows, fmt.Sprintf("  %s\t%s\t%s\t%s\t%s\t%s\t%s\t", sr.Scenario.Name, fmtSec(s.Wall.Median),
				spreadOr(s.TrappedPerOp, fmtPerOp), floor, vs, fmtRatio(s.VsNative), fmtRatio(s.VsMergerfs)))
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "run against its floor (C-probe: %s):\n", r.Meta.CProbe)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  scenario\trun time\ttrapped/op\tfloor\t×floor\t×native\t×mergerfs\t\n")
	for _, row := range rows {
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}

func fmtPerOp(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func pinWord(m Meta) string {
	if m.Pinned == "" {
		return "not pinned"
	}
	return "pinned to CPU " + m.Pinned
}

// summaryCell is one mode's cell of the summary: median time, ratios, ~ when
// noisy and (n/K) when only n of the K runs succeeded.
func summaryCell(sr ScenarioReport, mode string, runs int) string {
	if sr.Skipped != "" {
		return "skipped"
	}
	for _, mr := range sr.Results {
		if mr.Mode != mode {
			continue
		}
		if mr.Status != "ok" {
			return mr.Status
		}
		s := mr.Summary
		cell := fmtSec(s.Wall.Median)
		if mode != ModeNative {
			cell += " " + fmtRatio(s.VsNative)
			if mode != ModeMergerfs && s.VsMergerfs > 0 {
				cell += "/" + fmtRatio(s.VsMergerfs)
			}
		}
		if s.Noisy {
			cell += "~"
		}
		if runs > 0 && s.Runs < runs {
			cell += fmt.Sprintf(" (%d/%d)", s.Runs, runs)
		}
		return cell
	}
	return "-"
}

func spreadOr(s *Spread, f func(float64) string) string {
	if s == nil {
		return "-"
	}
	return f(s.Median)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// fmtNS formats nanoseconds with three significant digits.
func fmtNS(ns int64) string { return fmtSec(float64(ns) / 1e9) }

func fmtSec(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s < 1e-6:
		return sig3(s*1e9) + "ns"
	case s < 1e-3:
		return sig3(s*1e6) + "µs"
	case s < 1:
		return sig3(s*1e3) + "ms"
	}
	return sig3(s) + "s"
}

func sig3(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func fmtCount(x float64) string {
	switch {
	case x >= 1e6:
		return sig3(x/1e6) + "M"
	case x >= 1e3:
		return sig3(x/1e3) + "k"
	}
	return sig3(x)
}

func fmtKiB(k float64) string {
	switch {
	case k >= 1<<20:
		return sig3(k/(1<<20)) + "GiB"
	case k >= 1<<10:
		return sig3(k/(1<<10)) + "MiB"
	}
	return fmt.Sprintf("%.0fKiB", k)
}

func fmtRatio(r float64) string {
	if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.2f×", r)
}
