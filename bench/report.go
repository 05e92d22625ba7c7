package bench

import (
	"encoding/json"
	"os"
	"slices"
	"time"
)

// Report is everything one `mfs bench` found: written whole by --json, and
// the input of the text and HTML reports.
type Report struct {
	Meta      Meta             `json:"meta"`
	Modes     []ModeInfo       `json:"modes"`
	Scenarios []ScenarioReport `json:"scenarios"`
}

// Meta describes the machine and the invocation.
type Meta struct {
	Date       time.Time `json:"date"`
	Command    string    `json:"command"`     // the command line, to reproduce the run
	Kernel     string    `json:"kernel"`      // uname -r
	CPUs       int       `json:"cpus"`        // online CPUs
	CPUModel   string    `json:"cpu_model"`   // /proc/cpuinfo model name
	Pinned     string    `json:"pinned"`      // the taskset CPU list, "" when unpinned
	PinNote    string    `json:"pin_note"`    // what pinning means for the figures
	MFSVersion string    `json:"mfs_version"` //
	Mergerfs   string    `json:"mergerfs_version,omitempty"`
	WorkDir    string    `json:"workdir"`
	WorkDirFS  string    `json:"workdir_fs"` // file system type under the branches
	Branches   int       `json:"branches"`
	Runs       int       `json:"runs"`
	Quick      bool      `json:"quick"`
	Dropped    []string  `json:"dropped,omitempty"` // scenarios --quick left out
	Noise      float64   `json:"noise_threshold"`
	Options    []string  `json:"options"`        // options given to mount, mount-passthrough and mergerfs
	RatioNote  string    `json:"ratio_note"`     // how ratios read
	WorkerCmd  string    `json:"worker_cmd"`     // the worker command template
	Duration   float64   `json:"duration_s"`     // how long the bench took
	CacheDrop  string    `json:"cache_drop"`     // how cold runs emptied the page cache
	Disk       string    `json:"disk"`           // how disk I/O was counted, or why it was not
	Perf       string    `json:"perf,omitempty"` // with --perf: what was counted and what could not be
	Interleave string    `json:"interleave"`     // how modes were ordered
	// CProbe is the C-probe's seccomp round trip (cprobe.go), measured when
	// the run mode is.
	CProbe *RoundTrip `json:"c_probe,omitempty"`
	// CProbeUnpinned is the same probe unpinned, run when the bench is
	// unpinned: not the floor, shown for information.
	CProbeUnpinned *RoundTrip `json:"c_probe_unpinned,omitempty"`
}

// ModeInfo is a mode's availability on this machine.
type ModeInfo struct {
	Name    string `json:"name"`
	Status  string `json:"status"` // "ok" or "unavailable"
	Reason  string `json:"reason,omitempty"`
	Command string `json:"command,omitempty"` // the setup command of its probe, paths as in that probe
	// Notes are warnings the server logged during the probe (an option it
	// overrode, a feature it could not use).
	Notes []string `json:"notes,omitempty"`
	// Baseline (run) is the supervisor's counters for a worker that starts,
	// does the handshake and nothing else: the run with the median count of
	// BaselineRuns. Each run's counters less this are its TrappedNet.
	Baseline     *RunStats `json:"baseline,omitempty"`
	BaselineRuns []uint64  `json:"baseline_notifications,omitempty"`
}

// ScenarioReport holds one scenario's results in every mode.
type ScenarioReport struct {
	Scenario ScenarioInfo `json:"scenario"`
	Skipped  string       `json:"skipped,omitempty"` // why the scenario did not run (a tool is missing)
	Results  []ModeResult `json:"results"`
}

// ModeResult is one scenario in one mode: every run, and their summary.
type ModeResult struct {
	Mode    string      `json:"mode"`
	Status  string      `json:"status"` // "ok", "unavailable", "failed"
	Reason  string      `json:"reason,omitempty"`
	Command string      `json:"command,omitempty"` // setup command of the last run
	Runs    []RunSample `json:"runs"`
	Summary *Summary    `json:"summary,omitempty"`
}

// RunSample is one run: the worker's figures and the server's.
type RunSample struct {
	Run       int     `json:"run"`   // 1..K
	Order     int     `json:"order"` // position among the modes in this run's interleaving
	Error     string  `json:"error,omitempty"`
	Teardown  string  `json:"teardown_error,omitempty"` // what went wrong after the measurement
	WallNS    int64   `json:"wall_ns"`
	UserNS    int64   `json:"user_ns"`
	SysNS     int64   `json:"sys_ns"`
	Units     float64 `json:"units"`
	LatNS     []int64 `json:"lat_ns"`
	WorkerRSS int64   `json:"worker_maxrss_kib"`
	// CtxSwitches is the worker's (and its tools') context switches; nil in
	// reports made before it was recorded.
	CtxSwitches *int64 `json:"worker_ctx_switches,omitempty"`
	// Disk is the traffic of the device under the branches (disk.go).
	Disk *DiskIO `json:"disk,omitempty"`
	// WorkerPerf and ServerPerf are the CPU events counted with --perf
	// (perfcount.go).
	WorkerPerf *PerfCounts       `json:"worker_perf,omitempty"`
	ServerPerf *PerfCounts       `json:"server_perf,omitempty"`
	CPUs       string            `json:"worker_cpus_allowed"`
	Notes      map[string]string `json:"notes,omitempty"`
	Server     *ServerSample     `json:"server,omitempty"`
	// Trapped is the supervisor's counters for the timed worker (its start
	// included); TrappedNet the same less the mode's start-up baseline,
	// what trapped/op and the C-probe floor use.
	Trapped    *RunStats `json:"trapped,omitempty"`
	TrappedNet *RunStats `json:"trapped_net,omitempty"`
}

// addNote sets notes[k] = v, making the map when there is none.
func addNote(notes map[string]string, k, v string) map[string]string {
	if notes == nil {
		notes = map[string]string{}
	}
	notes[k] = v
	return notes
}

// trapped is the run's counters for the timed workload: net of the
// start-up baseline when there is one.
func (r *RunSample) trapped() *RunStats {
	if r.TrappedNet != nil {
		return r.TrappedNet
	}
	return r.Trapped
}

// ServerSample is the serving process over the timed run.
type ServerSample struct {
	PID    int        `json:"pid"`
	Before ProcSample `json:"before"`
	After  ProcSample `json:"after"`
}

// CPUNS is the server's CPU time during the timed run: the nanosecond
// schedstat figure of its threads when both samples have it and no thread
// exited in between (the sum would then drop), else utime+stime from
// /proc/PID/stat, which counts exited threads but in 10 ms ticks. -1 when
// the process could not be read.
func (s *ServerSample) CPUNS() int64 {
	if s == nil || !s.Before.Readable || !s.After.Readable {
		return -1
	}
	if d := s.After.SchedNS - s.Before.SchedNS; s.Before.SchedNS > 0 && d >= 0 && s.After.Threads >= s.Before.Threads {
		return d
	}
	return s.After.CPUNS - s.Before.CPUNS
}

// CtxSwitches is the server's context switches during the timed run, from
// its live threads; -1 when unreadable, when a thread exited in between
// (its switches would be lost from the sum) or when not recorded.
func (s *ServerSample) CtxSwitches() int64 {
	if s == nil || !s.Before.Readable || !s.After.Readable || s.After.Threads < s.Before.Threads {
		return -1
	}
	if s.After.CtxSwitches == 0 {
		return -1 // a report made before they were recorded: a live server has switched
	}
	return s.After.CtxSwitches - s.Before.CtxSwitches
}

// Summary condenses a mode's K runs. Times are seconds; latencies are
// pooled over every operation of every run.
type Summary struct {
	Runs          int     `json:"runs"` // successful runs
	Wall          Spread  `json:"wall_s"`
	Throughput    Spread  `json:"throughput"` // units per second
	WorkerCPU     Spread  `json:"worker_cpu_s"`
	ServerCPU     *Spread `json:"server_cpu_s,omitempty"`
	ServerPeakKiB *Spread `json:"server_peak_rss_kib,omitempty"`
	TrappedPerOp  *Spread `json:"trapped_per_op,omitempty"`
	// WorkerCtxPerOp and ServerCtxPerOp are context switches per op of the
	// worker (with its tools) and of the serving process: with round trips
	// to a daemon or supervisor, the cost these modes add.
	WorkerCtxPerOp *Spread `json:"worker_ctx_switches_per_op,omitempty"`
	ServerCtxPerOp *Spread `json:"server_ctx_switches_per_op,omitempty"`
	// DiskReadB and DiskWriteB are bytes the device under the branches
	// read and wrote per run (DiskIO).
	DiskReadB  *Spread `json:"disk_read_bytes,omitempty"`
	DiskWriteB *Spread `json:"disk_write_bytes,omitempty"`
	// ServerAnonKiB and ServerFileKiB are the server's private and mapped
	// file memory after the run (ProcSample): a Go server's peak RSS is
	// mostly pages of its binary.
	ServerAnonKiB *Spread `json:"server_rss_anon_kib,omitempty"`
	ServerFileKiB *Spread `json:"server_rss_file_kib,omitempty"`
	// With --perf (PerfCounts): cycles per op and instructions per cycle of
	// the worker (with its tools) and of the serving process, and cache
	// and branch misses per op of both together.
	WorkerCyclesPerOp *Spread `json:"worker_cycles_per_op,omitempty"`
	ServerCyclesPerOp *Spread `json:"server_cycles_per_op,omitempty"`
	WorkerIPC         *Spread `json:"worker_ipc,omitempty"`
	ServerIPC         *Spread `json:"server_ipc,omitempty"`
	CacheMissPerOp    *Spread `json:"cache_misses_per_op,omitempty"`
	BranchMissPerOp   *Spread `json:"branch_misses_per_op,omitempty"`
	// TrappedExtraS (run, with the C-probe) is the round-trip overhead the
	// probe predicts for each run's trapped calls, in seconds; FloorS is
	// native median time + its median, and VsFloor median time / FloorS.
	TrappedExtraS *Spread `json:"trapped_extra_s,omitempty"`
	FloorS        float64 `json:"floor_s,omitempty"`
	VsFloor       float64 `json:"ratio_floor,omitempty"`
	Latency       Latency `json:"latency"`
	VsNative      float64 `json:"ratio_native,omitempty"`   // median wall / native median wall
	VsMergerfs    float64 `json:"ratio_mergerfs,omitempty"` // median wall / mergerfs median wall
	Noisy         bool    `json:"noisy,omitempty"`
}

// summarize computes a mode's summary from its successful runs.
func summarize(runs []RunSample, noise float64) *Summary {
	var wall, thr, wcpu, scpu, srss, trap, wctx, sctx, dread, dwrite []float64
	var wcyc, scyc, wipc, sipc, cmiss, bmiss, sanon, sfile []float64
	var lat []int64
	n := 0
	for _, r := range runs {
		if r.Error != "" {
			continue
		}
		n++
		w := time.Duration(r.WallNS)
		wall = append(wall, w.Seconds())
		thr = append(thr, Throughput(r.Units, w))
		wcpu = append(wcpu, float64(r.UserNS+r.SysNS)/1e9)
		if c := r.Server.CPUNS(); c >= 0 {
			scpu = append(scpu, float64(c)/1e9)
			srss = append(srss, float64(r.Server.After.VmHWMKiB))
			if a := r.Server.After; a.RssAnonKiB+a.RssFileKiB > 0 { // absent from older reports
				sanon, sfile = append(sanon, float64(a.RssAnonKiB)), append(sfile, float64(a.RssFileKiB))
			}
		}
		if ops := float64(len(r.LatNS)); ops > 0 {
			if t := r.trapped(); t != nil {
				trap = append(trap, float64(t.Notifications)/ops)
			}
			if r.CtxSwitches != nil {
				wctx = append(wctx, float64(*r.CtxSwitches)/ops)
			}
			if c := r.Server.CtxSwitches(); c >= 0 {
				sctx = append(sctx, float64(c)/ops)
			}
			if w := r.WorkerPerf; w != nil {
				wcyc, wipc = appendIf(wcyc, w.Cycles >= 0, float64(w.Cycles)/ops), appendIf(wipc, w.IPC() > 0, w.IPC())
				cm, bm := w.CacheMisses, w.BranchMisses
				if sp := r.ServerPerf; sp != nil {
					scyc, sipc = appendIf(scyc, sp.Cycles >= 0, float64(sp.Cycles)/ops), appendIf(sipc, sp.IPC() > 0, sp.IPC())
					cm, bm = sumCounts(cm, sp.CacheMisses), sumCounts(bm, sp.BranchMisses)
				}
				cmiss, bmiss = appendIf(cmiss, cm >= 0, float64(cm)/ops), appendIf(bmiss, bm >= 0, float64(bm)/ops)
			}
		}
		if r.Disk != nil {
			dread, dwrite = append(dread, float64(r.Disk.ReadBytes)), append(dwrite, float64(r.Disk.WriteBytes))
		}
		lat = append(lat, r.LatNS...)
	}
	if n == 0 {
		return nil
	}
	s := &Summary{Runs: n, Wall: Median(wall), Throughput: Median(thr), WorkerCPU: Median(wcpu), Latency: Summarize(lat)}
	if len(scpu) > 0 {
		a, b := Median(scpu), Median(srss)
		s.ServerCPU, s.ServerPeakKiB = &a, &b
	}
	s.TrappedPerOp, s.WorkerCtxPerOp, s.ServerCtxPerOp = medianOrNil(trap), medianOrNil(wctx), medianOrNil(sctx)
	s.DiskReadB, s.DiskWriteB = medianOrNil(dread), medianOrNil(dwrite)
	s.ServerAnonKiB, s.ServerFileKiB = medianOrNil(sanon), medianOrNil(sfile)
	s.WorkerCyclesPerOp, s.ServerCyclesPerOp = medianOrNil(wcyc), medianOrNil(scyc)
	s.WorkerIPC, s.ServerIPC = medianOrNil(wipc), medianOrNil(sipc)
	s.CacheMissPerOp, s.BranchMissPerOp = medianOrNil(cmiss), medianOrNil(bmiss)
	s.Noisy = s.Wall.Noisy(noise)
	return s
}

func appendIf(xs []float64, ok bool, x float64) []float64 {
	if ok {
		return append(xs, x)
	}
	return xs
}

// sumCounts adds two perf counts, -1 (not counted) when either is.
func sumCounts(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}

// medianOrNil is Median of xs, or nil when there are none.
func medianOrNil(xs []float64) *Spread {
	if len(xs) == 0 {
		return nil
	}
	m := Median(xs)
	return &m
}

// addFloor sets TrappedExtraS from the successful runs' trapped calls and
// the C-probe's round trips (cprobe.go); fillRatios turns it into a floor.
func (s *Summary) addFloor(runs []RunSample, rtt *RoundTrip) {
	var extra []float64
	for _, r := range runs {
		if t := r.trapped(); r.Error == "" && t != nil {
			extra = append(extra, rtt.ExtraNS(*t)/1e9)
		}
	}
	if len(extra) > 0 {
		m := Median(extra)
		s.TrappedExtraS = &m
	}
}

// fillRatios sets every mode's ratio to native and to mergerfs, and the
// floor of a mode with trapped calls.
func (sr *ScenarioReport) fillRatios() {
	ref := func(name string) float64 {
		for _, r := range sr.Results {
			if r.Mode == name && r.Summary != nil {
				return r.Summary.Wall.Median
			}
		}
		return 0
	}
	nat, mfs := ref(ModeNative), ref(ModeMergerfs)
	for i := range sr.Results {
		if s := sr.Results[i].Summary; s != nil {
			s.VsNative = Ratio(s.Wall.Median, nat)
			s.VsMergerfs = Ratio(s.Wall.Median, mfs)
			if s.TrappedExtraS != nil && nat > 0 {
				s.FloorS = nat + s.TrappedExtraS.Median
				s.VsFloor = Ratio(s.Wall.Median, s.FloorS)
			}
		}
	}
}

// pooledSorted returns every latency sample of the successful runs, sorted.
func (mr *ModeResult) pooledSorted() []int64 {
	var all []int64
	for _, r := range mr.Runs {
		if r.Error == "" {
			all = append(all, r.LatNS...)
		}
	}
	slices.Sort(all)
	return all
}

// WriteJSON writes r to path, indented.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
