package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WorkerCommand is the hidden subcommand the harness re-executes the mfs
// binary as. It is not meant to be typed, but it can be: with --standalone
// it skips the handshake and prints its result.
const WorkerCommand = "__bench-worker"

// The worker protocol, one line each way over the worker's standard input
// and output (other output lines are ignored, so a wrapper such as
// `mfs run` may print its own):
//
//	worker  → harness   MFSBENCH READY PID        setup done, nothing timed yet
//	harness → worker    go                        (the harness samples the server first)
//	worker  → harness   MFSBENCH RESULT {json}    the timed run is over
//	harness → worker    (closes stdin)            after sampling the server again
//	worker  → harness   MFSBENCH ERROR message    instead of READY or RESULT
//
// Holding the worker until stdin closes keeps the serving process of `mfs
// run` (the worker's parent) alive while the harness reads its /proc figures.
//
// A scenario with an untimed setup (warming the page cache, the first copy
// of a no-op rsync) runs it in a worker of its own first (--phase setup,
// which prints MFSBENCH DONE and exits), and the timed worker skips it
// (--phase timed). So the process that is timed does the same in every
// scenario and mode, and under `mfs run` the supervisor's counters (written
// when its workload exits) cover the timed run and the worker's start only;
// --phase none, a worker that starts, says READY, gets go and reports an
// empty result, measures that start once per bench (the baseline that is
// subtracted).
const (
	lineReady  = "MFSBENCH READY"
	lineResult = "MFSBENCH RESULT "
	lineError  = "MFSBENCH ERROR "
	lineDone   = "MFSBENCH DONE"
)

// Worker phases (--phase).
const (
	PhaseAll   = "all"   // setup, then the handshake and the timed run (the default; by hand)
	PhaseSetup = "setup" // the untimed setup only, then DONE
	PhaseTimed = "timed" // the handshake and the timed run, no setup
	PhaseNone  = "none"  // the handshake and an empty timed run: the start-up baseline
)

// WorkerArgs are the worker's flags.
type WorkerArgs struct {
	Scenario   string // scenario name
	Dir        string // directory to act on: the pool root or the native directory
	Aux        string // scratch directory outside the pool
	Shared     string // shared read-only inputs (source trees)
	Standalone bool   // no handshake: run at once and print the result
	Phase      string // PhaseAll ("" too), PhaseSetup, PhaseTimed or PhaseNone
	// Loop, instead of a scenario, repeats one operation N times in Dir and
	// prints the time per call (oploop.go; BenchmarkOp).
	Loop string
	N    int
}

// WorkerResult is what the worker reports about the timed run.
type WorkerResult struct {
	Scenario  string  `json:"scenario"`
	Units     float64 `json:"units"`      // work done, in the scenario's unit
	WallNS    int64   `json:"wall_ns"`    // monotonic time of the timed run
	UserNS    int64   `json:"user_ns"`    // CPU time of the worker and of the tools it waited for
	SysNS     int64   `json:"sys_ns"`     //
	MaxRSSKiB int64   `json:"maxrss_kib"` // the worker's own peak RSS
	// CtxSwitches is the voluntary and involuntary context switches of the
	// worker's threads and of the tools it waited for, over the timed run.
	CtxSwitches int64             `json:"ctx_switches"`
	LatNS       []int64           `json:"lat_ns"`       // every operation's latency, in the order recorded
	CPUs        string            `json:"cpus_allowed"` // the worker's CPU affinity (shows pinning took effect)
	Notes       map[string]string `json:"notes,omitempty"`
}

// Worker runs one scenario's workload in this process and reports over out,
// following the protocol above.
func Worker(ctx context.Context, a WorkerArgs, in io.Reader, out io.Writer) error {
	err := worker(ctx, a, in, out)
	if err != nil {
		fmt.Fprintf(out, "%s%s\n", lineError, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return err
}

func worker(ctx context.Context, a WorkerArgs, in io.Reader, out io.Writer) error {
	if a.Loop != "" {
		if a.Dir == "" {
			return errors.New("--dir is required")
		}
		return runLoop(a.Loop, a.N, a.Dir, out)
	}
	sc, ok := Lookup(a.Scenario)
	if !ok {
		return fmt.Errorf("unknown scenario %q (see 'mfs bench --list')", a.Scenario)
	}
	if a.Dir == "" {
		return errors.New("--dir is required")
	}
	phase := a.Phase
	if phase == "" {
		phase = PhaseAll
	}
	switch phase {
	case PhaseAll, PhaseSetup, PhaseTimed, PhaseNone:
	default:
		return fmt.Errorf("unknown --phase %q; valid: %s, %s, %s, %s", phase, PhaseAll, PhaseSetup, PhaseTimed, PhaseNone)
	}
	e := &workerEnv{Dir: a.Dir, Aux: a.Aux, Shared: a.Shared}
	if sc.setup != nil && (phase == PhaseAll || phase == PhaseSetup) {
		if err := sc.setup(e); err != nil {
			return fmt.Errorf("setup of %s: %w", sc.Name, err)
		}
	}
	if phase == PhaseSetup {
		fmt.Fprintln(out, lineDone)
		return nil
	}
	e.lat, e.notes = nil, nil
	rd := bufio.NewReader(in)
	if !a.Standalone {
		// The pid lets the harness count this process's CPU events (--perf)
		// when a wrapper such as `mfs run` started it.
		fmt.Fprintf(out, "%s %d\n", lineReady, os.Getpid())
		line, err := rd.ReadString('\n')
		if strings.TrimSpace(line) != "go" {
			return fmt.Errorf("waiting for the harness: got %q (%v)", line, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var self0, kids0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &self0)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &kids0)
	t0 := time.Now()
	var units float64
	var err error
	if phase != PhaseNone {
		units, err = sc.run(e)
	}
	wall := time.Since(t0)
	var self1, kids1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &self1)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &kids1)
	if err != nil {
		return fmt.Errorf("%s: %w", sc.Name, err)
	}
	res := WorkerResult{
		Scenario:  sc.Name,
		Units:     units,
		WallNS:    int64(wall),
		UserNS:    tvNS(self1.Utime) - tvNS(self0.Utime) + tvNS(kids1.Utime) - tvNS(kids0.Utime),
		SysNS:     tvNS(self1.Stime) - tvNS(self0.Stime) + tvNS(kids1.Stime) - tvNS(kids0.Stime),
		MaxRSSKiB: self1.Maxrss,
		CtxSwitches: self1.Nvcsw - self0.Nvcsw + self1.Nivcsw - self0.Nivcsw +
			kids1.Nvcsw - kids0.Nvcsw + kids1.Nivcsw - kids0.Nivcsw,
		LatNS: e.lat,
		CPUs:  cpusAllowed(),
		Notes: e.notes,
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s%s\n", lineResult, b)
	if !a.Standalone {
		io.Copy(io.Discard, rd) // hold until the harness closes stdin
	}
	return nil
}

func tvNS(tv unix.Timeval) int64 { return tv.Sec*1e9 + tv.Usec*1e3 }

// cpusAllowed is this process's Cpus_allowed_list.
func cpusAllowed() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// workerLine is one parsed line of worker output.
type workerLine struct {
	Kind   string // "ready", "result", "error", "done" or "" for a line outside the protocol
	PID    int    // the worker's pid, with "ready" (0 from a worker that does not say)
	Result *WorkerResult
	Msg    string
}

// parseWorkerLine parses one line of the worker's standard output.
func parseWorkerLine(line string) (workerLine, error) {
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == lineReady:
		return workerLine{Kind: "ready"}, nil
	case strings.HasPrefix(line, lineReady+" "):
		pid, err := strconv.Atoi(line[len(lineReady)+1:])
		if err != nil || pid <= 0 {
			return workerLine{}, fmt.Errorf("worker: bad pid in %q", line)
		}
		return workerLine{Kind: "ready", PID: pid}, nil
	case strings.HasPrefix(line, lineResult):
		var r WorkerResult
		if err := json.Unmarshal([]byte(line[len(lineResult):]), &r); err != nil {
			return workerLine{}, fmt.Errorf("worker result: %w", err)
		}
		return workerLine{Kind: "result", Result: &r}, nil
	case strings.HasPrefix(line, lineError):
		return workerLine{Kind: "error", Msg: line[len(lineError):]}, nil
	case line == lineDone:
		return workerLine{Kind: "done"}, nil
	}
	return workerLine{Msg: line}, nil
}
