package intercept

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfs-union/mfs/vfs"
	"golang.org/x/sys/unix"
)

// Two branches used by most tests: b0 holds a.txt and d/x, b1 holds b.txt,
// d/y, a shadowed a.txt and a directory only it has.
func twoBranches(t *testing.T, opts ...string) *fixture {
	return newFixture(t, opts,
		[]string{"a.txt=hello\n", "d/x=1", "same=b0\n", "ln -> a.txt"},
		[]string{"b.txt=world\n", "d/y=22", "same=b1!\n", "only1/z=3", "a.txt=shadowed\n"},
	)
}

func lines(s string) []string {
	f := strings.Fields(s)
	sort.Strings(f)
	return f
}

func TestRunCat(t *testing.T) {
	f := twoBranches(t)
	if out := f.ok(t, "cat", f.target+"/a.txt", f.target+"/b.txt", f.target+"/only1/z"); out != "hello\nworld\n3" {
		t.Fatalf("cat: %q", out)
	}
	// The first branch wins for a name both hold.
	if out := f.ok(t, "cat", f.target+"/same"); out != "b0\n" {
		t.Fatalf("cat same: %q", out)
	}
	// A relative path (with "..") from a host cwd into the union.
	rel := strings.TrimPrefix(f.target, "/") + "/../pool/b.txt"
	if out := f.ok(t, "sh", "-c", "cd / && cat "+rel); out != "world\n" {
		t.Fatalf("cat relative: %q", out)
	}
}

func TestRunLs(t *testing.T) {
	f := twoBranches(t)
	got := lines(f.ok(t, "ls", "-a", f.target))
	want := []string{".", "..", "a.txt", "b.txt", "d", "ln", "only1", "same"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ls -a: %v, want %v", got, want)
	}
	if got := lines(f.ok(t, "ls", f.target+"/d")); strings.Join(got, " ") != "x y" {
		t.Fatalf("ls d: %v", got)
	}
	out := f.ok(t, "ls", "-l", f.target+"/d")
	if !strings.Contains(out, "total") || strings.Count(out, "\n") != 3 {
		t.Fatalf("ls -l d:\n%s", out)
	}
	// The union root of a target that does not exist lists as a directory.
	out = f.ok(t, "ls", "-ld", f.target)
	if !strings.HasPrefix(out, "d") {
		t.Fatalf("ls -ld target: %s", out)
	}
}

func TestRunStat(t *testing.T) {
	f := twoBranches(t)
	out := f.ok(t, "stat", "-c", "%s %F %h", f.target+"/d/y", f.target+"/d", f.target+"/b.txt")
	if out != "2 regular file 1\n4096 directory 2\n6 regular file 1\n" {
		t.Fatalf("stat:\n%s", out)
	}
	// Real branch st_dev/st_ino, as fstat on the injected fds reports them.
	var want = statIno(t, filepath.Join(f.branches[1], "b.txt"))
	out = f.ok(t, "stat", "-c", "%i", f.target+"/b.txt")
	if strings.TrimSpace(out) != want {
		t.Fatalf("stat ino %s, want %s", out, want)
	}
	out = f.ok(t, "stat", "-L", "-c", "%s", f.target+"/ln")
	if out != "6\n" {
		t.Fatalf("stat -L symlink: %q", out)
	}
	out = f.ok(t, "stat", "-c", "%F", f.target+"/ln")
	if out != "symbolic link\n" {
		t.Fatalf("stat symlink: %q", out)
	}
	r := f.run(t, "stat", f.target+"/missing")
	if r.code == 0 || !strings.Contains(r.stderr, "No such file or directory") {
		t.Fatalf("stat missing: %d %q", r.code, r.stderr)
	}
}

func statIno(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Stat(p)
	must(t, err)
	return itoa(int(fi.Sys().(*syscall.Stat_t).Ino))
}

func TestRunBusybox(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed")
	}
	f := twoBranches(t)
	got := lines(f.ok(t, "/bin/busybox", "ls", f.target))
	if strings.Join(got, " ") != "a.txt b.txt d ln only1 same" {
		t.Fatalf("busybox ls: %v", got)
	}
	if out := f.ok(t, "/bin/busybox", "cat", f.target+"/d/y"); out != "22" {
		t.Fatalf("busybox cat: %q", out)
	}
	out := f.ok(t, "/bin/busybox", "stat", "-c", "%s", f.target+"/b.txt")
	if out != "6\n" {
		t.Fatalf("busybox stat: %q", out)
	}
}

func TestRunStaticGo(t *testing.T) {
	f := twoBranches(t)
	h := goHelper(t)
	out := f.ok(t, h,
		"readdir", f.target, "+",
		"stat", f.target+"/d/y", "+",
		"read", f.target+"/b.txt", "+",
		"mkdirall", f.target+"/new/deep", "+",
		"write", f.target+"/new/deep/f", "data", "+",
		"rename", f.target+"/new/deep/f", f.target+"/d/moved", "+",
		"readdir", f.target+"/d", "+",
		"readlink", f.target+"/ln",
	)
	want := "a.txt b.txt d/ ln only1/ same\ny size=2 dir=false mode=-rw-r--r--\nworld\nmoved x y\na.txt\n"
	if out != want {
		t.Fatalf("static go:\n%s\nwant:\n%s", out, want)
	}
	// Created on the first branch (category.create=ff), moved within it.
	if b, err := os.ReadFile(filepath.Join(f.branches[0], "d/moved")); err != nil || string(b) != "data" {
		t.Fatalf("moved file on b0: %q %v", b, err)
	}
}

func TestRunCreateLandsOnPolicyBranch(t *testing.T) {
	f := twoBranches(t)
	f.ok(t, "sh", "-c", "echo hi > "+f.target+"/only1/new && mkdir "+f.target+"/nd && touch "+f.target+"/nd/t")
	// ff: the first branch; only1 exists only on b1, so clonepath copies it to b0.
	if b, err := os.ReadFile(filepath.Join(f.branches[0], "only1/new")); err != nil || string(b) != "hi\n" {
		t.Fatalf("created file on b0: %q %v", b, err)
	}
	for _, p := range []string{"nd", "nd/t"} {
		if _, err := os.Stat(filepath.Join(f.branches[0], p)); err != nil {
			t.Fatalf("%s on b0: %v", p, err)
		}
		if _, err := os.Stat(filepath.Join(f.branches[1], p)); err == nil {
			t.Fatalf("%s also on b1", p)
		}
	}
	// umask applies: the workload's umask (022 unless the test runner's differs).
	fi, err := os.Stat(filepath.Join(f.branches[0], "only1/new"))
	must(t, err)
	if fi.Mode().Perm()&^os.FileMode(initialUmask) != fi.Mode().Perm() || fi.Mode().Perm() != 0o666&^os.FileMode(initialUmask) {
		t.Fatalf("mode %v with umask %o", fi.Mode().Perm(), initialUmask)
	}
}

func TestRunMutations(t *testing.T) {
	f := twoBranches(t)
	p := f.target
	f.ok(t, "sh", "-c", strings.Join([]string{
		"mkdir -p " + p + "/m/n",
		"echo 1 > " + p + "/m/n/f",
		"mv " + p + "/m/n/f " + p + "/m/g",
		"ln -s g " + p + "/m/s",
		"cp " + p + "/b.txt " + p + "/m/copy",
		"chmod 600 " + p + "/m/copy",
		"rm " + p + "/a.txt",
		"rmdir " + p + "/m/n",
	}, " && "))
	b0 := f.branches[0]
	for p, want := range map[string]bool{"m/g": true, "m/s": true, "m/copy": true, "m/n": false, "a.txt": false} {
		_, err := os.Lstat(filepath.Join(b0, p))
		if (err == nil) != want {
			t.Errorf("b0/%s exists=%v, want %v", p, err == nil, want)
		}
	}
	// rm removes the name from every branch.
	if _, err := os.Stat(filepath.Join(f.branches[1], "a.txt")); err == nil {
		t.Errorf("a.txt still on b1")
	}
	fi, err := os.Stat(filepath.Join(b0, "m/copy"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("chmod: %v %v", fi, err)
	}
	if s, _ := os.Readlink(filepath.Join(b0, "m/s")); s != "g" {
		t.Errorf("symlink target %q", s)
	}
	out := f.ok(t, "cat", p+"/m/s")
	if out != "1\n" {
		t.Errorf("cat through symlink: %q", out)
	}
}

func TestRunExitStatus(t *testing.T) {
	f := twoBranches(t)
	if r := f.run(t, "sh", "-c", "exit 3"); r.code != 3 || r.err != nil {
		t.Fatalf("exit 3: %d %v", r.code, r.err)
	}
	if r := f.run(t, "sh", "-c", "kill -TERM $$"); r.code != 128+15 || r.err != nil {
		t.Fatalf("killed by SIGTERM: %d %v", r.code, r.err)
	}
	if r := f.run(t, "sh", "-c", "kill -KILL $$"); r.code != 128+9 || r.err != nil {
		t.Fatalf("killed by SIGKILL: %d %v", r.code, r.err)
	}
}

func TestRunNotFound(t *testing.T) {
	f := twoBranches(t)
	r := f.run(t, "mfs-no-such-command")
	if r.code != ExitNotFound || r.err == nil || !strings.Contains(r.err.Error(), "mfs-no-such-command") {
		t.Fatalf("not found: code %d err %v", r.code, r.err)
	}
	r = f.run(t, f.target+"/a.txt") // exists in the union, not executable
	if r.code != ExitCannotExec || r.err == nil {
		t.Fatalf("not executable: code %d err %v", r.code, r.err)
	}
}

func TestRunBackgroundJobKeepsUnion(t *testing.T) {
	f := twoBranches(t)
	// CMD exits at once; its background child reads the union later and is
	// still waited for.
	out := f.ok(t, "sh", "-c", "(sleep 0.2; cat "+f.target+"/b.txt) & exit 0")
	if out != "world\n" {
		t.Fatalf("background job output %q", out)
	}
}

func TestRunChdir(t *testing.T) {
	f := twoBranches(t)
	p := f.target
	// A short relative chdir that the kernel cannot perform: virtual cwd.
	f.ok(t, "mkdir", "-p", p+"/only1/q/r")
	if _, err := os.Stat(filepath.Join(f.branches[0], "only1/q/r")); err != nil {
		t.Fatalf("mkdir -p: %v", err)
	}
	out := f.ok(t, "bash", "-c", "cd "+p+"/d && pwd && /bin/pwd && ls && cat y && cd .. && ls -d only1 && cd only1 && /bin/pwd && ls")
	want := p + "/d\n" + p + "/d\nx\ny\n22only1\n" + p + "/only1\nq\nz\n"
	if out != want {
		t.Fatalf("bash cd:\n%s\nwant:\n%s", out, want)
	}
	h := goHelper(t)
	out = f.ok(t, h, "chdir", p+"/d", "+", "getwd", "+", "readdir", ".", "+", "read", "y", "+", "chdir", "..", "+", "getwd", "+", "read", "b.txt")
	if out != p+"/d\nx y\n22"+p+"\nworld\n" {
		t.Fatalf("go chdir:\n%s", out)
	}
}

func TestRunGetdentsInvariants(t *testing.T) {
	var l0, l1 []string
	for i := 0; i < 300; i++ {
		l0 = append(l0, "f"+itoa(i)+"=x")
		if i%3 == 0 {
			l1 = append(l1, "f"+itoa(i)+"=y") // shadowed duplicates
		} else {
			l1 = append(l1, "g"+itoa(i)+"=y")
		}
	}
	f := newFixture(t, nil, append(l0, "sub/"), append(l1, "sub/"))
	h := goHelper(t)
	// Linux is the oracle for the helper's own checks.
	native := t.TempDir()
	layout(t, native, l0...)
	layout(t, native, l1...)
	layout(t, native, "sub/")
	want := f.okNative(t, h, "dents", native, "1024")
	got := f.ok(t, h, "dents", f.target, "1024")
	if got != want {
		t.Fatalf("union listing:\n%s\nnative:\n%s", got, want)
	}
	if !strings.HasPrefix(got, "503 ") {
		t.Fatalf("count: %.20s", got)
	}
	// Many small reads of a large directory and of an empty one.
	if got := f.ok(t, h, "dents", f.target+"/sub", "64"); got != "2 . ..\n" {
		t.Fatalf("empty dir: %q", got)
	}
}

// okNative runs argv without the supervisor (the oracle).
func (f *fixture) okNative(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("native %q: %v", argv, err)
	}
	return string(out)
}

func TestRunFIFOHandOver(t *testing.T) {
	f := twoBranches(t)
	p := f.target
	// The reader's open blocks in the supervisor until the writer opens,
	// and the writer's open is itself a notification: without the hand-over
	// this deadlocks.
	var st Stats
	r := f.runCfg(t, Config{Argv: []string{"sh", "-c",
		"mkfifo " + p + "/fifo && (echo through > " + p + "/fifo &) && cat " + p + "/fifo"}, Stats: &st})
	if r.code != 0 || r.stdout != "through\n" {
		t.Fatalf("fifo: %d %q %q %v", r.code, r.stdout, r.stderr, r.err)
	}
	if st.Handovers == 0 {
		t.Fatalf("no hand-over counted: %+v", st)
	}
	if !st.SyncWakeUp || !st.WaitKillable {
		t.Errorf("kernel features not in use: %+v", st)
	}
}

// TestRunWatchdog: with the explicit hand-over off, a receiver blocked in a
// FIFO open is rescued by the watchdog.
func TestRunWatchdog(t *testing.T) {
	f := twoBranches(t)
	noFIFOHandOver = true
	defer func() { noFIFOHandOver = false }()
	p := f.target
	var st Stats
	r := f.runCfg(t, Config{Argv: []string{"sh", "-c",
		"mkfifo " + p + "/fifo && { (sleep 0.1; echo late > " + p + "/fifo) & cat " + p + "/fifo; wait; }"}, Stats: &st})
	if r.code != 0 || r.stdout != "late\n" {
		t.Fatalf("fifo: %d %q %q %v", r.code, r.stdout, r.stderr, r.err)
	}
	if st.Handovers == 0 {
		t.Fatalf("watchdog never handed over: %+v", st)
	}
	if st.BySyscall["openat"].Emulated == 0 || st.Busy == 0 {
		t.Errorf("stats: %+v", st)
	}
	// A reader whose writer never comes, killed by the deadline: the
	// supervisor's blocked open is kicked and Run returns promptly.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, err := Run(ctx, Config{Unions: []vfs.Union{{Target: f.target, Pool: f.pool}},
		Argv: []string{"cat", p + "/fifo"}, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard})
	if code != 128+9 || err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("stuck fifo reader: code %d err %v after %v", code, err, time.Since(start))
	}
}

func TestRunSignals(t *testing.T) {
	f := twoBranches(t)
	ready := filepath.Join(f.dir, "ready")
	done := make(chan runResult, 1)
	go func() {
		done <- f.run(t, "sh", "-c", "touch "+ready+"; exec sleep 30")
	}()
	waitFor(t, ready)
	time.Sleep(50 * time.Millisecond) // let sh exec sleep
	must(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case r := <-done:
		if r.code != 128+int(syscall.SIGTERM) || r.err != nil {
			t.Fatalf("forwarded SIGTERM: code %d err %v", r.code, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM was not forwarded")
	}
}

func TestRunCancel(t *testing.T) {
	f := twoBranches(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := filepath.Join(f.dir, "ready")
	go func() {
		waitFor(t, ready)
		cancel()
	}()
	start := time.Now()
	// A background grandchild too: cancellation kills the whole tree.
	code, err := Run(ctx, Config{
		Unions: []vfs.Union{{Target: f.target, Pool: f.pool}},
		Argv:   []string{"sh", "-c", "sleep 30 & touch " + ready + "; wait"},
		Stdin:  strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
	})
	if err == nil || code != 128+9 {
		t.Fatalf("cancel: code %d err %v", code, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancel took %v", d)
	}
	if left := settledDescendants(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func waitFor(t *testing.T, p string) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if _, err := os.Stat(p); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%s never appeared", p)
}

func TestRunExecFromUnion(t *testing.T) {
	f := twoBranches(t)
	h := goHelper(t)
	bin := filepath.Join(f.branches[1], "bin")
	must(t, os.MkdirAll(bin, 0o755))
	copyFile(t, h, filepath.Join(bin, "gohelper"), 0o755)
	must(t, os.WriteFile(filepath.Join(bin, "mfs-test-script"), []byte("#!/bin/sh\necho script ran with $1\ncat "+f.target+"/b.txt\n"), 0o755))
	if _, err := os.Stat("/bin/busybox"); err == nil {
		copyFile(t, "/bin/busybox", filepath.Join(bin, "busybox"), 0o755)
		must(t, os.Symlink("busybox", filepath.Join(bin, "echo")))
	}
	p := f.target
	// A static binary stored in the union, which finds itself through
	// /proc/self/exe as its union path.
	if out := f.ok(t, p+"/bin/gohelper", "executable", "+", "read", p+"/a.txt"); out != p+"/bin/gohelper\nhello\n" {
		t.Fatalf("exec from union: %q", out)
	}
	// A #! script stored in the union, run by path and through PATH.
	if out := f.ok(t, p+"/bin/mfs-test-script", "arg"); out != "script ran with arg\nworld\n" {
		t.Fatalf("script: %q", out)
	}
	r := f.runCfg(t, Config{Argv: []string{"mfs-test-script", "viapath"}, Env: []string{"PATH=" + p + "/bin:/usr/bin:/bin"}})
	if r.code != 0 || r.stdout != "script ran with viapath\nworld\n" {
		t.Fatalf("script via PATH: %d %q %q %v", r.code, r.stdout, r.stderr, r.err)
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		// busybox picks its applet from argv[0], which execvp passes as the
		// very string that names the file: the rewrite keeps the basename.
		if out := f.ok(t, "sh", "-c", p+"/bin/echo applet ok"); out != "applet ok\n" {
			t.Fatalf("busybox applet via symlink: %q", out)
		}
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.WriteFile(to, b, mode))
}

// TestRunI386 runs a GOARCH=386 static program: the i386 ABI is trapped by
// its own syscall numbers (fstatat64, openat 295, getdents64 220, ...).
func TestRunI386(t *testing.T) {
	f := twoBranches(t)
	h := goHelperArch(t, "386")
	if out, err := exec.Command(h, "exists", "/").Output(); err != nil || string(out) != "true\n" {
		t.Skipf("cannot run i386 binaries (IA32_EMULATION?): %v", err)
	}
	p := f.target
	out := f.ok(t, h,
		"readdir", p, "+",
		"stat", p+"/d/y", "+",
		"read", p+"/b.txt", "+",
		"mkdirall", p+"/n32/deep", "+",
		"write", p+"/n32/deep/f", "data", "+",
		"rename", p+"/n32/deep/f", p+"/d/m32", "+",
		"readdir", p+"/d", "+",
		"readlink", p+"/ln", "+",
		"chdir", p+"/only1", "+", "getwd", "+", "read", "z",
	)
	want := "a.txt b.txt d/ ln only1/ same\ny size=2 dir=false mode=-rw-r--r--\nworld\nm32 x y\na.txt\n" + p + "/only1\n3"
	if out != want {
		t.Fatalf("i386:\n%s\nwant:\n%s", out, want)
	}
	if b, err := os.ReadFile(filepath.Join(f.branches[0], "d/m32")); err != nil || string(b) != "data" {
		t.Fatalf("i386 create+rename on b0: %q %v", b, err)
	}
	if out := f.ok(t, h, "dents", p, "64"); out != "9 . .. a.txt b.txt d ln n32 only1 same\n" {
		t.Fatalf("i386 dents: %q", out)
	}
}

// TestRunUnprivileged runs the supervisor itself as uid 65534: the stub
// needs no_new_privs, and every emulated call runs as the workload's user.
func TestRunUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("already unprivileged: every other test covers this case")
	}
	f := twoBranches(t)
	openToNobody(t, f)
	// A file of another user (root): in the workload's user namespace
	// (where there is one) its owner shows as the overflow id, emulated
	// stat and native fstat alike.
	layout(t, f.branches[1], "rootfile=r")
	p := f.target
	cmd := f.helperCmd(t, "sh", "-c", "id -u && cat "+p+"/b.txt && umask 027 && echo new > "+p+"/d/u && mkdir -p "+p+"/only1/k/l && ls "+p+"/d && "+
		"stat -c %u:%g "+p+"/rootfile "+p+"/b.txt && stat -L -c %u:%g /dev/stdin < "+p+"/rootfile && cd "+p+"/only1 && ls")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged run: %v\n%s", err, out)
	}
	root := "0:0"
	if userNamespacesAllowed() {
		root = "65534:65534"
	}
	if want := "65534\nworld\nu\nx\ny\n" + root + "\n65534:65534\n" + root + "\nk\nz\n"; string(out) != want {
		t.Fatalf("unprivileged:\n%s\nwant:\n%s", out, want)
	}
	fi, err := os.Stat(filepath.Join(f.branches[0], "d/u"))
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Mode().Perm() != 0o640 {
		t.Fatalf("created as uid %d mode %v", st.Uid, fi.Mode().Perm())
	}
	if left := settledDescendants(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestRunIdentityAsRoot: a root supervisor acts with the ids of the calling
// thread, so a workload that dropped to 65534 is refused what Linux refuses.
func TestRunIdentityAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed")
	}
	f := newFixture(t, nil, []string{"secret=x", "pub/"}, []string{"open=y"})
	must(t, os.Chmod(filepath.Join(f.branches[0], "secret"), 0o600))
	for _, d := range []string{filepath.Dir(f.dir), f.dir, f.branches[0], f.branches[1]} {
		must(t, os.Chmod(d, 0o755))
	}
	must(t, os.Chown(filepath.Join(f.branches[0], "pub"), 65534, 65534))
	p := f.target
	drop := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	out := f.ok(t, append(drop, "sh", "-c",
		"cat "+p+"/secret 2>&1; touch "+p+"/newfile 2>&1; cat "+p+"/open; touch "+p+"/pub/mine && ls -n "+p+"/pub/mine | cut -d' ' -f3")...)
	want := "cat: " + p + "/secret: Permission denied\ntouch: cannot touch '" + p + "/newfile': Permission denied\ny65534\n"
	if out != want {
		t.Fatalf("as 65534 under a root supervisor:\n%s\nwant:\n%s", out, want)
	}
}

// TestRunNested: a workload cannot start its own `mfs run` (one listener per
// process); the error names the cause.
func TestRunNested(t *testing.T) {
	f := twoBranches(t)
	cmd := f.helperCmd(t, "true")
	r := f.runCfg(t, Config{Argv: cmd.Args, Env: cmd.Env})
	if r.code != ExitSetup || !strings.Contains(r.stderr, "already installed") {
		t.Fatalf("nested: code %d err %v stderr %q", r.code, r.err, r.stderr)
	}
}

func TestRunCoreutils(t *testing.T) {
	f := twoBranches(t)
	p := f.target
	out := t.TempDir()
	script := strings.Join([]string{
		"set -e",
		"test -r " + p + "/a.txt && test -d " + p + "/d && ! test -e " + p + "/nope && echo access-ok",
		"exec 3< " + p + "/b.txt; readlink /proc/self/fd/3; exec 3<&-",
		"realpath " + p + "/ln",
		"df " + p + " > /dev/null && echo df-ok",
		"touch -d 2001-02-03T04:05:06Z " + p + "/d/x && stat -c %Y " + p + "/d/x",
		"truncate -s 5 " + p + "/d/x && stat -c %s " + p + "/d/x",
		"ln " + p + "/d/x " + p + "/d/hard && stat -c %h " + p + "/d/x",
		"find " + p + " | sort | sed 's|" + p + "|P|'",
		"du -s " + p + " > /dev/null && echo du-ok",
		"cp -a " + p + "/d " + p + "/d2 && ls " + p + "/d2",
		"rm -r " + p + "/d2 && test ! -e " + p + "/d2 && echo rm-ok",
		"tar -C " + p + " -cf " + out + "/t.tar d only1 && tar -tf " + out + "/t.tar | sort",
		"mkdir " + p + "/untar && tar -C " + p + "/untar -xf " + out + "/t.tar && ls -R " + p + "/untar | tr '\\n' ' '; echo",
		"cd " + p + "/only1 && ls -la . .. | grep -c '^[d-]'",
	}, "\n")
	got := f.ok(t, "bash", "-c", script)
	want := strings.Join([]string{
		"access-ok",
		p + "/b.txt",
		p + "/a.txt",
		"df-ok",
		"981173106",
		"5",
		"2",
		"P", "P/a.txt", "P/b.txt", "P/d", "P/d/hard", "P/d/x", "P/d/y", "P/ln", "P/only1", "P/only1/z", "P/same",
		"du-ok",
		"hard", "x", "y",
		"rm-ok",
		"d/", "d/hard", "d/x", "d/y", "only1/", "only1/z",
		p + "/untar: d only1  " + p + "/untar/d: hard x y  " + p + "/untar/only1: z ",
		"11", // "." and ".." of only1 (3 entries) and of the union root (8)
		"",
	}, "\n")
	if got != want {
		t.Fatalf("coreutils:\n%s\nwant:\n%s", got, want)
	}
}

func TestRunRsyncAndSqlite(t *testing.T) {
	f := twoBranches(t)
	p := f.target
	src := t.TempDir()
	layout(t, src, "top=1", "sub/a=aa", "sub/deeper/b=bbb", "link -> sub/a", "empty/")
	// Into the pool, diff, a second pass with nothing to do, and back out.
	out := t.TempDir()
	script := strings.Join([]string{
		"set -e",
		"rsync -a " + src + "/ " + p + "/backup/",
		"diff -r " + src + " " + p + "/backup && echo same",
		"rsync -a -i " + src + "/ " + p + "/backup/ | wc -l",
		"rsync -a " + p + "/ " + out + "/copy/",
		"diff -r " + src + " " + out + "/copy/backup && echo same-out",
	}, "\n")
	if got := f.ok(t, "bash", "-c", script); got != "same\n0\nsame-out\n" {
		t.Fatalf("rsync:\n%s", got)
	}
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 not installed")
	}
	db := p + "/d/t.db"
	got := f.ok(t, "sqlite3", db, "create table t(x); insert into t values (1),(2); select sum(x) from t;")
	if got != "3\n" {
		t.Fatalf("sqlite3: %q", got)
	}
	if _, err := os.Stat(filepath.Join(f.branches[0], "d/t.db")); err != nil {
		t.Fatalf("database not on b0: %v", err)
	}
}

// TestRunConcurrent: Runs in one process do not see each other's children.
func TestRunConcurrent(t *testing.T) {
	f := twoBranches(t)
	g := twoBranches(t)
	type res struct {
		code int
		out  string
		took time.Duration
	}
	slow := make(chan res, 1)
	go func() {
		start := time.Now()
		r := g.run(t, "sh", "-c", "(sleep 1; cat "+g.target+"/b.txt) & exit 5")
		slow <- res{r.code, r.stdout, time.Since(start)}
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	r := f.run(t, "sh", "-c", "cat "+f.target+"/a.txt; exit 7")
	if r.code != 7 || r.stdout != "hello\n" {
		t.Fatalf("fast run: %d %q", r.code, r.stdout)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Fatalf("fast run waited %v for the other run's background job", d)
	}
	s := <-slow
	if s.code != 5 || s.out != "world\n" || s.took < time.Second {
		t.Fatalf("slow run: %+v", s)
	}
}

// TestRunUmaskChanges: umasks are cached per thread, so a umask(2) call must
// drop them. A shell creates files itself (echo > file) before and after
// changing its umask, and a child inherits the last one; as root and as an
// unprivileged caller (the two ways creds are built).
func TestRunUmaskChanges(t *testing.T) {
	for _, who := range []string{"root", "nobody"} {
		t.Run(who, func(t *testing.T) {
			if who == "nobody" && os.Geteuid() != 0 {
				t.Skip("already unprivileged: the root case is this one")
			}
			f := twoBranches(t)
			p := f.target
			cmd := f.helperCmd(t, "sh", "-c", "umask 022 && echo a > "+p+"/u1 && umask 077 && echo b > "+p+"/u2 && "+
				"umask 002 && echo c > "+p+"/u3 && sh -c 'echo d > "+p+"/u4' && umask 027 && mkdir "+p+"/u5")
			if who == "nobody" {
				openToNobody(t, f)
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for name, want := range map[string]os.FileMode{"u1": 0o644, "u2": 0o600, "u3": 0o664, "u4": 0o664, "u5": 0o750} {
				fi, err := os.Stat(filepath.Join(f.branches[0], name))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s: mode %v, want %v", name, got, want)
				}
			}
		})
	}
}

// getxattr(2) follows a trailing symlink in the union namespace, lgetxattr
// does not; a union path that is no link is read without resolving it
// first. Checked with getfattr (getxattr; -h: lgetxattr) on a file, a
// relative and an absolute link inside the union, a link leaving it, and
// the user.mergerfs.* names, which describe the link or its target.
func TestRunGetxattrFollows(t *testing.T) {
	if _, err := exec.LookPath("getfattr"); err != nil {
		t.Fatalf("getfattr (package attr, installed by make test): %v", err)
	}
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "o"), nil, 0o644))
	must(t, unix.Setxattr(filepath.Join(outside, "o"), "user.k", []byte("outside"), 0))
	f := newFixture(t, nil, []string{"d/"}, []string{"d/f=x"})
	must(t, unix.Setxattr(filepath.Join(f.branches[1], "d/f"), "user.k", []byte("inside"), 0))
	layout(t, f.branches[0], "d/rel -> f", "abs -> "+f.target+"/d/f", "out -> "+outside+"/o", "d/dangling -> nope")
	p := f.target
	get := func(flags, name, path string) string {
		return "getfattr --absolute-names " + flags + " --only-values -n " + name + " " + path + " 2>&1; echo"
	}
	script := strings.Join([]string{
		get("", "user.k", p+"/d/f"),
		get("", "user.k", p+"/d/rel"),
		get("", "user.k", p+"/abs"),
		get("", "user.k", p+"/out"),
		"getfattr --absolute-names -h -n user.k " + p + "/d/rel 2>&1 | grep -c 'No such attribute'",
		get("", "user.mergerfs.basepath", p+"/d/rel"),
		get("-h", "user.mergerfs.basepath", p+"/d/rel"),
		"getfattr --absolute-names -n user.k " + p + "/d/dangling 2>&1 | grep -c 'No such file'",
	}, "\n")
	got := f.ok(t, "bash", "-c", script)
	want := strings.Join([]string{"inside", "inside", "inside", "outside", "1", f.branches[1], f.branches[0], "1", ""}, "\n")
	if got != want {
		t.Fatalf("getxattr through links:\n%s\nwant:\n%s", got, want)
	}
}

// TestRunGetxattrEdges: the supervisor reads a getxattr's path and name
// together when both end within their first chunk, one by one otherwise;
// strings ending on a page's last byte before an inaccessible page, a name
// over XATTR_NAME_MAX and a name pointer the task cannot read get what
// Linux gives them on the branch itself.
func TestRunGetxattrEdges(t *testing.T) {
	f := newFixture(t, nil, []string{"d/"}, []string{"d/f=x"})
	must(t, unix.Setxattr(filepath.Join(f.branches[1], "d/f"), "user.k", []byte("inside"), 0))
	h := goHelper(t)
	native, err := exec.Command(h, "xattredges", filepath.Join(f.branches[1], "d/f"), "user.k").CombinedOutput()
	if err != nil {
		t.Fatalf("natively: %v\n%s", err, native)
	}
	want := "inside\ninside\ninside\ninside\nnumerical result out of range\nbad address\n"
	if string(native) != want {
		t.Fatalf("natively:\n%s\nwant:\n%s", native, want)
	}
	if got := f.ok(t, h, "xattredges", f.target+"/d/f", "user.k"); got+"\n" != want && got != want {
		t.Fatalf("under run:\n%s\nwant:\n%s", got, want)
	}
}
