package bench

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// These tests count real processes: perf_event_open is in every kernel mfs
// targets, so its absence (ENOSYS) is the only reason to skip, and not on CI.

func requirePerf(t *testing.T) {
	t.Helper()
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_TASK_CLOCK}
	attr.Size = uint32(unsafe.Sizeof(attr))
	attr.Bits = unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv // allowed at any paranoid level but 3+
	fd, err := perfOpen(&attr, 0)
	if err == unix.ENOSYS {
		if os.Getenv("CI") == "true" {
			t.Fatalf("perf_event_open: %v", err)
		}
		t.Skipf("this kernel has no perf events: %v", err)
	}
	if err == nil {
		unix.Close(fd)
	}
}

// checkPerfConsistent asserts the contract of every field: a count >= 0 with
// no reason, or -1 with one, and no reason for anything else.
func checkPerfConsistent(t *testing.T, c PerfCounts) {
	t.Helper()
	names := map[string]bool{}
	for _, ev := range perfEvents {
		names[ev.name] = true
		v, why := *ev.field(&c), c.Unavailable[ev.name]
		switch {
		case v == -1 && why == "":
			t.Errorf("%s = -1 without a reason", ev.name)
		case v == -1:
		case v < 0:
			t.Errorf("%s = %d", ev.name, v)
		case why != "":
			t.Errorf("%s = %d but Unavailable says %q", ev.name, v, why)
		}
	}
	for name := range c.Unavailable {
		if !names[name] {
			t.Errorf("Unavailable names an unknown event %q", name)
		}
	}
}

// countChild runs /bin/sh -c script, counts it from right after its start
// until it has exited, and returns the counts and its CPU time as wait4
// reports it (its own and that of the children it waited for).
func countChild(t *testing.T, script string, inherit bool, attr *syscall.SysProcAttr) (PerfCounts, time.Duration) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPerf(cmd.Process.Pid, inherit)
	werr := cmd.Wait()
	if err != nil {
		t.Fatalf("OpenPerf: %v", err)
	}
	defer p.Close()
	if werr != nil {
		t.Fatalf("child: %v", werr)
	}
	c := p.Read()
	if again := p.Read(); again.TaskClockNS != c.TaskClockNS || again.ContextSwitches != c.ContextSwitches {
		t.Errorf("counters of an exited process moved: %+v then %+v", c, again)
	}
	return c, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func TestPerfCountsChild(t *testing.T) {
	requirePerf(t)
	// Work, then sleeps: each sleep is a child the shell blocks on, so it
	// context-switches.
	c, cpu := countChild(t, `i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 0.02; sleep 0.02`, true, nil)
	t.Logf("counts %+v, child CPU %v", c, cpu)
	checkPerfConsistent(t, c)
	if c.TaskClockNS <= 0 {
		t.Errorf("task clock %d, want > 0", c.TaskClockNS)
	}
	// Unprivileged under perf_event_paranoid 2 the kernel is excluded and
	// context switches cannot be counted (TestPerfUserOnly checks that).
	if c.ContextSwitches <= 0 && !(c.UserOnly && c.ContextSwitches == -1) {
		t.Errorf("context switches %d, want > 0", c.ContextSwitches)
	}
	if c.PageFaults <= 0 { // two execs of sleep fault pages in
		t.Errorf("page faults %d, want > 0", c.PageFaults)
	}
}

func TestPerfInherit(t *testing.T) {
	requirePerf(t)
	// The counters are opened while the child sleeps, before the
	// grandchild exists; the grandchild burns ~0.2 s of CPU, the child
	// almost none.
	const script = `sleep 0.1; sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'; sleep 0.02`
	with, cpu := countChild(t, script, true, nil)
	t.Logf("inherit: task clock %v, context switches %d, child+grandchild CPU %v",
		time.Duration(with.TaskClockNS), with.ContextSwitches, cpu)
	checkPerfConsistent(t, with)
	if want := cpu * 8 / 10; time.Duration(with.TaskClockNS) < want {
		t.Errorf("inherit: task clock %v, want >= %v (80%% of the CPU wait4 reports)",
			time.Duration(with.TaskClockNS), want)
	}
	without, cpu2 := countChild(t, script, false, nil)
	t.Logf("no inherit: task clock %v, child+grandchild CPU %v", time.Duration(without.TaskClockNS), cpu2)
	checkPerfConsistent(t, without)
	if without.TaskClockNS < 0 || without.TaskClockNS*4 > with.TaskClockNS || time.Duration(without.TaskClockNS)*4 > cpu2 {
		t.Errorf("no inherit: task clock %v, want under a quarter of %v (with inherit) and of %v (wait4)",
			time.Duration(without.TaskClockNS), time.Duration(with.TaskClockNS), cpu2)
	}
}

// TestPerfThreads counts this test process, which has many threads: the CPU
// two threads burn after OpenPerf must both be in the sum (one of them may be
// the main thread, the other is not).
func TestPerfThreads(t *testing.T) {
	requirePerf(t)
	const burners = 2
	ready, burn, burned := make(chan struct{}), make(chan struct{}), make(chan time.Duration)
	for range burners {
		go func() {
			runtime.LockOSThread() // a thread of its own, existing (so counted) before OpenPerf
			defer runtime.UnlockOSThread()
			ready <- struct{}{}
			<-burn
			start := threadCPU()
			for threadCPU()-start < 50*time.Millisecond {
			}
			burned <- threadCPU() - start
		}()
	}
	for range burners {
		<-ready
	}
	p, err := OpenPerf(os.Getpid(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	close(burn)
	var b time.Duration
	for range burners {
		b += <-burned
	}
	c := p.Read()
	t.Logf("counts %+v, burned %v", c, b)
	checkPerfConsistent(t, c)
	if time.Duration(c.TaskClockNS) < b*8/10 {
		t.Errorf("task clock %v, want >= 80%% of the %v two threads burned", time.Duration(c.TaskClockNS), b)
	}

	p.Close()
	p.Close()
	closed := p.Read()
	checkPerfConsistent(t, closed)
	if closed.TaskClockNS != -1 {
		t.Errorf("read after Close: task clock %d, want -1", closed.TaskClockNS)
	}
	var nilSet *PerfSet
	nilSet.Close()
	checkPerfConsistent(t, nilSet.Read())
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

func TestPerfGone(t *testing.T) {
	requirePerf(t)
	if _, err := OpenPerf(0, true); err == nil {
		t.Error("OpenPerf(0) succeeded")
	}
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if p, err := OpenPerf(cmd.Process.Pid, true); err == nil { // reaped: no /proc entry (unless the pid was reused)
		t.Logf("pid %d reused: %+v", cmd.Process.Pid, p.Read())
		p.Close()
	}
	// A zombie still lists its main thread, but there is nothing left to
	// count: every event unavailable, no error.
	z := exec.Command("/bin/true")
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	defer z.Wait()
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(z.Process.Pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); f[0] == "Z" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	p, err := OpenPerf(z.Process.Pid, true)
	if err != nil {
		t.Fatalf("OpenPerf on a zombie: %v", err)
	}
	defer p.Close()
	c := p.Read()
	t.Logf("zombie: %+v", c)
	checkPerfConsistent(t, c)
	if c.TaskClockNS != -1 || !strings.Contains(c.Unavailable["task_clock"], "exited") {
		t.Errorf("zombie: task clock %d (%q), want -1 because it exited", c.TaskClockNS, c.Unavailable["task_clock"])
	}
}

// TestPerfUserOnly counts as an unprivileged user, the case of a harness not
// run as root. As root it drops credentials on one locked thread only (Linux
// credentials are per thread; the runtime discards the thread afterwards)
// and counts a child running as nobody.
func TestPerfUserOnly(t *testing.T) {
	requirePerf(t)
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		t.Fatal(err)
	}
	paranoid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	var attr *syscall.SysProcAttr
	if root {
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else if capable() {
		t.Logf("not root but CAP_PERFMON or CAP_SYS_ADMIN: the kernel is counted")
		paranoid = -1
	}
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 0.02`)
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type opened struct {
		p   *PerfSet
		err error
	}
	done := make(chan opened)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if root {
			for _, sc := range [][4]uintptr{{unix.SYS_SETGROUPS, 0, 0, 0}, {unix.SYS_SETRESGID, 65534, 65534, 65534}, {unix.SYS_SETRESUID, 65534, 65534, 65534}} {
				if _, _, e := unix.RawSyscall(sc[0], sc[1], sc[2], sc[3]); e != 0 {
					done <- opened{err: e}
					return
				}
			}
		}
		p, err := OpenPerf(cmd.Process.Pid, true)
		done <- opened{p, err}
	}()
	o := <-done
	werr := cmd.Wait()
	if o.err != nil {
		t.Fatal(o.err)
	}
	defer o.p.Close()
	if werr != nil {
		t.Fatal(werr)
	}
	c := o.p.Read()
	t.Logf("paranoid %d: %+v", paranoid, c)
	checkPerfConsistent(t, c)
	switch {
	case paranoid >= 3: // Debian's setting: nothing for the unprivileged
		for _, ev := range perfEvents {
			if v := *ev.field(&c); v != -1 || !strings.Contains(c.Unavailable[ev.name], "not permitted") {
				t.Errorf("%s = %d (%q), want -1, not permitted", ev.name, v, c.Unavailable[ev.name])
			}
		}
	case paranoid == 2:
		if !c.UserOnly {
			t.Error("UserOnly not set")
		}
		for _, v := range []int64{c.ContextSwitches, c.CPUMigrations} {
			if v != -1 {
				t.Errorf("a kernel-only event counted %d user-only, want -1", v)
			}
		}
		if r := c.Unavailable["context_switches"]; !strings.Contains(r, "perf_event_paranoid=2") {
			t.Errorf("context_switches reason %q does not name the setting", r)
		}
		if c.TaskClockNS <= 0 || c.PageFaults <= 0 {
			t.Errorf("task clock %d, page faults %d: want both > 0 user-only", c.TaskClockNS, c.PageFaults)
		}
	default:
		if c.UserOnly || c.TaskClockNS <= 0 || c.ContextSwitches <= 0 {
			t.Errorf("kernel allowed, got UserOnly %v, task clock %d, context switches %d", c.UserOnly, c.TaskClockNS, c.ContextSwitches)
		}
	}
}

// capable says whether this process may count the kernel regardless of
// perf_event_paranoid (CAP_SYS_ADMIN is 21, CAP_PERFMON 38).
func capable() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && eff&(1<<21|1<<38) != 0
		}
	}
	return false
}

func TestPerfCountsSubIPC(t *testing.T) {
	before := PerfCounts{Cycles: 1000, Instructions: 500, CacheMisses: -1, BranchMisses: 10,
		ContextSwitches: 5, CPUMigrations: 1, PageFaults: 100, TaskClockNS: 1e6,
		Unavailable: map[string]string{"cache_misses": "old reason"}}
	after := PerfCounts{Cycles: 5000, Instructions: 8500, CacheMisses: 70, BranchMisses: -1,
		ContextSwitches: 9, CPUMigrations: 1, PageFaults: 150, TaskClockNS: 4e6, Scaled: true,
		Unavailable: map[string]string{"branch_misses": "gone"}}
	d := after.Sub(before)
	want := PerfCounts{Cycles: 4000, Instructions: 8000, CacheMisses: -1, BranchMisses: -1,
		ContextSwitches: 4, CPUMigrations: 0, PageFaults: 50, TaskClockNS: 3e6, Scaled: true}
	for _, ev := range perfEvents {
		if g, w := *ev.field(&d), *ev.field(&want); g != w {
			t.Errorf("Sub: %s = %d, want %d", ev.name, g, w)
		}
	}
	if !d.Scaled || d.UserOnly {
		t.Errorf("Sub: Scaled %v UserOnly %v, want true false", d.Scaled, d.UserOnly)
	}
	if d.Unavailable["cache_misses"] != "old reason" || d.Unavailable["branch_misses"] != "gone" || len(d.Unavailable) != 2 {
		t.Errorf("Sub: Unavailable %v", d.Unavailable)
	}
	checkPerfConsistent(t, d)
	if before.Unavailable["branch_misses"] != "" || len(after.Unavailable) != 1 {
		t.Error("Sub modified its operands' maps")
	}
	if g := d.IPC(); g != 2 {
		t.Errorf("IPC %v, want 2", g)
	}
	if g := (PerfCounts{Cycles: 200, Instructions: 300}).IPC(); g != 1.5 {
		t.Errorf("IPC %v, want 1.5", g)
	}
	for _, c := range []PerfCounts{{Cycles: -1, Instructions: 10}, {Cycles: 10, Instructions: -1}, {Cycles: 0, Instructions: 10}, {}} {
		if g := c.IPC(); g != 0 {
			t.Errorf("IPC of %d/%d = %v, want 0", c.Instructions, c.Cycles, g)
		}
	}
	if d := (PerfCounts{}).Sub(PerfCounts{}); d.Unavailable != nil {
		t.Errorf("Sub of two complete counts has Unavailable %v", d.Unavailable)
	}
}

func TestPerfScale(t *testing.T) {
	for _, tc := range []struct {
		v, en, run uint64
		want       float64
		scaled     bool
	}{
		{100, 10, 10, 100, false},
		{0, 0, 0, 0, false},                        // a thread that never ran since the open
		{100, 40, 10, 400, true},                   // on the PMU a quarter of the time
		{7, 10, 0, 0, true},                        // never on the PMU: unknown, left out
		{1 << 62, 1 << 40, 1 << 39, 1 << 63, true}, // no uint64 overflow in the product
	} {
		got, scaled := perfScale(tc.v, tc.en, tc.run)
		if got != tc.want || scaled != tc.scaled {
			t.Errorf("perfScale(%d, %d, %d) = %v, %v; want %v, %v", tc.v, tc.en, tc.run, got, scaled, tc.want, tc.scaled)
		}
	}
}
