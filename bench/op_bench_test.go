package bench

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkOp measures one operation per call in every mode, through the
// real mfs binary built by TestMain: the worker repeats the op (oploop.go)
// and reports ns per call, process start and mount set-up excluded. For run
// it also reports the supervisor's trapped calls per op (its start-up,
// measured with a loop of 0 calls, subtracted). ns/op is not meaningful
// (one b.N iteration is a whole loop) and is suppressed.
//
//	go test -run '^$' -bench Op -benchtime 1x -count 5 ./bench/ | tee op.txt; benchstat op.txt
//	taskset -c 0 go test -run '^$' -bench Op -benchtime 1x -count 5 ./bench/    (pinned: every process inherits CPU 0)
//
// Needs root (mounts) and FUSE; a mode that cannot be set up is skipped
// with the reason (mergerfs not installed, no FUSE).
func BenchmarkOp(b *testing.B) {
	for _, op := range Ops {
		for _, mode := range []string{ModeNative, ModeRun, ModeMount, ModePassthrough, ModeMergerfs} {
			b.Run("op="+op+"/mode="+mode, func(b *testing.B) {
				calls := max(b.N, opCalls(op))
				ns, trapped := opLoop(b, mode, op, calls)
				b.ReportMetric(ns, "ns/call")
				if trapped >= 0 {
					b.ReportMetric(trapped, "trapped/call")
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// opCalls is the default number of calls per loop: about 0.1-1 s in the
// slowest mode.
func opCalls(op string) int {
	switch op {
	case "readdir":
		return 2000
	case "exec", "exec-pool":
		return 300
	}
	return 10000
}

// opLoop sets mode up on fresh branches holding the op layout, runs the
// worker's loop and tears down.
func opLoop(b *testing.B, mode, op string, calls int) (nsPerCall, trappedPerCall float64) {
	b.Helper()
	if mfsBin == "" {
		b.Skip("cmd/mfs did not build")
	}
	m, err := NewMode(mode, ModeConfig{MFS: mfsBin})
	if err != nil {
		b.Fatal(err)
	}
	// Not b.TempDir: the benchmark's name ("op=stat/mode=run") would put
	// '=' into the branch paths, which mean branch modes to mfs and mergerfs.
	run, err := os.MkdirTemp("", "mfs-op-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(run) })
	n := 3
	if _, ok := m.(plainDir); ok {
		n = 1
	}
	var branches []string
	for i := 1; i <= n; i++ {
		branches = append(branches, filepath.Join(run, "b"+strconv.Itoa(i)))
	}
	for _, d := range append(append([]string{}, branches...), filepath.Join(run, "mnt")) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := prepareOps(branches); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	env, err := m.Setup(ctx, branches, nil)
	var u *Unavailable
	if errors.As(err, &u) {
		b.Skipf("%s", u.Error())
	}
	if err != nil {
		b.Fatal(err)
	}
	if env.Teardown != nil {
		b.Cleanup(func() {
			if err := env.Teardown(ctx); err != nil {
				b.Errorf("teardown: %v", err)
			}
		})
	}
	loop := func(calls int) (float64, *RunStats) {
		if env.StatsFile != "" {
			os.Remove(env.StatsFile)
		}
		argv := append(append([]string{}, env.Prefix...), mfsBin, WorkerCommand, "--loop", op, "--n", strconv.Itoa(calls), "--dir", env.Dir)
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
		groupKill(cmd)
		cmd.WaitDelay = 5 * time.Second
		cmd.Env = append(os.Environ(), env.ExtraEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", shellJoin(argv), err, out)
		}
		ns, err := parseLoopLine(string(out))
		if err != nil {
			b.Fatal(err)
		}
		var st *RunStats
		if env.StatsFile != "" {
			if raw, err := os.ReadFile(env.StatsFile); err == nil {
				if s, err := parseRunStats(raw); err == nil {
					st = &s
				}
			}
		}
		return ns, st
	}
	b.ResetTimer()
	ns, st := loop(calls)
	b.StopTimer()
	trappedPerCall = -1
	if st != nil {
		if _, base := loop(0); base != nil {
			trappedPerCall = float64(st.minus(*base).Notifications) / float64(calls)
		}
	}
	return ns, trappedPerCall
}

// BenchmarkCProbe runs the C-probe (cprobe/rtt.c): the floor of a seccomp
// user-notification round trip with a C target and a C supervisor, against
// the same calls made natively. These are the round trips `mfs bench`
// prices trapped calls with (the run mode's floor); BenchmarkOp/mode=run
// shows what the Go supervisor adds on top.
//
//	go test -run '^$' -bench CProbe -benchtime 1x -count 5 ./bench/
func BenchmarkCProbe(b *testing.B) {
	cases := []struct {
		name string
		get  func(*RoundTrip) float64
	}{
		{"op=stat/mode=native", func(r *RoundTrip) float64 { return r.NativeStatNS }},
		{"op=stat-continue/mode=c-supervisor", func(r *RoundTrip) float64 { return r.ContinueNS }},
		{"op=stat-path-continue/mode=c-supervisor", func(r *RoundTrip) float64 { return r.PathContinueNS }},
		{"op=stat/mode=c-supervisor", func(r *RoundTrip) float64 { return r.StatNS }},
		{"op=stat-miss/mode=c-supervisor", func(r *RoundTrip) float64 { return r.StatMissNS }},
		{"op=open/mode=native", func(r *RoundTrip) float64 { return r.NativeOpenNS }},
		{"op=open/mode=c-supervisor", func(r *RoundTrip) float64 { return r.OpenNS }},
		{"op=open-miss/mode=c-supervisor", func(r *RoundTrip) float64 { return r.OpenMissNS }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := measureRoundTrip(context.Background(), b.TempDir(), "", max(b.N, 20000), 1)
			if !r.Usable() {
				b.Skipf("C-probe: %s", r.Error)
			}
			b.ReportMetric(c.get(r), "ns/call")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkRunStart is the fixed cost of `mfs run`: wall time per
// invocation of `mfs run --union T=B1:B2:B3 -- /bin/true` (the supervisor's
// start, the stub, namespaces where available, the filter, the exec and the
// wait for the tree) against /bin/true started the same way natively.
//
//	go test -run '^$' -bench RunStart -benchtime 50x -count 5 ./bench/
func BenchmarkRunStart(b *testing.B) {
	if mfsBin == "" {
		b.Skip("cmd/mfs did not build")
	}
	dir, err := os.MkdirTemp("", "mfs-start-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	branches := threeBranches(b, dir)
	union := filepath.Join(dir, "pool") + "=" + strings.Join(branches, ":")
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"mode=native", []string{"/bin/true"}},
		{"mode=run", []string{mfsBin, "run", "--union", union, "--", "/bin/true"}},
		{"mode=run-no-pid-namespace", []string{mfsBin, "run", "--no-pid-namespace", "--union", union, "--", "/bin/true"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if out, err := exec.Command(c.argv[0], c.argv[1:]...).CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", c.argv, err, out)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/start")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkRunVsFloor compares mfs run's supervisor with the C supervisor
// of the C-probe on the same C target code (cprobe/rtt.c --loops under
// `mfs run`, against rtt's own round trips in the same benchmark): lstat
// and open+close of a file on branch 2 of 3 (emulated: a lookup missing on
// branch 1, as the C supervisor's stat-miss and open-miss miss once), and
// the stat of a file outside the union (path read + CONTINUE, both).
// Reports ns per call for both and run/floor ratios. Pin the whole
// benchmark with taskset to measure one CPU; children inherit it.
//
//	go test -run '^$' -bench RunVsFloor -benchtime 1x -count 5 ./bench/
//	taskset -c 0 go test -run '^$' -bench RunVsFloor -benchtime 1x -count 5 ./bench/
func BenchmarkRunVsFloor(b *testing.B) {
	if mfsBin == "" {
		b.Skip("cmd/mfs did not build")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mfs-floor-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	rtt, err := ProbeBinary(ctx, dir)
	if err != nil {
		b.Skipf("C-probe: %v", err)
	}
	branches := threeBranches(b, dir)
	if err := os.MkdirAll(filepath.Join(branches[1], "d"), 0o755); err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{filepath.Join(branches[1], "d", "y"), filepath.Join(dir, "outside")} {
		if err := os.WriteFile(f, []byte("floor\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	target := filepath.Join(dir, "pool")
	calls := max(b.N, 20000)
	b.ResetTimer()
	floor := measureRoundTrip(ctx, filepath.Join(dir, "probe"), "", calls, 1)
	if !floor.Usable() {
		b.Skipf("C-probe: %s", floor.Error)
	}
	argv := []string{mfsBin, "run", "--union", target + "=" + strings.Join(branches, ":"), "--",
		rtt, "--loops", strconv.Itoa(calls), target + "/d/y", filepath.Join(dir, "outside")}
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		b.Fatalf("%s: %v", shellJoin(argv), err)
	}
	got := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if got[k], err = strconv.ParseFloat(v, 64); err != nil {
			b.Fatalf("rtt --loops: %q", line)
		}
	}
	b.StopTimer()
	for _, c := range []struct {
		name     string
		run, flo float64
	}{
		// The C supervisor's emulated call is an lstat; both miss once.
		{"stat", got["lstat"], floor.FloorStatNS()},
		{"open", got["open"], floor.FloorOpenNS()},
		{"outside-stat", got["outside-stat"], floor.FloorContinueNS()},
	} {
		if c.run <= 0 {
			b.Fatalf("rtt --loops printed no %s: %q", c.name, out)
		}
		b.ReportMetric(c.run, c.name+"-run-ns")
		b.ReportMetric(c.flo, c.name+"-floor-ns")
		b.ReportMetric(c.run/c.flo, c.name+"-x-floor")
	}
	b.ReportMetric(0, "ns/op")
}

// threeBranches makes branch directories b1, b2 and b3 in dir.
func threeBranches(b *testing.B, dir string) []string {
	b.Helper()
	var branches []string
	for i := 1; i <= 3; i++ {
		br := filepath.Join(dir, "b"+strconv.Itoa(i))
		if err := os.MkdirAll(br, 0o755); err != nil {
			b.Fatal(err)
		}
		branches = append(branches, br)
	}
	return branches
}
