package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// The Markdown report (--markdown FILE): what bench/RESULTS.md is made of.
// Besides the tables of the terminal report it checks the targets issue 6
// holds the project to, so that where mfs misses one the file says so and
// by how much without anyone having to read the tables for it:
//
//   - run, data I/O (read, write): time ≤ 1.05× native;
//   - run, metadata (every other family): faster than mergerfs as users run
//     it (mergerfs-defaults when measured, else mergerfs), and ≤ 1.3× the
//     C-probe floor;
//   - mount and mount-passthrough: ≥ mergerfs with identical explicit
//     options, i.e. time ≤ 1.0× mergerfs.
//
// A verdict drawn from a noisy result (runs spread over --noise) says so.

// Target thresholds, as ratios of times.
const (
	targetRunData   = 1.05
	targetRunFloor  = 1.3
	targetMountTime = 1.0
)

// dataFamilies are the families whose target is data I/O at native speed.
var dataFamilies = []string{"read", "write"}

// WriteMarkdown writes r as Markdown.
func WriteMarkdown(w io.Writer, r *Report) {
	m := r.Meta
	fmt.Fprintf(w, "## mfs bench — %s\n\n", m.Date.Format(time.RFC3339))
	item := func(k, v string) { fmt.Fprintf(w, "- **%s:** %s\n", k, v) }
	item("reproduce", "`"+m.Command+"`")
	item("machine", fmt.Sprintf("kernel %s, %d CPUs (%s), branches on %s", m.Kernel, m.CPUs, m.CPUModel, m.WorkDirFS))
	item("pinning", m.PinNote)
	item("versions", fmt.Sprintf("mfs %s; mergerfs %s", orDash(m.MFSVersion), orDash(m.Mergerfs)))
	item("runs", fmt.Sprintf("%d per scenario and mode, %d branches; %s; took %s", m.Runs, m.Branches, m.Interleave,
		time.Duration(m.Duration*float64(time.Second)).Round(time.Second)))
	item("options", "mount, mount-passthrough (+passthrough.io=rw) and mergerfs: `-o "+strings.Join(m.Options, ",")+"`")
	item("ratios", m.RatioNote+"; medians of the runs, [min–max]; ~ marks a noisy result (max/min > "+fmt.Sprint(m.Noise)+")")
	item("latency", "percentiles of every recorded operation of every run (nearest rank)")
	if m.Disk != "" {
		item("disk I/O", m.Disk)
	}
	if m.Perf != "" {
		item("counters", m.Perf)
	}
	if m.Quick && len(m.Dropped) > 0 {
		item("quick", "one size per family; dropped "+strings.Join(m.Dropped, ", "))
	}
	for _, mi := range r.Modes {
		v := "ok"
		if mi.Status != "ok" {
			v = "unavailable: " + oneLine(mi.Reason, 300)
		}
		for _, n := range mi.Notes {
			v += "; server said: " + oneLine(n, 200)
		}
		if mi.Baseline != nil {
			v += fmt.Sprintf("; worker start-up %d trapped calls, subtracted", mi.Baseline.Notifications)
		}
		item("mode "+mi.Name, v)
		if mi.Name == ModeRun && mi.Status == "ok" {
			item("C-probe (the floor)", m.CProbe.String())
			if m.CProbeUnpinned != nil {
				item("C-probe unpinned", m.CProbeUnpinned.String()+" (for information)")
			}
		}
	}
	var modes []string
	for _, mi := range r.Modes {
		modes = append(modes, mi.Name)
	}

	fmt.Fprintf(w, "\n### Summary\n\nMedian time of the timed run; then ×native / ×mergerfs (mode time / reference time: above 1 is slower); ~ noisy; (n/K) when only n of the K runs succeeded (the failures are noted under the scenario).\n\n")
	fmt.Fprintf(w, "| scenario | %s |\n|---|%s\n", strings.Join(modes, " | "), strings.Repeat("---:|", len(modes)))
	for _, sr := range r.Scenarios {
		cells := []string{sr.Scenario.Name}
		for _, name := range modes {
			cells = append(cells, summaryCell(sr, name, r.Meta.Runs))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}

	writeTargets(w, r)

	fmt.Fprintf(w, "\n### Per scenario\n")
	for i := range r.Scenarios {
		sr := &r.Scenarios[i]
		sc := sr.Scenario
		fmt.Fprintf(w, "\n**%s** — %s\n\n", sc.Name, sc.About)
		if sr.Skipped != "" {
			fmt.Fprintf(w, "skipped: %s\n", sr.Skipped)
			continue
		}
		fmt.Fprintf(w, "| mode | time [min–max] | %s/s | p50 | p95 | p99 | ops | ×native | ×mergerfs | wkr CPU | srv CPU | srv peak RSS | trapped/op | ×floor |\n", sc.Unit)
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var notes []string
		for _, mr := range sr.Results {
			if mr.Status != "ok" {
				fmt.Fprintf(w, "| %s | %s | | | | | | | | | | | | |\n", mr.Mode, mr.Status)
				if mr.Status != "unavailable" {
					notes = append(notes, fmt.Sprintf("%s %s: %s", mr.Mode, mr.Status, mdEscape(oneLine(mr.Reason, 300))))
				}
				continue
			}
			s := mr.Summary
			noisy := ""
			if s.Noisy {
				noisy = " ~"
			}
			fmt.Fprintf(w, "| %s | %s [%s–%s]%s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n",
				mr.Mode, fmtSec(s.Wall.Median), fmtSec(s.Wall.Min), fmtSec(s.Wall.Max), noisy,
				fmtCount(s.Throughput.Median), fmtNS(s.Latency.P50), fmtNS(s.Latency.P95), fmtNS(s.Latency.P99), s.Latency.N,
				fmtRatio(s.VsNative), fmtRatio(s.VsMergerfs), fmtSec(s.WorkerCPU.Median),
				spreadOr(s.ServerCPU, fmtSec), spreadOr(s.ServerPeakKiB, fmtKiB), spreadOr(s.TrappedPerOp, fmtPerOp), fmtRatio(s.VsFloor))
			for _, run := range mr.Runs {
				if run.Error != "" {
					notes = append(notes, fmt.Sprintf("%s: run %d failed: %s", mr.Mode, run.Run, mdEscape(oneLine(run.Error, 300))))
				}
				if run.Teardown != "" {
					notes = append(notes, fmt.Sprintf("%s: run %d, after its measurement: teardown: %s", mr.Mode, run.Run, mdEscape(oneLine(run.Teardown, 300))))
				}
				if t, ok := run.Notes["rsync_transferred"]; ok && t != "0" && sc.Family == "rsync-noop" {
					notes = append(notes, fmt.Sprintf("%s: run %d: the re-run transferred %s files", mr.Mode, run.Run, t))
				}
			}
		}
		if head, rows := systemTable(sr); head != nil {
			fmt.Fprintf(w, "\n| %s |\n|---|%s\n", strings.Join(head, " | "), strings.Repeat("---:|", len(head)-1))
			for _, row := range rows {
				fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
			}
		}
		for _, n := range notes {
			fmt.Fprintf(w, "\n- note: %s", n)
		}
		if len(notes) > 0 {
			fmt.Fprintln(w)
		}
	}
}

// result returns the summary of mode in sr, or nil.
func (sr *ScenarioReport) result(mode string) *Summary {
	for _, mr := range sr.Results {
		if mr.Mode == mode {
			return mr.Summary
		}
	}
	return nil
}

// verdict is "met" or "**missed** by X%" for ratio against limit, flagged
// when the figures behind it are noisy.
func verdict(ratio, limit float64, noisy bool) string {
	v := "met"
	if ratio > limit {
		by := fmt.Sprintf("%.0f%%", (ratio/limit-1)*100)
		if by == "0%" {
			by = "<1%"
		}
		v = "**missed** by " + by
	}
	if noisy {
		v += " (noisy)"
	}
	return v
}

// writeTargets checks the issue 6 targets on every scenario that has the
// modes involved, and counts the misses.
func writeTargets(w io.Writer, r *Report) {
	has := func(mode string) bool {
		for _, mi := range r.Modes {
			if mi.Name == mode && mi.Status == "ok" {
				return true
			}
		}
		return false
	}
	fmt.Fprintf(w, "\n### Targets (issue 6)\n")
	if has(ModeRun) && has(ModeNative) {
		users, usersNote := ModeMergerfs, "mergerfs-defaults was not measured, so mergerfs with the explicit options stands in"
		if has(ModeMergerfsDefaults) {
			users, usersNote = ModeMergerfsDefaults, "mergerfs-defaults"
		}
		fmt.Fprintf(w, "\n`run`: data I/O (read, write) ≤ %.2f× native; metadata (the rest) faster than mergerfs as users run it (%s) and ≤ %.1f× the C-probe floor.\n\n", targetRunData, usersNote, targetRunFloor)
		fmt.Fprintf(w, "| scenario | run | ×native | ×%s | trapped/op | floor | ×floor | verdict |\n|---|---:|---:|---:|---:|---:|---:|---|\n", users)
		missed, total := 0, 0
		for i := range r.Scenarios {
			sr := &r.Scenarios[i]
			s, nat := sr.result(ModeRun), sr.result(ModeNative)
			if s == nil || nat == nil {
				continue
			}
			total++
			noisy := s.Noisy || nat.Noisy
			var v string
			vsUsers := 0.0
			if u := sr.result(users); u != nil {
				vsUsers = Ratio(s.Wall.Median, u.Wall.Median)
			}
			if slices.Contains(dataFamilies, sr.Scenario.Family) {
				v = "data: " + verdict(s.VsNative, targetRunData, noisy)
			} else {
				var parts []string
				if vsUsers > 0 {
					parts = append(parts, "vs "+users+": "+verdict(vsUsers, 1, noisy))
				}
				if s.VsFloor > 0 {
					parts = append(parts, "floor: "+verdict(s.VsFloor, targetRunFloor, noisy))
				}
				v = strings.Join(parts, "; ")
			}
			if strings.Contains(v, "missed") {
				missed++
			}
			floor := "-"
			if s.FloorS > 0 {
				floor = fmtSec(s.FloorS)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", sr.Scenario.Name, fmtSec(s.Wall.Median), fmtRatio(s.VsNative),
				fmtRatio(vsUsers), spreadOr(s.TrappedPerOp, fmtPerOp), floor, fmtRatio(s.VsFloor), v)
		}
		fmt.Fprintf(w, "\n`run` missed a target in %d of %d scenarios.\n", missed, total)
	}
	if has(ModeMergerfs) && (has(ModeMount) || has(ModePassthrough)) {
		fmt.Fprintf(w, "\n`mount` ≥ mergerfs with identical explicit options: time ≤ %.1f× mergerfs (mount-passthrough shown beside; its cache.files differs, see the modes).\n\n", targetMountTime)
		fmt.Fprintf(w, "| scenario | mount ×mergerfs | verdict | mount-passthrough ×mergerfs | verdict |\n|---|---:|---|---:|---|\n")
		missed, total := 0, 0
		for i := range r.Scenarios {
			sr := &r.Scenarios[i]
			ref := sr.result(ModeMergerfs)
			if ref == nil {
				continue
			}
			cells := []string{sr.Scenario.Name}
			counted := false
			for _, mode := range []string{ModeMount, ModePassthrough} {
				s := sr.result(mode)
				if s == nil {
					cells = append(cells, "-", "-")
					continue
				}
				v := verdict(s.VsMergerfs, targetMountTime, s.Noisy || ref.Noisy)
				cells = append(cells, fmtRatio(s.VsMergerfs), v)
				if mode == ModeMount {
					counted = true
					if strings.Contains(v, "missed") {
						missed++
					}
				}
			}
			if counted {
				total++
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
		fmt.Fprintf(w, "\n`mount` missed the target in %d of %d scenarios.\n", missed, total)
	}
}

// mdEscape keeps text from breaking a Markdown line or table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "'").Replace(s)
}
