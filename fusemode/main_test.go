package fusemode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// The test binary doubles as a mount server: with helperEnv set, TestMain
// mounts the pool described in it, reports readiness on fd 3 and serves
// until SIGTERM. Anything that forks against a mount (ls, cp, rsync,
// getfattr, a process with another uid) uses such a separate server, so a
// hung mount can never deadlock the test process itself.
const helperEnv = "MFS_FUSEMODE_SERVE"

type helperArgs struct {
	Branches   []string `json:"branches"`
	Mountpoint string   `json:"mountpoint"`
	Options    []string `json:"options"`
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(serveHelper(spec))
	}
	os.Exit(m.Run())
}

// serveHelper is the body of the re-executed test binary.
func serveHelper(spec string) int {
	ready := os.NewFile(3, "ready")
	fail := func(err error) int {
		fmt.Fprintf(ready, "error: %v\n", err)
		return 1
	}
	var a helperArgs
	if err := json.Unmarshal([]byte(spec), &a); err != nil {
		return fail(err)
	}
	o, pool, err := buildPool(a)
	if err != nil {
		return fail(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := Mount(pool, a.Mountpoint, o, Settings{Logger: log})
	if err != nil {
		return fail(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintln(ready, "ready")
	ready.Close()
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-sig:
	case <-done:
		return 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := srv.Unmount()
		if err == nil {
			return 0
		}
		if time.Now().After(deadline) {
			// Still busy (a loaded machine releases files slowly): detach it
			// so the test can go on, and report the failure to unmount.
			fmt.Fprintf(os.Stderr, "helper: unmount: %v\n", err)
			unix.Unmount(a.Mountpoint, unix.MNT_DETACH)
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func buildPool(a helperArgs) (*config.Options, *vfs.Pool, error) {
	o, err := config.Parse(a.Options)
	if err != nil {
		return nil, nil, err
	}
	var bs []string
	for _, b := range a.Branches {
		if strings.Contains(b, "=") {
			b += "=RW" // a path with '=' needs an explicit mode (test names with '=')
		}
		bs = append(bs, b)
	}
	if err := o.ApplyArgs([]string{strings.Join(bs, ":"), a.Mountpoint}); err != nil {
		return nil, nil, err
	}
	if _, err := o.Validate(); err != nil {
		return nil, nil, err
	}
	pool, err := vfs.New(o, vfs.Settings{})
	if err != nil {
		return nil, nil, err
	}
	return o, pool, nil
}

// fuseMissing probes what a mount needs and says what is missing ("" = all there).
func fuseMissing() string {
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Sprintf("cannot open /dev/fuse: %v", err)
	}
	unix.Close(fd)
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return "fusermount3 not installed (package fuse3)"
	}
	return ""
}

// requireFUSE skips a test that needs a real mount when FUSE is missing, and
// fails it instead under CI=true, where a skip would hide a broken setup.
func requireFUSE(t testing.TB) {
	t.Helper()
	if why := fuseMissing(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FUSE required (CI=true): %s", why)
		}
		t.Skipf("FUSE unavailable: %s", why)
	}
}

// skipOrFail skips the test for why, except under CI=true, where a missing
// prerequisite is a failure.
func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: not skipping)", why)
	}
	t.Skip(why)
}

// requireRoot fails (never skips) tests that need root: mfs's mount tests run as root.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (CI=true)")
		}
		t.Skip("needs root")
	}
}

// isMounted reports whether path is a mount point in this mount namespace.
func isMounted(path string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMount(fields[4]) == path {
			return true
		}
	}
	return false
}

// mountLine returns the /proc/self/mounts line of path.
func mountLine(path string) string {
	data, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && unescapeMount(f[1]) == path {
			return l
		}
	}
	return ""
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// forceUnmount is the last resort of a cleanup: a lazy unmount.
func forceUnmount(path string) {
	exec.Command("fusermount3", "-u", "-z", path).Run()
}

// checkUnmounted fails t if path is still mounted, and detaches it.
func checkUnmounted(t testing.TB, path string) {
	t.Helper()
	if isMounted(path) {
		forceUnmount(path)
		t.Errorf("mount leaked at %s (detached with fusermount3 -u -z)", path)
	}
}

// layout creates files in dir: "d/" is a directory, "f" an empty file,
// "f=text" a file with content, "a -> b" a symlink.
func layout(t testing.TB, dir string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		switch {
		case strings.Contains(e, " -> "):
			name, target, _ := strings.Cut(e, " -> ")
			mkParent(t, filepath.Join(dir, name))
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(e, "/"):
			if err := os.MkdirAll(filepath.Join(dir, e), 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			name, content, _ := strings.Cut(e, "=")
			p := filepath.Join(dir, name)
			mkParent(t, p)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mkParent(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fixture is a set of branch directories and a mount point.
type fixture struct {
	branches []string
	mnt      string
	srv      *Server   // in-process mounts
	pool     *vfs.Pool // in-process mounts
	child    *exec.Cmd // helper-process mounts
	opts     []string
	stderr   *syncBuffer
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{mnt: filepath.Join(root, "mnt")}
	for i := 1; i <= n; i++ {
		b := filepath.Join(root, fmt.Sprintf("b%d", i))
		if err := os.Mkdir(b, 0o755); err != nil {
			t.Fatal(err)
		}
		f.branches = append(f.branches, b)
	}
	if err := os.Mkdir(f.mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) b(i int, rel string) string { return filepath.Join(f.branches[i], rel) }
func (f *fixture) m(rel string) string        { return filepath.Join(f.mnt, rel) }

// mountInProcess serves the pool from this process; only the test's own
// syscalls may touch it.
func (f *fixture) mountInProcess(t testing.TB, opts ...string) {
	t.Helper()
	requireFUSE(t)
	o, pool, err := buildPool(helperArgs{Branches: f.branches, Mountpoint: f.mnt, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := Mount(pool, f.mnt, o, Settings{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, f.pool, f.opts = srv, pool, opts
	t.Cleanup(func() {
		var err error
		for i := 0; i < 50; i++ {
			if err = srv.Unmount(); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("unmount: %v", err)
		}
		checkUnmounted(t, f.mnt)
		pool.Close()
	})
}

// syncBuffer collects a child's stderr; exec's copying goroutine writes
// while a failing test may already read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// mountChild serves the pool from a re-executed test binary.
func (f *fixture) mountChild(t testing.TB, opts ...string) {
	t.Helper()
	requireFUSE(t)
	spec, err := json.Marshal(helperArgs{Branches: f.branches, Mountpoint: f.mnt, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// A -race binary sleeps a second at exit unless told not to.
	cmd.Env = append(os.Environ(), helperEnv+"="+string(spec),
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.ExtraFiles = []*os.File{pw}
	f.stderr = &syncBuffer{}
	cmd.Stderr = f.stderr
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		pw.Close()
		t.Fatal(err)
	}
	pw.Close()
	f.child, f.opts = cmd, opts
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("mount server: %v\n%s", err, f.stderr)
			}
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("mount server did not stop on SIGTERM\n%s", f.stderr)
		}
		checkUnmounted(t, f.mnt)
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(pr).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s != "ready" {
			t.Fatalf("mount server: %q\n%s", s, f.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("mount server not ready after 20s\n%s", f.stderr)
	}
}

// run runs a command with a deadline and returns its combined output.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func wantErrno(t testing.TB, what string, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

// waitFor polls cond for up to five seconds (RELEASE and FORGET reach the
// server asynchronously) and fails t if it never holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
