package bench

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The C-probe: the floor of a seccomp user-notification round trip, with a
// C target and a C supervisor (cprobe/rtt.c, embedded here and compiled
// with the machine's cc when the bench starts). The project holds `mfs run`
// to "within 1.3× of trapped calls per operation × the C-probe round trip"
// (issue 6), so every report that has a `run` mode states the probe's
// figures, measured in the same bench as the scenarios, and a floor for each
// `run` result. The floor is measured with the probe pinned to one CPU (the
// bench's --pin CPU, else the first this process may use), whether or not
// the bench is pinned: a floor is the best case, and unpinned an emulated
// open is bimodal (ADDFD does not use the sync wake-up, so the target is
// sometimes woken on the other CPU: ~6 µs or ~60-90 µs per call, run to
// run). An unpinned bench also runs the probe unpinned and prints it beside,
// for information.
//
//	floor = native time + Σ over the trapped calls of the timed run of
//	        (C round trip of that kind − the same call made natively)
//
// where a kind is "continue" (a CONTINUEd call: a path-read CONTINUE minus
// a native stat), "open" (an emulated call of the open family: emulated
// open+close minus a native open+close) or "stat" (any other emulated call:
// emulated stat minus a native stat). ×floor = run time / floor: 1.0 would
// be a supervisor that costs nothing beyond the kernel's own notification
// path and the least work of a union supervisor.
//
// That least work is priced as the probe measures it with a MISS path: an
// emulated stat or open looks a name up that is not there first (the probe's
// stat-miss and open-miss), because a file spread over three branches and
// searched first-found (ff) is missed on one branch on average; and a
// CONTINUE reads the path first (path-continue), because a union supervisor
// cannot tell a call outside its unions without it. The probe's bare
// CONTINUE and single-lookup stat and open are reported beside, and stand in
// for these in an old report that lacks them.

//go:embed cprobe/rtt.c
var rttSource []byte

// RoundTrip is what the C-probe measured: nanoseconds per call, medians of
// its runs.
type RoundTrip struct {
	NativeStatNS float64 `json:"native_stat_ns"` // newfstatat without a filter
	NativeOpenNS float64 `json:"native_open_ns"` // openat+close without a filter
	ContinueNS   float64 `json:"continue_ns"`    // newfstatat answered CONTINUE, the path not read
	// PathContinueNS: newfstatat answered CONTINUE after reading its path.
	PathContinueNS float64 `json:"path_continue_ns,omitempty"`
	StatNS         float64 `json:"stat_ns"` // newfstatat emulated (read path, ID_VALID, fstatat, write back)
	OpenNS         float64 `json:"open_ns"` // openat emulated with ADDFD|SEND, plus close
	// StatMissNS and OpenMissNS: the same with a missed lookup first.
	StatMissNS float64 `json:"stat_miss_ns,omitempty"`
	OpenMissNS float64 `json:"open_miss_ns,omitempty"`
	SyncWakeUp bool    `json:"sync_wake_up"`  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP was on
	Calls      int     `json:"calls"`         // calls of each kind per probe run
	Runs       int     `json:"runs"`          // probe runs the medians are over
	CPU        string  `json:"cpu,omitempty"` // the CPU it was pinned to, "" = unpinned
	Command    string  `json:"command"`       // how it was built and run
	Error      string  `json:"error,omitempty"`
}

// Usable reports whether the probe produced figures.
func (r *RoundTrip) Usable() bool { return r != nil && r.Error == "" && r.ContinueNS > 0 }

// parseRTT parses the output of rtt: "name ns" lines.
func parseRTT(out string) (RoundTrip, error) {
	var r RoundTrip
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if f[0] == "sync-wake-up" {
			r.SyncWakeUp, seen[f[0]] = f[1] == "1", true
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return r, fmt.Errorf("rtt: %q: %w", line, err)
		}
		switch f[0] {
		case "native-stat":
			r.NativeStatNS = v
		case "native-open":
			r.NativeOpenNS = v
		case "continue":
			r.ContinueNS = v
		case "path-continue":
			r.PathContinueNS = v
		case "stat":
			r.StatNS = v
		case "open":
			r.OpenNS = v
		case "stat-miss":
			r.StatMissNS = v
		case "open-miss":
			r.OpenMissNS = v
		default:
			continue
		}
		seen[f[0]] = true
	}
	for _, k := range []string{"native-stat", "native-open", "continue", "path-continue", "stat", "open", "sync-wake-up"} {
		if !seen[k] {
			return r, fmt.Errorf("rtt: no %q line in %q", k, trimForError(out))
		}
	}
	return r, nil
}

// openFamily are the BySyscall names whose emulation is an open (ADDFD).
var openFamily = map[string]bool{"open": true, "openat": true, "creat": true, "openat2": true}

// ExtraNS is the round-trip overhead the C-probe predicts for the trapped
// calls in s (see the formula above), in nanoseconds. Without per-syscall
// counts every emulated call is costed as a stat.
func (r *RoundTrip) ExtraNS(s RunStats) float64 {
	cont := max(r.FloorContinueNS()-r.NativeStatNS, 0)
	stat := max(r.FloorStatNS()-r.NativeStatNS, 0)
	open := max(r.FloorOpenNS()-r.NativeOpenNS, 0)
	if len(s.BySyscall) == 0 {
		return float64(s.Continued)*cont + float64(s.Emulated)*stat
	}
	var ns float64
	for name, c := range s.BySyscall {
		em := min(c.Emulated, c.Notifications)
		ns += float64(c.Notifications-em) * cont
		if openFamily[name] {
			ns += float64(em) * open
		} else {
			ns += float64(em) * stat
		}
	}
	return ns
}

// FloorContinueNS, FloorStatNS and FloorOpenNS are the round trips the floor
// prices a CONTINUEd, an emulated and an emulated open-family call with: the
// path-read and missed-lookup figures, or, from a probe that lacks them,
// the bare ones.
func (r *RoundTrip) FloorContinueNS() float64 { return orElse(r.PathContinueNS, r.ContinueNS) }
func (r *RoundTrip) FloorStatNS() float64     { return orElse(r.StatMissNS, r.StatNS) }
func (r *RoundTrip) FloorOpenNS() float64     { return orElse(r.OpenMissNS, r.OpenNS) }

func orElse(v, otherwise float64) float64 {
	if v > 0 {
		return v
	}
	return otherwise
}

// String is the one-line summary printed in reports.
func (r *RoundTrip) String() string {
	if r == nil {
		return "not measured (no run mode)"
	}
	if !r.Usable() {
		return "unavailable: " + r.Error
	}
	sync := "on"
	if !r.SyncWakeUp {
		sync = "OFF (kernel before 6.6)"
	}
	where := "unpinned"
	if r.CPU != "" {
		where = "pinned to CPU " + r.CPU
	}
	floor := fmt.Sprintf("CONTINUE %s, emulated stat %s, emulated open+close %s",
		fmtNS(int64(r.ContinueNS)), fmtNS(int64(r.StatNS)), fmtNS(int64(r.OpenNS)))
	if r.PathContinueNS > 0 && r.StatMissNS > 0 && r.OpenMissNS > 0 {
		floor = fmt.Sprintf("path read + CONTINUE %s, emulated stat %s, emulated open+close %s, each after a missed lookup (bare CONTINUE %s, stat %s, open+close %s)",
			fmtNS(int64(r.PathContinueNS)), fmtNS(int64(r.StatMissNS)), fmtNS(int64(r.OpenMissNS)),
			fmtNS(int64(r.ContinueNS)), fmtNS(int64(r.StatNS)), fmtNS(int64(r.OpenNS)))
	}
	return fmt.Sprintf("%s (native stat %s, open+close %s); %s; sync wake-up %s; medians of %d runs × %d calls",
		floor, fmtNS(int64(r.NativeStatNS)), fmtNS(int64(r.NativeOpenNS)), where, sync, r.Runs, r.Calls)
}

// measureRoundTrip compiles the probe into dir (once) and runs it runs
// times on a file in dir (the branches' file system), under taskset -c cpu
// unless cpu is "". A machine without a C compiler, or without taskset for
// a pinned probe, gets a RoundTrip that says so.
func measureRoundTrip(ctx context.Context, dir, cpu string, calls, runs int) *RoundTrip {
	r := &RoundTrip{Calls: calls, Runs: runs, CPU: cpu}
	var pin []string
	if cpu != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			r.Error = "no taskset (util-linux) to pin the probe: " + err.Error()
			return r
		}
		pin = []string{"taskset", "-c", cpu}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Error = err.Error()
		return r
	}
	bin, err := ProbeBinary(ctx, dir)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("mfs bench C-probe\n"), 0o644); err != nil {
		r.Error = err.Error()
		return r
	}
	// A sibling name that does not exist: the missed lookup walks the same
	// directories as the hit and fails at the last component.
	miss := filepath.Join(dir, "file-on-another-branch")
	argv := append(append(append([]string{}, pin...), bin), strconv.Itoa(calls), file, miss)
	r.Command = "cc -O2 -o " + bin + " " + filepath.Join(dir, "rtt.c") + " && " + shellJoin(argv)
	var all []RoundTrip
	for i := 0; i < runs; i++ {
		out, err := runWithTimeout(ctx, time.Minute, argv)
		if err != nil {
			r.Error = err.Error()
			return r
		}
		one, err := parseRTT(out)
		if err != nil {
			r.Error = err.Error()
			return r
		}
		all = append(all, one)
	}
	med := func(f func(RoundTrip) float64) float64 {
		var xs []float64
		for _, a := range all {
			xs = append(xs, f(a))
		}
		return Median(xs).Median
	}
	r.NativeStatNS = med(func(a RoundTrip) float64 { return a.NativeStatNS })
	r.NativeOpenNS = med(func(a RoundTrip) float64 { return a.NativeOpenNS })
	r.ContinueNS = med(func(a RoundTrip) float64 { return a.ContinueNS })
	r.PathContinueNS = med(func(a RoundTrip) float64 { return a.PathContinueNS })
	r.StatNS = med(func(a RoundTrip) float64 { return a.StatNS })
	r.OpenNS = med(func(a RoundTrip) float64 { return a.OpenNS })
	r.StatMissNS = med(func(a RoundTrip) float64 { return a.StatMissNS })
	r.OpenMissNS = med(func(a RoundTrip) float64 { return a.OpenMissNS })
	r.SyncWakeUp = all[0].SyncWakeUp
	return r
}

// buildProbe compiles the probe unless bin exists.
func buildProbe(ctx context.Context, bin string, build []string) error {
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	if _, err := runWithTimeout(ctx, time.Minute, build); err != nil {
		return fmt.Errorf("building the probe: %w", err)
	}
	return nil
}

// ProbeBinary writes the probe's source to dir and compiles it there with
// the first C compiler found, returning the binary's path.
func ProbeBinary(ctx context.Context, dir string) (string, error) {
	cc := ""
	for _, c := range []string{"cc", "gcc", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		return "", fmt.Errorf("no C compiler (cc, gcc or clang) to build the probe")
	}
	src, bin := filepath.Join(dir, "rtt.c"), filepath.Join(dir, "rtt")
	if err := os.WriteFile(src, rttSource, 0o644); err != nil {
		return "", err
	}
	return bin, buildProbe(ctx, bin, []string{cc, "-O2", "-o", bin, src})
}

// runWithTimeout runs argv in its own process group, killed with its
// children at the deadline, and returns its standard output.
func runWithTimeout(ctx context.Context, d time.Duration, argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	groupKill(cmd)
	cmd.WaitDelay = 2 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return out.String(), fmt.Errorf("%s: no answer within %s; killed", shellJoin(argv), d)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", shellJoin(argv), err, trimForError(errb.String()))
	}
	return out.String(), nil
}
