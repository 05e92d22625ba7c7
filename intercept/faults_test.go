package intercept

// Fault tests: the workload is SIGKILLed in the middle of emulated calls,
// its threads exit or exec while their calls are trapped, signals hammer
// it during thousands of emulated mutations, it forks a hundred children,
// and setuid binaries run under it. Each asserts that the supervisor
// survives (later calls are answered, nothing is logged at warning level or
// above, Run returns promptly), that every emulation took effect exactly
// once (the workload checks each call on a fresh name and the resulting
// tree), and that Run returns the workload's exit status. The workload is
// testdata/faulthelper (C: raw control over threads, signal flags and ids),
// built once per test binary.

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var faultBuild helperBuild

// faultHelper builds testdata/faulthelper with the C compiler cgo uses
// (this package needs one for libseccomp).
func faultHelper(t *testing.T) string {
	t.Helper()
	helperMu.Lock()
	if helperDir == "" {
		d, err := os.MkdirTemp("", "mfs-gohelper")
		if err != nil {
			helperMu.Unlock()
			t.Fatal(err)
		}
		helperDir = d
	}
	dir := helperDir
	helperMu.Unlock()
	faultBuild.once.Do(func() {
		cc := os.Getenv("CC")
		if cc == "" {
			cc = "gcc"
		}
		faultBuild.path = filepath.Join(dir, "faulthelper")
		faultBuild.out, faultBuild.err = exec.Command(cc, "-O2", "-Wall", "-Werror", "-pthread",
			"-o", faultBuild.path, "testdata/faulthelper/faulthelper.c").CombinedOutput()
	})
	if faultBuild.err != nil {
		t.Fatalf("building testdata/faulthelper: %v\n%s", faultBuild.err, faultBuild.out)
	}
	return faultBuild.path
}

// lockedBuffer collects the supervisor's log (receivers log concurrently).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faultRun is runCfg with the supervisor's warnings and errors collected:
// a recovered panic (EIO), a failed reply or receive, or a receiver left
// blocked after the workload is gone would be logged there, and none is
// expected. FAULTDEBUG=1 in the environment traces every emulated call to
// stderr.
func (f *fixture) faultRun(t *testing.T, cfg Config) runResult {
	t.Helper()
	var log lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if os.Getenv("FAULTDEBUG") != "" {
		cfg.Verbose = true
		cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&log, os.Stderr), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r := f.runCfg(t, cfg)
	// The package's own messages start with "mfs run:".
	if s := log.String(); strings.Contains(s, `msg="mfs run:`) {
		t.Errorf("%q: the supervisor logged:\n%s", cfg.Argv, s)
	}
	return r
}

// faultScript runs a shell script with P replaced by the union target and
// H by the helper, and requires exit code want.
func (f *fixture) faultScript(t *testing.T, st *Stats, want int, script string) string {
	t.Helper()
	script = strings.NewReplacer("P/", f.target+"/", "P ", f.target+" ", "H ", faultHelper(t)+" ").Replace(script)
	r := f.faultRun(t, Config{Argv: []string{"sh", "-c", script}, Stats: st})
	if r.err != nil || r.code != want {
		t.Fatalf("code %d (want %d) err %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", r.code, want, r.err, script, r.stdout, r.stderr)
	}
	return r.stdout
}

// workloadProc waits for the workload process running the helper at the
// top of its own tree (its parent runs something else) and, when inOpen,
// blocked in open/openat; it returns its host pid.
func workloadProc(t *testing.T, inOpen bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range descendants(os.Getpid()) {
			if commOf(p) != "faulthelper" || commOf(ppidOf(p)) == "faulthelper" {
				continue
			}
			if !inOpen || blockedInOpen(p) {
				return p
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("the workload never showed up (blocked in open)")
	return 0
}

func ppidOf(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 1 {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func blockedInOpen(pid int) bool {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
	return bytes.HasPrefix(b, []byte("257 ")) || bytes.HasPrefix(b, []byte("2 "))
}

// noDescendants waits up to a second for every child of the test process,
// zombies included, to be gone (the reaper reaps what the workload left).
func noDescendants(t *testing.T) {
	t.Helper()
	var left []int
	for i := 0; i < 100; i++ {
		if left = descendants(os.Getpid()); len(left) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	var desc []string
	for _, p := range left {
		b, _ := os.ReadFile("/proc/" + itoa(p) + "/stat")
		desc = append(desc, strings.TrimSpace(string(b)))
	}
	t.Errorf("a second after the run, still children of the test (zombies included): %v", desc)
}

// TestFaultKillBlockedFIFO: workload processes blocked in emulated FIFO
// opens (each handed over: the supervisor's own open of the FIFO blocks in
// a receiver) are SIGKILLed. The watchdog completes those opens, so no
// phantom reader or writer holds the FIFO afterwards (a new non-blocking
// writer gets ENXIO, a new reader EOF), later calls are answered, and the
// statuses are 137 for the killed processes and the workload's own code.
func TestFaultKillBlockedFIFO(t *testing.T) {
	f := twoBranches(t)
	h := faultHelper(t)
	t.Run("background", func(t *testing.T) {
		var st Stats
		out := f.faultScript(t, &st, 7, `mkfifo P/r P/w || exit 90
H fifo-open r P/r & a=$!
H fifo-open w P/w & b=$!
H wait-blocked $a && H wait-blocked $b || exit 91
kill -9 $a $b; wait $a; echo reader=$?; wait $b; echo writer=$?
H no-reader P/r; H no-writer P/w
H ops P 0 && cat P/a.txt
exit 7`)
		if out != "reader=137\nwriter=137\nno-reader\nno-writer\nhello\n" {
			t.Fatalf("stdout:\n%s", out)
		}
		if st.Handovers < 2 {
			t.Fatalf("the blocked opens were not handed over: %+v", st)
		}
	})
	t.Run("cmd", func(t *testing.T) {
		// CMD itself is killed: Run returns 137 promptly, with no receiver
		// left blocked in the FIFO (it would hold the read end open).
		fifo := filepath.Join(f.branches[1], "cmdfifo")
		must(t, unix.Mkfifo(fifo, 0o644))
		var st Stats
		done := make(chan runResult, 1)
		go func() {
			done <- f.faultRun(t, Config{Argv: []string{h, "fifo-open", "r", f.target + "/cmdfifo"}, Stats: &st})
		}()
		pid := workloadProc(t, true)
		time.Sleep(50 * time.Millisecond) // the supervisor receives it and blocks in its own open
		must(t, syscall.Kill(pid, syscall.SIGKILL))
		killed := time.Now()
		var r runResult
		select {
		case r = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its CMD was killed")
		}
		if r.code != 137 || r.err != nil || r.stdout != "" {
			t.Fatalf("killed CMD: code %d err %v stdout %q stderr %q", r.code, r.err, r.stdout, r.stderr)
		}
		if d := time.Since(killed); d > 1500*time.Millisecond {
			t.Errorf("Run took %v after the kill (a receiver stuck in the FIFO open?)", d)
		}
		if st.Handovers == 0 {
			t.Errorf("the open never reached the supervisor: %+v", st)
		}
		if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err != unix.ENXIO {
			unix.Close(fd)
			t.Fatalf("after the run, a non-blocking writer of the FIFO got %v, want ENXIO (a reader was left behind)", err)
		}
	})
}

var stormRE = regexp.MustCompile(`^storm ok kills=(\d+) steps=(\d+)\n$`)

// TestFaultKillStorm: processes doing emulated mkdir, O_EXCL create, rename
// and stat on fresh names are SIGKILLed at random times, mid-call. Each
// worker counts its completed steps in shared memory; the tree must hold
// exactly those steps plus at most the one in flight (partial, but no
// rename half done), with no EEXIST or ENOENT ever reported to a worker
// (an emulation run twice or lost). Then CMD itself is killed from outside
// in the middle of such a storm: 137, nothing left running, a consistent
// tree.
func TestFaultKillStorm(t *testing.T) {
	f := twoBranches(t)
	faultHelper(t)
	t.Run("workers", func(t *testing.T) {
		out := f.faultScript(t, nil, 9, `mkdir P/s && H storm P/s 4 6 || exit $?
for d in P/s/g*; do H check $d || exit 1; done
exit 9`)
		m := stormRE.FindStringSubmatch(strings.SplitAfterN(out, "\n", 2)[0])
		if m == nil || m[1] != "24" {
			t.Fatalf("stdout:\n%s", out)
		}
		if n, _ := strconv.Atoi(m[2]); n == 0 {
			t.Fatalf("no step completed before the kills:\n%s", out)
		}
		// A worker killed before its first mkdir leaves no prefix.
		if strings.Count(out, "check ok prefixes=") != 6 {
			t.Fatalf("checks:\n%s", out)
		}
	})
	t.Run("cmd", func(t *testing.T) {
		must(t, os.Mkdir(filepath.Join(f.branches[0], "s2"), 0o755))
		done := make(chan runResult, 1)
		go func() {
			done <- f.faultRun(t, Config{Argv: []string{faultHelper(t), "storm", f.target + "/s2", "4", "1000"}})
		}()
		pid := workloadProc(t, false)
		time.Sleep(time.Duration(80+rand.Intn(150)) * time.Millisecond)
		must(t, syscall.Kill(pid, syscall.SIGKILL))
		select {
		case r := <-done:
			if r.code != 137 || r.err != nil {
				t.Fatalf("killed CMD: code %d err %v stderr %q", r.code, r.err, r.stderr)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its CMD was killed")
		}
		noDescendants(t)
		out := f.faultScript(t, nil, 0, `n=0; for d in P/s2/g*; do H check $d || exit 1; n=$((n+1)); done; echo gens=$n`)
		if !strings.Contains(out, "gens=") || strings.Contains(out, "gens=0\n") {
			t.Fatalf("after the kill:\n%s", out)
		}
	})
}

// TestFaultThreadExit: a thread blocked in a trapped call (an emulated
// FIFO open, held by a receiver) dies because another thread calls
// exit_group, because the process execs, or because a non-leader thread
// execs while the leader is blocked too (de_thread kills both and the
// exec'ing thread takes the leader's pid). The exit status is the one the
// process chose, the new image's emulated calls are answered, and no
// phantom reader holds the FIFOs. Then threads stepping in the union are
// cut off by exit_group at a random point: the tree stays consistent.
func TestFaultThreadExit(t *testing.T) {
	f := twoBranches(t)
	faultHelper(t)
	for _, c := range []struct {
		name, args string
		code       int
		fifos      []string
	}{
		{"exit_group", "exit P P/t1", 42, []string{"t1"}},
		{"exec", "exec P P/t2", 43, []string{"t2"}},
		{"thread-exec", "thread-exec P P/t3 P/t4", 44, []string{"t3", "t4"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var st Stats
			script := "mkfifo"
			for _, n := range c.fifos {
				script += " P/" + n
			}
			script += " || exit 90\nH thread-fifo " + c.args + "; rc=$?\n"
			for _, n := range c.fifos {
				script += "H no-reader P/" + n + " || exit 91\n"
			}
			script += "H ops P 0 || exit 92\nexit $rc"
			out := f.faultScript(t, &st, c.code, script)
			if out != strings.Repeat("no-reader\n", len(c.fifos)) {
				t.Fatalf("stdout:\n%s", out)
			}
			if st.Handovers < uint64(len(c.fifos)) {
				t.Fatalf("the blocked opens were not handed over: %+v", st)
			}
		})
	}
	t.Run("storm", func(t *testing.T) {
		ms := strconv.Itoa(40 + rand.Intn(80))
		out := f.faultScript(t, nil, 45, `mkdir P/ts || exit 90
H tstorm P/ts 4 `+ms+` 45; rc=$?
H check P/ts || exit 91
exit $rc`)
		if !strings.HasPrefix(out, "check ok prefixes=") || strings.HasSuffix(out, " steps=0\n") {
			t.Fatalf("stdout:\n%s", out)
		}
	})
}

var sigstormRE = regexp.MustCompile(`^sigstorm ok n=(\d+) signals=(\d+) eintr=(\d+)\n$`)

// TestFaultSignals: SIGALRM (setitimer, every 150 µs) and SIGUSR1 (another
// process's kill() in a loop) hit a workload doing 800 rounds of emulated
// mkdir, O_EXCL create, rename, O_EXCL create and unlink on fresh names,
// with handlers installed with SA_RESTART and without. WAIT_KILLABLE_RECV
// makes a received notification immune to non-fatal signals, so every call
// takes effect exactly once: never EEXIST or ENOENT on its own names, each
// create returns an fd of the file it created, never EINTR under
// SA_RESTART (the kernel restarts a call interrupted before the supervisor
// received it), and without SA_RESTART an EINTR only for a call that had
// no effect. The union ends with exactly 800 directories holding exactly
// their g.
func TestFaultSignals(t *testing.T) {
	f := twoBranches(t)
	faultHelper(t)
	requireWaitKillable(t)
	for _, restart := range []string{"1", "0"} {
		t.Run("restart="+restart, func(t *testing.T) {
			var st Stats
			dir := "P/sig" + restart
			out := f.faultScript(t, &st, 0, "mkdir "+dir+" && exec H sigstorm "+dir+" 800 "+restart)
			m := sigstormRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("stdout:\n%s", out)
			}
			if !st.WaitKillable {
				t.Fatalf("the filter lacks WAIT_KILLABLE_RECV on Linux 5.19+: %+v", st)
			}
			if n, _ := strconv.Atoi(m[2]); n < 200 {
				t.Fatalf("only %d signals arrived during the run: the test did not test", n)
			}
			t.Logf("%s signals, %s calls interrupted before they were received (EINTR, no effect)", m[2], m[3])
		})
	}
}

// requireWaitKillable: exactly-once emulation under signals needs
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19); without it a signal after
// RECV makes the kernel restart the call and the emulation run twice
// (package doc, Limits).
func requireWaitKillable(t *testing.T) {
	t.Helper()
	if kernelAtLeast(5, 19) {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Linux 5.19+ (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) required under CI")
	}
	t.Skip("Linux 5.19+ is needed for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
}

// TestFaultSignalBlockedFIFO: the one emulated call that blocks, a FIFO
// open, is not interrupted by a signal once received (the documented
// limit): natively SIGALRM without SA_RESTART makes the open fail with
// EINTR; under run the open waits for its writer, succeeds once, and the
// handler runs after it.
func TestFaultSignalBlockedFIFO(t *testing.T) {
	f := twoBranches(t)
	h := faultHelper(t)
	requireWaitKillable(t)
	native := filepath.Join(f.dir, "nativefifo")
	must(t, unix.Mkfifo(native, 0o644))
	out, err := exec.Command(h, "sig-fifo", native).Output()
	if err != nil || string(out) != "open Interrupted system call\n" {
		t.Fatalf("native oracle: %q %v", out, err)
	}
	must(t, unix.Mkfifo(filepath.Join(f.branches[0], "sigfifo"), 0o644))
	r := f.faultRun(t, Config{Argv: []string{h, "sig-fifo", f.target + "/sigfifo"}})
	if r.code != 0 || r.err != nil || r.stdout != "open ok read x signals after\n" {
		t.Fatalf("under run: code %d err %v stdout %q stderr %q", r.code, r.err, r.stdout, r.stderr)
	}
}

// TestFaultForkMany: CMD forks 100 children (exit codes 1..100, each
// checked by CMD), each running two threads and its main thread through
// emulated steps and leaving an orphaned grandchild that steps after its
// parent is gone. Every status arrives, the orphans are reaped (by init in
// the PID namespace, checked from inside; by the subreaper without one), no
// zombie remains, Run returns CMD's status, and the union holds all 1000
// steps.
func TestFaultForkMany(t *testing.T) {
	f := twoBranches(t)
	faultHelper(t)
	for _, noNS := range []bool{false, true} {
		name, scan := "pidns", "1"
		if noNS {
			name, scan = "none", "0"
		}
		t.Run(name, func(t *testing.T) {
			if !noNS && !hasCapSysAdmin() && !userNamespacesAllowed() {
				skipOrFail(t, "no PID namespace available to this user")
			}
			dir := f.target + "/fm" + name
			r := f.faultRun(t, Config{NoPIDNamespace: noNS, Argv: []string{"sh", "-c",
				"mkdir " + dir + " && exec " + faultHelper(t) + " forkmany " + dir + " 100 " + scan}})
			if r.code != 77 || r.err != nil || r.stdout != "forkmany ok children=100\n" {
				t.Fatalf("code %d err %v stdout %q stderr %q", r.code, r.err, r.stdout, r.stderr)
			}
			noDescendants(t)
			out := f.faultScript(t, nil, 0, "H check "+dir)
			if out != "check ok prefixes=400 steps=1000\n" {
				t.Fatalf("union after the run: %q", out)
			}
		})
	}
}

// setuidCopy installs the helper as a setuid-root program at p.
func setuidCopy(t *testing.T, h, p string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	copyFile(t, h, p, 0o755)
	must(t, os.Chown(p, 0, 0))
	must(t, os.Chmod(p, os.ModeSetuid|0o755))
}

// nativeAs runs argv as uid/gid 65534 without the supervisor.
func nativeAs(t *testing.T, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("native %q: %v\n%s", argv, err, out)
	}
	return string(out)
}

// TestSetuidUnprivileged: under an `mfs run` started as uid 65534 (no_new_privs),
// a setuid-root program, stored in the union or outside, runs without
// privilege: its ids stay 65534 and it can read neither a 0600 root file in
// the union (emulated) nor one outside (the kernel's check on CONTINUE).
// Natively the same program gains euid 0 and reads both, so the test can
// fail.
func TestSetuidUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to make setuid-root programs and start the supervisor as uid 65534")
	}
	f := newFixture(t, nil, []string{"pub=p"}, []string{"secret=s"})
	h := faultHelper(t)
	for _, d := range []string{filepath.Dir(f.dir), f.dir} {
		must(t, os.Chmod(d, 0o755))
	}
	must(t, os.Chmod(filepath.Join(f.branches[1], "secret"), 0o600))
	ext := filepath.Join(f.dir, "ext")
	setuidCopy(t, h, filepath.Join(ext, "suidprobe"))
	setuidCopy(t, h, filepath.Join(f.branches[1], "bin", "suidprobe"))
	must(t, os.WriteFile(filepath.Join(ext, "extsecret"), []byte("e"), 0o600))

	probe := func(bin, secret, pub string) []string {
		return []string{bin, "probe", "ids", "read:" + secret, "read:" + ext + "/extsecret", "read:" + pub}
	}
	native := nativeAs(t, probe(filepath.Join(ext, "suidprobe"), f.branches[1]+"/secret", f.branches[0]+"/pub")...)
	if !strings.HasPrefix(native, "ids uid=65534,0,0 ") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("setuid bits are not honoured on %s: %q", f.dir, native)
		}
		t.Skipf("setuid bits are not honoured on %s: %q", f.dir, native)
	}
	if want := "read:" + f.branches[1] + "/secret ok\nread:" + ext + "/extsecret ok\n"; !strings.Contains(native, want) {
		t.Fatalf("native oracle:\n%s", native)
	}
	p := f.target
	want := "ids uid=65534,65534,65534 gid=65534,65534,65534\nread:" + p + "/secret EACCES\nread:" + ext + "/extsecret EACCES\nread:" + p + "/pub ok\n"
	for _, noNS := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "nopidns"}[noNS], func(t *testing.T) {
			script := strings.Join(probe(ext+"/suidprobe", p+"/secret", p+"/pub"), " ") + " && " +
				strings.Join(probe(p+"/bin/suidprobe", p+"/secret", p+"/pub"), " ") + " && exit 5"
			cmd := f.helperCmdSpec(t, helperSpec{NoPIDNamespace: noNS, Argv: []string{"sh", "-c", script}})
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
				t.Fatalf("unprivileged run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if got := stdout.String(); got != want+want {
				t.Fatalf("setuid under an unprivileged run:\n%s\nwant (twice):\n%s", got, want)
			}
		})
	}
}

// TestSetuidAsRoot: under a root `mfs run` (no no_new_privs), a workload
// drops to uid 65534 and execs a setuid-root program (outside the union,
// and stored in it). Differential against the same steps run natively on a
// copy of the tree: with ruid 65534 and euid 0 the program reads a 0600
// root file, access(2) (real ids) refuses it and AT_EACCESS allows it,
// creates in a root-only directory come out owned 0:65534; setfsuid(65534)
// alone turns the file operations to that uid; after dropping every id
// they are refused. The emulated calls must follow the same ids.
func TestSetuidAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		skipOrFail(t, "setpriv (util-linux) not installed")
	}
	f := newFixture(t, nil, []string{"rootdir/", "nobodyfile=n"}, []string{"secret=s"})
	h := faultHelper(t)
	nat := filepath.Join(f.dir, "native")
	layout(t, nat, "rootdir/", "nobodyfile=n", "secret=s")
	for _, d := range []string{filepath.Dir(f.dir), f.dir} {
		must(t, os.Chmod(d, 0o755))
	}
	for _, root := range []string{nat, f.branches[0], f.branches[1]} {
		if _, err := os.Stat(filepath.Join(root, "secret")); err == nil {
			must(t, os.Chmod(filepath.Join(root, "secret"), 0o600))
		}
		if _, err := os.Stat(filepath.Join(root, "nobodyfile")); err == nil {
			must(t, os.Chown(filepath.Join(root, "nobodyfile"), 65534, 65534))
			must(t, os.Chmod(filepath.Join(root, "nobodyfile"), 0o600))
		}
	}
	ext := filepath.Join(f.dir, "ext")
	setuidCopy(t, h, filepath.Join(ext, "suidprobe"))
	setuidCopy(t, h, filepath.Join(f.branches[1], "bin", "suidprobe"))
	drop := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	actions := func(d string, n int) []string {
		s := strconv.Itoa(n)
		return []string{"probe", "ids",
			"read:" + d + "/secret", "access:" + d + "/secret", "eaccess:" + d + "/secret",
			"create:" + d + "/rootdir/new" + s, "stat:" + d + "/rootdir/new" + s,
			"mkdir:" + d + "/rootdir/sub" + s, "stat:" + d + "/rootdir/sub" + s,
			"setfsuid:65534", "read:" + d + "/secret", "eaccess:" + d + "/secret", "access:" + d + "/nobodyfile",
			"read:" + d + "/nobodyfile", "create:" + d + "/rootdir/fs" + s,
			"setfsuid:0", "read:" + d + "/secret", "create:" + d + "/rootdir/back" + s,
			"dropall", "ids", "read:" + d + "/secret", "create:" + d + "/rootdir/late" + s, "read:" + d + "/nobodyfile",
		}
	}
	out, err := exec.Command(drop[0], append(append(drop[1:], ext+"/suidprobe"), actions(nat, 0)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("native: %v\n%s", err, out)
	}
	want := strings.ReplaceAll(string(out), nat, "DIR")
	if !strings.HasPrefix(want, "ids uid=65534,0,0 gid=65534,65534,65534\nread:DIR/secret ok\naccess:DIR/secret EACCES\n") ||
		!strings.Contains(want, "stat:DIR/rootdir/new0 0:65534 640\n") {
		t.Fatalf("native oracle (setuid not honoured?):\n%s", want)
	}
	for i, bin := range []string{ext + "/suidprobe", f.target + "/bin/suidprobe"} {
		t.Run(map[int]string{0: "outside", 1: "inunion"}[i], func(t *testing.T) {
			argv := append(append(append([]string{}, drop...), bin), actions(f.target, 0)...)
			r := f.faultRun(t, Config{Argv: argv})
			if r.code != 0 || r.err != nil {
				t.Fatalf("code %d err %v\n%s%s", r.code, r.err, r.stdout, r.stderr)
			}
			if got := strings.ReplaceAll(r.stdout, f.target, "DIR"); got != want {
				t.Fatalf("under a root run:\n%s\nnatively:\n%s", got, want)
			}
			// Let the next round create the same names.
			for _, b := range f.branches {
				entries, _ := os.ReadDir(filepath.Join(b, "rootdir"))
				for _, e := range entries {
					os.RemoveAll(filepath.Join(b, "rootdir", e.Name()))
				}
			}
		})
	}
}
