package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Run runs the benchmark cfg describes. It prints the table to out as each
// scenario completes and a progress line to progress, and returns the
// report (also written to cfg.JSON and cfg.HTML when set). On cancellation
// it tears down what it set up and returns the report so far with ctx's
// error.
func Run(ctx context.Context, cfg Config, out, progress io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sel, dropped, err := SelectScenarios(cfg.Scenarios, cfg.Quick)
	if err != nil {
		return nil, &UsageError{err}
	}
	root, err := os.MkdirTemp(cfg.Dir, "mfs-bench-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	if !cfg.Keep {
		defer os.RemoveAll(root)
	}
	h := &harness{cfg: cfg, out: out, prog: progress, tty: isTerminal(progress), root: root, shared: filepath.Join(root, "shared")}
	if err := os.MkdirAll(h.shared, 0o755); err != nil {
		return nil, err
	}
	h.report = &Report{Meta: h.meta(dropped)}
	if dc, err := newDiskCounter(root); err != nil {
		h.report.Meta.Disk = "not measured: " + err.Error()
	} else {
		h.disk = dc
		h.report.Meta.Disk = fmt.Sprintf("device %s (%d:%d) under %s, /proc/diskstats over each timed run; dirty data written back (syncfs) before it starts and after it ends", dc.name, dc.major, dc.minor, root)
	}

	h.status("probing modes")
	mc := ModeConfig{MFS: cfg.MFS, Mergerfs: cfg.Mergerfs, Pin: cfg.pinPrefix(), SetupTimeout: cfg.SetupTimeout, ProfileDir: cfg.Profile}
	for _, name := range cfg.Modes {
		m, err := NewMode(name, mc)
		if err != nil {
			return nil, &UsageError{err}
		}
		info := h.probe(ctx, m)
		h.report.Modes = append(h.report.Modes, info)
		if info.Status == "ok" {
			h.modes = append(h.modes, m)
		}
		if (name == ModeMergerfs || name == ModeMergerfsDefaults) && info.Status == "ok" {
			h.report.Meta.Mergerfs = mergerfsVersion(cfg.Mergerfs)
		}
		if name == ModeRun && info.Status == "ok" {
			h.status("C-probe: measuring the seccomp notification round trip (C target, C supervisor)")
			h.rtt = measureRoundTrip(ctx, filepath.Join(root, "cprobe"), cfg.probeCPU(), cfg.CProbeCalls, 3)
			h.report.Meta.CProbe = h.rtt
			if cfg.Pin == "" && h.rtt.Usable() {
				h.report.Meta.CProbeUnpinned = measureRoundTrip(ctx, filepath.Join(root, "cprobe"), "", cfg.CProbeCalls, 3)
			}
		}
	}
	h.clearStatus()
	printHeader(out, h.report)

	h.total = len(sel) * cfg.Runs * len(h.modes)
	h.start = time.Now()
	var runErr error
	for _, sc := range sel {
		sr, err := h.scenario(ctx, sc)
		h.report.Scenarios = append(h.report.Scenarios, sr)
		h.clearStatus()
		printScenario(out, &sr, h.report)
		if err != nil {
			runErr = err
			break
		}
	}
	h.report.Meta.Duration = time.Since(h.start).Seconds()
	if runErr == nil {
		printSummary(out, h.report)
	}
	if cfg.JSON != "" {
		if err := h.report.WriteJSON(cfg.JSON); err != nil {
			return h.report, fmt.Errorf("--json: %w", err)
		}
	}
	if err := writeReports(h.report, cfg.HTML, cfg.Markdown); err != nil {
		return h.report, err
	}
	return h.report, runErr
}

// writeReports writes the HTML and Markdown reports that are asked for.
func writeReports(r *Report, htmlPath, mdPath string) error {
	if htmlPath != "" {
		if err := os.WriteFile(htmlPath, []byte(RenderHTML(r)), 0o644); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	if mdPath != "" {
		var b strings.Builder
		WriteMarkdown(&b, r)
		if err := os.WriteFile(mdPath, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("--markdown: %w", err)
		}
	}
	return nil
}

// Rerender reads a report written by --json and prints it again (the text
// report to out, and the HTML and Markdown files when named): a report in
// another form without running anything.
func Rerender(jsonPath string, out io.Writer, htmlPath, mdPath string) error {
	r, err := ReadJSON(jsonPath)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	printHeader(out, r)
	for i := range r.Scenarios {
		printScenario(out, &r.Scenarios[i], r)
	}
	printSummary(out, r)
	return writeReports(r, htmlPath, mdPath)
}

type harness struct {
	cfg          Config
	out, prog    io.Writer
	tty          bool
	root, shared string
	modes        []Mode // available modes, in --modes order
	report       *Report
	total, done  int
	start        time.Time
	rtt          *RoundTrip           // the C-probe, when run is measured
	baselines    map[string]*RunStats // per mode: the supervisor's counters for a worker that does nothing
	disk         *diskCounter         // the device under the branches; nil when there is none
}

// probe checks a mode once, in scratch space, before any run.
func (h *harness) probe(ctx context.Context, m Mode) ModeInfo {
	info := ModeInfo{Name: m.Name(), Status: "ok"}
	scratch := filepath.Join(h.root, "probe-"+m.Name())
	defer os.RemoveAll(scratch)
	branches, err := h.layout(scratch, m)
	if err != nil {
		info.Status, info.Reason = "unavailable", err.Error()
		return info
	}
	if p, ok := m.(prober); ok {
		err = p.Probe(ctx, scratch)
		if err == nil {
			var env Env
			if env, err = m.Setup(ctx, branches, h.cfg.Options); err == nil {
				info.Command = env.Command
				if env.StatsFile != "" {
					h.status(fmt.Sprintf("%s: measuring the worker's start-up (baseline of trapped calls)", m.Name()))
					info.Baseline, info.BaselineRuns, err = h.baseline(ctx, m, scratch)
					if info.Baseline != nil {
						if h.baselines == nil {
							h.baselines = map[string]*RunStats{}
						}
						h.baselines[m.Name()] = info.Baseline
					}
				}
			}
		}
	} else {
		var env Env
		env, err = m.Setup(ctx, branches, h.cfg.Options)
		if err == nil {
			info.Command = env.Command
			if env.Teardown != nil {
				err = env.Teardown(ctx)
			}
			if env.Log != "" {
				info.Notes = serverWarnings(env.Log)
			}
		}
	}
	if err != nil {
		info.Status, info.Reason = "unavailable", err.Error()
		var u *Unavailable
		if errors.As(err, &u) {
			info.Reason = u.Reason
		}
	}
	return info
}

// baselineRuns is how many do-nothing workers measure a mode's start-up.
const baselineRuns = 3

// baseline runs a worker that starts, does the handshake and an empty timed
// run (--phase none) baselineRuns times and returns the supervisor's
// counters of the run with the median notification count: what every
// timed worker costs before and after its workload, subtracted from each
// run's counters.
func (h *harness) baseline(ctx context.Context, m Mode, scratch string) (*RunStats, []uint64, error) {
	sc, _ := Lookup("create-100") // any scenario: --phase none runs nothing of it
	var all []RunStats
	var counts []uint64
	for i := 0; i < baselineRuns; i++ {
		run := filepath.Join(scratch, fmt.Sprintf("baseline-%d", i))
		branches, err := h.layout(run, m)
		if err != nil {
			return nil, counts, err
		}
		env, err := m.Setup(ctx, branches, h.cfg.Options)
		if err != nil {
			return nil, counts, err
		}
		var rs RunSample
		err = h.worker(ctx, sc, env, branches, filepath.Join(run, "aux"), &rs, PhaseNone)
		if env.Teardown != nil {
			env.Teardown(context.WithoutCancel(ctx))
		}
		if err != nil {
			return nil, counts, fmt.Errorf("a do-nothing worker failed: %w", err)
		}
		if rs.Trapped == nil {
			return nil, counts, nil // no counters: trapped/op will show "-"
		}
		all = append(all, *rs.Trapped)
		counts = append(counts, rs.Trapped.Notifications)
	}
	slices.SortFunc(all, func(a, b RunStats) int { return cmp.Compare(a.Notifications, b.Notifications) })
	med := all[len(all)/2]
	return &med, counts, nil
}

// serverWarnings returns the warning lines a FUSE server logged (options it
// overrode, features it could not use), for the report.
func serverWarnings(log string) []string {
	b, err := os.ReadFile(log)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "warn") || strings.Contains(l, "not apply") || strings.Contains(l, "ignor") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// layout makes RUN/b1..bN, RUN/mnt and RUN/aux and returns the branches.
func (h *harness) layout(run string, m Mode) ([]string, error) {
	n := h.cfg.Branches
	if _, ok := m.(plainDir); ok {
		n = 1
	}
	var branches []string
	for i := 1; i <= n; i++ {
		branches = append(branches, filepath.Join(run, "b"+strconv.Itoa(i)))
	}
	for _, d := range append(append([]string{}, branches...), filepath.Join(run, "mnt"), filepath.Join(run, "aux")) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return branches, nil
}

// scenario runs sc K times in every available mode, the modes interleaved
// run by run and rotated so that none is always first.
func (h *harness) scenario(ctx context.Context, sc Scenario) (ScenarioReport, error) {
	sr := ScenarioReport{Scenario: sc.Info()}
	results := map[string]*ModeResult{}
	for _, mi := range h.report.Modes {
		results[mi.Name] = &ModeResult{Mode: mi.Name, Status: mi.Status, Reason: mi.Reason}
	}
	finish := func() {
		for _, name := range h.cfg.Modes {
			mr := results[name]
			if mr.Status == "ok" {
				mr.Summary = summarize(mr.Runs, h.cfg.Noise)
				if mr.Summary != nil && h.rtt.Usable() {
					mr.Summary.addFloor(mr.Runs, h.rtt)
				}
				if mr.Summary == nil {
					mr.Status = "failed"
					if len(mr.Runs) > 0 {
						mr.Reason = mr.Runs[0].Error
					}
				}
			}
			sr.Results = append(sr.Results, *mr)
		}
		sr.fillRatios()
	}
	for _, t := range sc.Tools {
		if _, err := exec.LookPath(t); err != nil {
			sr.Skipped = fmt.Sprintf("%s is not installed", t)
			h.done += h.cfg.Runs * len(h.modes)
			finish()
			return sr, nil
		}
	}
	if sc.shared != nil {
		h.status(fmt.Sprintf("%s: preparing shared inputs", sc.Name))
		if err := sc.shared(h.shared); err != nil {
			sr.Skipped = "preparing shared inputs: " + err.Error()
			h.done += h.cfg.Runs * len(h.modes)
			finish()
			return sr, nil
		}
	}
	for k := 1; k <= h.cfg.Runs; k++ {
		n := len(h.modes)
		for i := 0; i < n; i++ {
			m := h.modes[(i+k-1)%n]
			h.progress(sc.Name, m.Name(), k)
			rs, cmdline := h.runOnce(ctx, sc, m, k)
			rs.Order = i + 1
			mr := results[m.Name()]
			mr.Runs = append(mr.Runs, rs)
			if cmdline != "" {
				mr.Command = cmdline
			}
			h.done++
			if err := ctx.Err(); err != nil {
				finish()
				return sr, err
			}
		}
	}
	finish()
	return sr, nil
}

// runOnce is one run of sc in mode m: fresh branches, prepared files, the
// mode set up, the worker run, the mode torn down, everything removed.
func (h *harness) runOnce(ctx context.Context, sc Scenario, m Mode, k int) (rs RunSample, setupCmd string) {
	rs.Run = k
	fail := func(err error) (RunSample, string) {
		rs.Error = err.Error()
		return rs, setupCmd
	}
	run := filepath.Join(h.root, sc.Name, fmt.Sprintf("%s-%d", m.Name(), k))
	if !h.cfg.Keep {
		defer os.RemoveAll(run)
	}
	branches, err := h.layout(run, m)
	if err != nil {
		return fail(err)
	}
	if sc.prepare != nil {
		if err := sc.prepare(branches, h.shared); err != nil {
			return fail(fmt.Errorf("preparing the branches: %w", err))
		}
	}
	// Write back what preparation left dirty, so that it is not written
	// during the timed run.
	unix.Sync()
	env, err := m.Setup(ctx, branches, h.cfg.Options)
	if err != nil {
		return fail(err)
	}
	setupCmd = env.Command
	if env.Teardown != nil {
		defer func() {
			// A teardown problem (a server slow to exit, a mount left
			// busy) does not void a measurement already taken: it is
			// reported beside it.
			if err := env.Teardown(context.WithoutCancel(ctx)); err != nil {
				rs.Teardown = err.Error()
			}
		}()
	}
	aux := filepath.Join(run, "aux")
	if sc.setup != nil {
		if err := h.setupPhase(ctx, sc, env, aux); err != nil {
			return fail(err)
		}
		if env.StatsFile != "" {
			os.Remove(env.StatsFile) // the timed worker's supervisor writes its own
		}
	}
	if err := h.worker(ctx, sc, env, branches, aux, &rs, PhaseTimed); err != nil {
		return fail(err)
	}
	if rs.Trapped != nil {
		if b := h.baselines[m.Name()]; b != nil {
			net := rs.Trapped.minus(*b)
			rs.TrappedNet = &net
		}
	}
	return rs, setupCmd
}

// setupPhase runs the scenario's untimed setup in a worker of its own,
// through the pool and under the mode's prefix (worker.go says why).
func (h *harness) setupPhase(ctx context.Context, sc Scenario, env Env, aux string) error {
	argv := append(append(append(append([]string{}, h.cfg.pinPrefix()...), env.Prefix...), h.workerArgv(sc, env.Dir, aux)...), "--phase", PhaseSetup)
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	groupKill(cmd)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), env.ExtraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("the untimed setup did not finish within %s (--timeout); killed with everything it started [%s]", h.cfg.Timeout, shellJoin(argv))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		l, _ := parseWorkerLine(line)
		switch l.Kind {
		case "error":
			return fmt.Errorf("worker: %s", l.Msg)
		case "done":
			if err == nil {
				return nil
			}
		}
	}
	if err == nil {
		err = errors.New("exited without saying DONE")
	}
	return fmt.Errorf("worker (setup): %v: %s [%s]", err, trimForError(errb.String()), shellJoin(argv))
}

// workerArgv is the worker's command line after the mode's prefix, without
// --phase.
func (h *harness) workerArgv(sc Scenario, dir, aux string) []string {
	return []string{h.cfg.Self, WorkerCommand, "--scenario", sc.Name, "--dir", dir, "--aux", aux, "--shared", h.shared}
}

// worker starts the worker under the mode's prefix, drives the protocol
// (worker.go) and samples the server around the timed run.
func (h *harness) worker(ctx context.Context, sc Scenario, env Env, branches []string, aux string, rs *RunSample, phase string) error {
	argv := append(append(append(append([]string{}, h.cfg.pinPrefix()...), env.Prefix...), h.workerArgv(sc, env.Dir, aux)...), "--phase", phase)
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// A timeout kills the process group: the `mfs run` supervisor, the
	// worker and whatever tool it is waiting for.
	groupKill(cmd)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), env.ExtraEnv...)
	logPath := filepath.Join(filepath.Dir(aux), "worker.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the worker: %w", err)
	}
	lines := make(chan workerLine, 4)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 256<<20) // a result line carries every latency
		for sc.Scan() {
			l, err := parseWorkerLine(sc.Text())
			if err != nil {
				l = workerLine{Kind: "error", Msg: err.Error()}
			}
			if l.Kind != "" {
				lines <- l
			}
		}
	}()
	wait := func() error {
		stdin.Close()
		for range lines {
		}
		return cmd.Wait()
	}
	// next waits for the next protocol line; a worker that died instead is
	// explained by its exit status and the tail of its standard error.
	next := func(want string) (workerLine, error) {
		l, ok := <-lines
		if ok && l.Kind == want {
			return l, nil
		}
		werr := wait()
		log, _ := os.ReadFile(logPath)
		if ok && l.Kind == "error" {
			return l, fmt.Errorf("worker: %s", l.Msg)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return l, fmt.Errorf("worker (waiting for %s): no answer within %s (--timeout); killed with its server-side process group [%s]", want, h.cfg.Timeout, shellJoin(argv))
		}
		if werr == nil {
			werr = errors.New("exited")
		}
		return l, fmt.Errorf("worker (waiting for %s): %v: %s [%s]", want, werr, trimForError(string(log)), shellJoin(argv))
	}
	ready, err := next("ready")
	if err != nil {
		return err
	}
	pid := env.ServerPID
	if env.PrefixServes {
		pid = cmd.Process.Pid
	}
	var wperf, sperf *PerfSet
	if h.cfg.Perf {
		wpid, err := cmd.Process.Pid, error(nil)
		if ready.PID != 0 {
			wpid, err = hostPID(cmd.Process.Pid, ready.PID)
		}
		// Inherited: the worker's later threads and the tools it runs count
		// too, folded in as they exit; read once the worker has exited.
		if err == nil {
			wperf, err = OpenPerf(wpid, true)
		}
		if err != nil {
			rs.Notes = addNote(rs.Notes, "perf_error", "worker: "+err.Error())
		}
		defer wperf.Close()
	}
	if sc.Cold {
		how, err := dropCaches(branches)
		if err != nil {
			wait()
			return fmt.Errorf("dropping the page cache (%s): %w", how, err)
		}
		h.report.Meta.CacheDrop = how
	}
	var disk0 [2]int64
	var diskErr error
	if h.disk != nil {
		disk0[0], disk0[1], diskErr = h.disk.sample()
	}
	var srv *ServerSample
	if pid > 0 {
		if h.cfg.Perf {
			if sperf, err = OpenPerf(pid, false); err != nil {
				rs.Notes = addNote(rs.Notes, "perf_error", "server: "+err.Error())
			}
			defer sperf.Close()
		}
		srv = &ServerSample{PID: pid, Before: readProc(pid)}
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		wait()
		return fmt.Errorf("starting the timed run: %w", err)
	}
	l, err := next("result")
	if err != nil {
		return err
	}
	if srv != nil {
		srv.After = readProc(pid)
		if sperf != nil {
			c := sperf.Read()
			rs.ServerPerf = &c
		}
	}
	if h.disk != nil && diskErr == nil {
		var r, w int64
		if r, w, diskErr = h.disk.sample(); diskErr == nil {
			rs.Disk = &DiskIO{Device: h.disk.name, ReadBytes: r - disk0[0], WriteBytes: w - disk0[1]}
		}
	}
	if diskErr != nil {
		rs.Notes = addNote(rs.Notes, "disk_error", diskErr.Error())
	}
	if err := wait(); err != nil {
		log, _ := os.ReadFile(logPath)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("worker: no exit within %s (--timeout) after its result; killed: %s", h.cfg.Timeout, trimForError(string(log)))
		}
		return fmt.Errorf("worker exit after its result: %v: %s", err, trimForError(string(log)))
	}
	if wperf != nil {
		c := wperf.Read()
		rs.WorkerPerf = &c
		h.notePerf(c)
	}
	r := l.Result
	rs.WallNS, rs.UserNS, rs.SysNS, rs.Units = r.WallNS, r.UserNS, r.SysNS, r.Units
	rs.LatNS, rs.WorkerRSS, rs.CPUs, rs.CtxSwitches = r.LatNS, r.MaxRSSKiB, r.CPUs, &r.CtxSwitches
	for k, v := range r.Notes {
		rs.Notes = addNote(rs.Notes, k, v)
	}
	rs.Server = srv
	if env.StatsFile != "" {
		if b, err := os.ReadFile(env.StatsFile); err == nil {
			if st, err := parseRunStats(b); err == nil {
				rs.Trapped = &st
			}
		}
	}
	return nil
}

// notePerf says in the report's header, once, what --perf counted and
// what the machine would not count.
func (h *harness) notePerf(c PerfCounts) {
	if h.report.Meta.Perf != "" {
		return
	}
	m := "perf_event_open: the worker's threads and the tools it runs (inherited) from READY until it exits, the server's threads over the timed run"
	if c.UserOnly {
		m += "; user mode only (perf_event_paranoid or permissions)"
	}
	var out []string
	for _, ev := range perfEvents {
		if why, ok := c.Unavailable[ev.name]; ok {
			out = append(out, ev.name+": "+why)
		}
	}
	if len(out) > 0 {
		m += "; not counted: " + strings.Join(out, "; ")
	}
	h.report.Meta.Perf = m
}

// progress shows where the bench is, with an ETA from the average run so far.
func (h *harness) progress(scenario, mode string, k int) {
	eta := "?"
	if h.done > 0 {
		per := time.Since(h.start) / time.Duration(h.done)
		eta = (per * time.Duration(h.total-h.done)).Round(time.Second).String()
	}
	h.status(fmt.Sprintf("[%d/%d] %s mode=%s run %d/%d ETA %s", h.done+1, h.total, scenario, mode, k, h.cfg.Runs, eta))
}

// status replaces the progress line on a terminal, or prints a line.
func (h *harness) status(s string) {
	if h.prog == nil {
		return
	}
	if h.tty {
		fmt.Fprintf(h.prog, "\r\033[K%s", s)
		return
	}
	fmt.Fprintln(h.prog, s)
}

func (h *harness) clearStatus() {
	if h.prog != nil && h.tty {
		fmt.Fprint(h.prog, "\r\033[K")
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// meta describes the machine and the invocation.
func (h *harness) meta(dropped []string) Meta {
	c := h.cfg
	m := Meta{
		Date:       time.Now().UTC().Truncate(time.Second),
		Command:    shellJoin(c.Args),
		Kernel:     kernelRelease(),
		CPUs:       onlineCPUs(),
		CPUModel:   cpuModel(),
		Pinned:     c.Pin,
		MFSVersion: c.MFSVersion,
		WorkDir:    h.root,
		WorkDirFS:  fsTypeOf(h.root),
		Branches:   c.Branches,
		Runs:       c.Runs,
		Quick:      c.Quick,
		Dropped:    dropped,
		Noise:      c.Noise,
		Options:    append(append([]string{}, EquivalentOptions...), c.Options...),
		RatioNote:  "ratio = mode time / reference time (median wall time of the timed run): >1 is slower than the reference, <1 faster",
		WorkerCmd: strings.TrimSpace(shellJoin(c.pinPrefix())+" [MODE PREFIX] ") + " " +
			shellJoin([]string{c.Self, WorkerCommand, "--scenario", "NAME", "--dir", "DIR", "--aux", "AUX", "--shared", "SHARED"}) + "   (add --standalone to run one by hand)",
		Interleave: "each run k goes through every mode once, the mode order rotated by k-1",
	}
	if c.Pin == "" {
		m.PinNote = "not pinned: the worker and the server may sit on different CPUs (a cross-CPU wake-up costs ~60 µs on this class of VM against ~3 µs on one CPU)"
	} else {
		m.PinNote = "pinned: worker and server under taskset -c " + c.Pin + " (the worker's reported affinity is in the JSON)"
	}
	if len(m.Command) == 0 {
		m.Command = "mfs bench"
	}
	return m
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err == nil {
		if l, err := parseCPUList(string(b)); err == nil && len(l) > 0 {
			return len(l)
		}
	}
	return 0
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fsTypeOf is the type of the file system holding dir, from mountinfo.
func fsTypeOf(dir string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	best, fstype := -1, ""
	for _, m := range parseMountinfo(string(b)) {
		if (dir == m.Point || strings.HasPrefix(dir, strings.TrimSuffix(m.Point, "/")+"/")) && len(m.Point) >= best {
			best, fstype = len(m.Point), m.FSType
		}
	}
	return fstype
}

func mergerfsVersion(bin string) string {
	if bin == "" {
		bin = "mergerfs"
	}
	out, _ := exec.Command(bin, "-V").CombinedOutput()
	return parseMergerfsVersion(string(out))
}
