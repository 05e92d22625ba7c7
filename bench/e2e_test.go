package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests run `mfs bench` as a user would, through a built
// binary: the worker is that binary re-executed via /proc/self/exe. TestMain
// builds ./cmd/mfs once.
var (
	benchBin string // runs `BIN bench ...`
	mfsBin   string // the real mfs binary, "" if it did not build
	binNote  string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mfs-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	real := filepath.Join(dir, "mfs")
	if out, err := exec.Command("go", "build", "-o", real, "github.com/mfs-union/mfs/cmd/mfs").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building cmd/mfs: %v\n%s", err, out)
		return 1
	}
	mfsBin, benchBin, binNote = real, real, "the real mfs binary"
	return m.Run()
}

func requireBench(t *testing.T) {
	t.Helper()
	t.Logf("running %s", binNote)
}

// runBench runs `BIN bench ARGS` with a deadline and returns its output.
func runBench(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, benchBin, append([]string{"bench"}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s bench %s: %v\nstdout:\n%s\nstderr:\n%s", benchBin, strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String(), e.String()
}

// noLeftovers fails if anything under dir is still mounted or a process
// still names it.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, m := range parseMountinfo(string(b)) {
		if strings.HasPrefix(m.Point, dir) {
			t.Errorf("left mounted: %s (%s)", m.Point, m.FSType)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if cl, err := os.ReadFile(p); err == nil && bytes.Contains(cl, []byte(dir)) {
			t.Errorf("process left running: %s: %q", p, bytes.ReplaceAll(cl, []byte{0}, []byte{' '}))
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "mfs-bench-") {
			t.Errorf("work directory left: %s", e.Name())
		}
	}
}

func TestEndToEndQuick(t *testing.T) {
	requireBench(t)
	work := t.TempDir()
	js, page := filepath.Join(work, "r.json"), filepath.Join(work, "r.html")
	out, _ := runBench(t, "--quick", "--scenarios", "create-100,list-100", "--modes", "native,mergerfs", "--runs", "1",
		"--json", js, "--html", page, "--dir", work)
	t.Logf("output:\n%s", out)
	noLeftovers(t, work)
	for _, want := range []string{"reproduce: mfs bench --quick --scenarios create-100,list-100", "create-100 — ", "list-100 — ",
		"ratio = mode time / reference time", "not pinned", "summary:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	r, err := ReadJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 2 || r.Meta.Runs != 1 || !r.Meta.Quick {
		t.Fatalf("report: %d scenarios, meta %+v", len(r.Scenarios), r.Meta)
	}
	wantOps := map[string]int{"create-100": 100, "list-100": listReps[100]}
	for _, sr := range r.Scenarios {
		for _, mr := range sr.Results {
			if mr.Mode == ModeMergerfs && mr.Status != "ok" {
				_, lookErr := exec.LookPath("mergerfs")
				if lookErr == nil && os.Geteuid() == 0 {
					t.Errorf("%s: mergerfs is installed but %s: %s", sr.Scenario.Name, mr.Status, mr.Reason)
				}
				if !strings.Contains(out, "mergerfs") || mr.Reason == "" {
					t.Errorf("mergerfs %s without a reason", mr.Status)
				}
				continue
			}
			if mr.Status != "ok" || len(mr.Runs) != 1 || mr.Runs[0].Error != "" {
				t.Fatalf("%s %s: %s %s %+v", sr.Scenario.Name, mr.Mode, mr.Status, mr.Reason, mr.Runs)
			}
			run := mr.Runs[0]
			if len(run.LatNS) != wantOps[sr.Scenario.Name] || run.WallNS <= 0 || run.CPUs == "" {
				t.Errorf("%s %s: %d latencies, wall %d", sr.Scenario.Name, mr.Mode, len(run.LatNS), run.WallNS)
			}
			if mr.Mode == ModeMergerfs {
				if run.Server == nil || !run.Server.After.Readable || run.Server.After.VmHWMKiB <= 0 {
					t.Errorf("%s mergerfs: no server figures: %+v", sr.Scenario.Name, run.Server)
				}
				if mr.Summary.VsNative <= 0 {
					t.Errorf("%s mergerfs: no ratio to native", sr.Scenario.Name)
				}
			}
			if mr.Mode == ModeNative && run.Server != nil {
				t.Errorf("native has a server: %+v", run.Server)
			}
		}
	}
	h, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(h, []byte("<svg")) || bytes.Contains(h, []byte("http")) {
		t.Errorf("HTML report: %v", err)
	}
}

// TestEndToEndUnavailable: modes whose mfs subcommand does not exist yet
// are reported as unavailable with the command's own words, and the rest of
// the bench runs.
func TestEndToEndUnavailable(t *testing.T) {
	requireBench(t)
	work := t.TempDir()
	out, _ := runBench(t, "--scenarios", "create-100", "--modes", "native,run,mount", "--runs", "1", "--dir", work, "--mfs", fakeMFS(t))
	noLeftovers(t, work)
	for _, want := range []string{`run                unavailable: mfs: unknown command "run"`, `mount              unavailable: mfs: unknown command "mount"`,
		"create-100 — ", "unavailable"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestEndToEndRealFrontEnds runs every mode through the real mfs binary at
// the smallest sizes, one scenario with an untimed setup phase: each mode
// either works or says why it cannot, and run's trapped calls are counted
// net of the worker's start-up. Counts are checked, times never.
func TestEndToEndRealFrontEnds(t *testing.T) {
	requireBench(t)
	if mfsBin == "" {
		t.Skip("cmd/mfs did not build")
	}
	work := t.TempDir()
	js := filepath.Join(work, "r.json")
	out, _ := runBench(t, "--scenarios", "create-100,read-1k-warm", "--modes", "native,run,mount,mount-passthrough,mergerfs",
		"--runs", "1", "--dir", work, "--mfs", mfsBin, "--json", js, "--cprobe-calls", "2000", "--perf")
	t.Logf("output:\n%s", out)
	noLeftovers(t, work)
	r, err := ReadJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	wantOps := map[string]int{"create-100": 100, "read-1k-warm": 1000}
	for _, sr := range r.Scenarios {
		for _, mr := range sr.Results {
			switch {
			case mr.Status == "ok":
				if mr.Summary == nil || mr.Summary.Latency.N != wantOps[sr.Scenario.Name] {
					t.Errorf("%s %s ok without figures: %+v", sr.Scenario.Name, mr.Mode, mr.Summary)
					continue
				}
				if mr.Mode == ModeRun {
					checkRunCounts(t, r, sr.Scenario.Name, mr)
				}
				checkSystemFigures(t, sr.Scenario.Name, mr)
			case mr.Reason == "":
				t.Errorf("%s %s %s without a reason", sr.Scenario.Name, mr.Mode, mr.Status)
			}
		}
	}
}

// checkSystemFigures: every run has its disk traffic and the worker's
// context switches, and --perf counted worker and server (software events
// at least: this VM has no hardware counters, TestPerf* covers those).
func checkSystemFigures(t *testing.T, scenario string, mr ModeResult) {
	t.Helper()
	run := mr.Runs[0]
	if run.Disk == nil || run.Disk.Device == "" {
		t.Errorf("%s %s: no disk figures (%v)", scenario, mr.Mode, run.Notes)
	}
	// Natively a warm read can run without a single switch; every other
	// mode waits for its server at least once per operation.
	if run.CtxSwitches == nil || mr.Mode != ModeNative && *run.CtxSwitches <= 0 {
		t.Errorf("%s %s: worker context switches %v", scenario, mr.Mode, run.CtxSwitches)
	}
	if w := run.WorkerPerf; w == nil || w.TaskClockNS <= 0 || w.ContextSwitches <= 0 { // it blocks on stdin after RESULT
		t.Errorf("%s %s: worker perf counts %+v (%v)", scenario, mr.Mode, w, run.Notes)
	}
	if mr.Mode == ModeNative {
		return
	}
	if sp := run.ServerPerf; sp == nil || sp.TaskClockNS <= 0 || sp.ContextSwitches <= 0 {
		t.Errorf("%s %s: server perf counts %+v (%v)", scenario, mr.Mode, sp, run.Notes)
	}
	if mr.Summary.ServerCtxPerOp == nil || mr.Summary.ServerCtxPerOp.Median <= 0 {
		t.Errorf("%s %s: server context switches per op %+v", scenario, mr.Mode, mr.Summary.ServerCtxPerOp)
	}
}

// checkRunCounts: with the start-up baseline subtracted, creating a file is
// one trapped openat and reading a warm one is one openat too (the setup's
// warming ran in a worker of its own); the C-probe priced them.
func checkRunCounts(t *testing.T, r *Report, scenario string, mr ModeResult) {
	t.Helper()
	var base *RunStats
	for _, mi := range r.Modes {
		if mi.Name == ModeRun {
			base = mi.Baseline
		}
	}
	run := mr.Runs[0]
	if base == nil || base.Notifications == 0 || run.Trapped == nil || run.TrappedNet == nil {
		t.Errorf("%s run: baseline %+v, trapped %+v, net %+v", scenario, base, run.Trapped, run.TrappedNet)
		return
	}
	if per := mr.Summary.TrappedPerOp; per == nil || per.Median < 0.9 || per.Median > 1.5 {
		t.Errorf("%s run: trapped/op %+v, want about 1 (openat per op), counters %+v", scenario, per, run.TrappedNet)
	}
	if r.Meta.CProbe == nil {
		t.Errorf("no C-probe with the run mode")
	} else if r.Meta.CProbe.Usable() && (mr.Summary.FloorS <= 0 || mr.Summary.VsFloor <= 0) {
		t.Errorf("%s run: no floor: %+v", scenario, mr.Summary)
	}
}

// hangingMFS is a stand-in for mfs whose `mount` never mounts and whose
// `run` runs the worker for the probe and the start-up baseline but hangs
// in the timed run, as a deadlocked front end would.
func hangingMFS(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mfs")
	script := `#!/bin/sh
case "$1" in
mount) while :; do sleep 1; done ;;
run)
	case "$*" in *"--phase timed"*) while :; do sleep 1; done ;; esac
	shift 4 # run --union SPEC --
	exec "$@" ;;
esac
echo "mfs: unknown command \"$1\"" >&2
exit 2
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEndToEndHangingModes: a server that never mounts and a run that never
// answers cost their timeouts, not the bench; both are reported with the
// reason and leave no mount and no process behind.
func TestEndToEndHangingModes(t *testing.T) {
	requireBench(t)
	work := t.TempDir()
	out, _ := runBench(t, "--scenarios", "create-100", "--modes", "native,run,mount", "--runs", "1", "--dir", work,
		"--mfs", hangingMFS(t), "--timeout", "3s", "--setup-timeout", "2s", "--cprobe-calls", "1000")
	t.Logf("output:\n%s", out)
	noLeftovers(t, work)
	for _, want := range []string{"mount              unavailable: no mount at", "run failed: worker (waiting for ready): no answer within 3s (--timeout)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
