package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mfsBin is the mfs binary, built once for the package's end-to-end tests.
var mfsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mfs-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mfsBin = filepath.Join(dir, "mfs")
	out, err := exec.Command("go", "build", "-o", mfsBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building mfs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mfs runs the binary and returns stdout, stderr and the exit code.
func mfs(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return mfsAs(t, "mfs", args...)
}

func mfsAs(t *testing.T, argv0 string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(mfsBin, args...)
	cmd.Args[0] = argv0
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	makeDirs(t, dir, "disk1", "disk2", "disk1/pool")
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"explain", dir, "/x", "-o", "cache.file=full"}, 2, `did you mean "cache.files"`},
		{[]string{"explain", dir, "/x", "-o", "category.create=foo"}, 2, "want one of all, epall"},
		{[]string{"explain", dir, "/x", "-o", "minfreespace=12Q"}, 2, "minfreespace"},
		{[]string{"explain", dir}, 2, "usage: mfs explain"},
		{[]string{"explain", dir, "/x", "--jsn"}, 2, `unknown flag "--jsn"`},
		{[]string{"explian"}, 2, `did you mean "explain"`},
		{[]string{"version", "extra"}, 2, "takes no arguments"},
		{[]string{dir + "/a:" + dir + "/b"}, 2, "give BRANCHES and MOUNTPOINT"},
		{[]string{dir, dir + "/nonexistent-mountpoint"}, 2, "mountpoint"},
		{[]string{dir, dir}, 2, "branches can not include the mountpoint"},
		// Mounted over the branches' parent, the daemon would wait on
		// itself (mfs mount never returned); inside a branch, the pool
		// would contain itself.
		{[]string{dir + "/disk1:" + dir + "/disk2", dir}, 2, "is inside the mountpoint"},
		// A device given instead of its mount point: skipped, and said so.
		{[]string{"/dev/null", dir + "/disk1/pool"}, 2, "/dev/null is a character device, not a directory: skipped"},
		{[]string{dir + "/disk1:" + dir + "/disk2", dir + "/disk1/pool"}, 2, "is inside branch " + dir + "/disk1"},
		{[]string{"mount", dir, dir + "/m", "-o", "func.bogus=ff"}, 2, "func.bogus"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := mfs(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, _, code := mfs(t, "version")
	if code != 0 || !strings.Contains(out, "mergerfs 2.42.0 compatible") {
		t.Fatalf("%d %q", code, out)
	}
	out, _, code = mfsAs(t, "mergerfs", "-v")
	if code != 0 || !strings.HasPrefix(out, "mfs ") {
		t.Fatalf("mergerfs -v: %d %q", code, out)
	}
}

func TestOptionsListsEveryOption(t *testing.T) {
	out, _, code := mfs(t, "options")
	if code != 0 {
		t.Fatal(code)
	}
	for _, k := range []string{"category.create", "func.getattr", "minfreespace", "cache.files", "inodecalc", "passthrough.io", "moveonenospc"} {
		if !strings.Contains(out, "  "+k+"=") {
			t.Errorf("mfs options does not list %s", k)
		}
	}
}

func TestExplainJSON(t *testing.T) {
	root := t.TempDir()
	b1, b2 := filepath.Join(root, "b1"), filepath.Join(root, "b2")
	os.MkdirAll(filepath.Join(b1, "d"), 0o755)
	os.MkdirAll(b2, 0o755)
	out, stderr, code := mfs(t, "explain", b1+":"+b2, "/d/new", "--json", "-o", "category.create=epmfs,minfreespace=1M", "--func", "create")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var exps []struct {
		Func     string
		Chosen   []int
		Branches []struct{ Reason string }
	}
	if err := json.Unmarshal([]byte(out), &exps); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(exps) != 1 || exps[0].Func != "create" || len(exps[0].Chosen) != 1 || exps[0].Chosen[0] != 0 {
		t.Fatalf("explanation %+v", exps)
	}
	if exps[0].Branches[1].Reason != "path does not exist" {
		t.Fatalf("b2 reason %q", exps[0].Branches[1].Reason)
	}
}

func TestRunCLI(t *testing.T) {
	root := t.TempDir()
	b1, b2 := filepath.Join(root, "b1"), filepath.Join(root, "b2")
	os.MkdirAll(b1, 0o755)
	os.MkdirAll(b2, 0o755)
	os.WriteFile(filepath.Join(b2, "hello"), []byte("from b2"), 0o644)
	target := filepath.Join(root, "pool")
	union := target + "=" + b1 + ":" + b2
	out, stderr, code := mfs(t, "run", "--union", union, "-o", "category.create=ff,minfreespace=1M", "--",
		"sh", "-c", "cat "+target+"/hello; echo x > "+target+"/new; exit 7")
	if code != 7 || out != "from b2" {
		t.Fatalf("exit %d, out %q, stderr %q; want 7 and the file's contents", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(b1, "new")); err != nil {
		t.Fatal("file created under run did not land on the ff branch:", err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "--", "true"}, 2, "no --union given"},
		{[]string{"run", "--union", union}, 2, "no CMD given"},
		{[]string{"run", "--union", "nobranches", "--", "true"}, 2, "want TARGET=BRANCH1:BRANCH2"},
		{[]string{"run", "--union", b1 + "/x=" + b1, "--", "true"}, 2, "inside its branch"},
		{[]string{"run", "--union", union, "--union", target + "/sub=" + b1, "--", "true"}, 2, "overlap"},
		{[]string{"run", "--union", union, "-o", "category.create=nope", "--", "true"}, 2, "want one of"},
		{[]string{"run", "--union", union, "--", "no-such-command-here"}, 127, "not found"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			_, stderr, code := mfs(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
	// mfs run --help lists what run cannot do (issue: documented in the
	// package doc and the help).
	out, _, code = mfs(t, "run", "--help")
	if code != 0 || !strings.Contains(out, "LIMITS:") || !strings.Contains(out, "File name too long") || !strings.Contains(out, "moveonenospc") {
		t.Fatalf("mfs run --help: exit %d, no limits section:\n%s", code, out)
	}
	// --no-pid-namespace keeps CMD in our PID namespace; without it (root
	// here) CMD gets its own.
	ours, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []bool{false, true} {
		args := []string{"run", "--union", union}
		if flag {
			args = append(args, "--no-pid-namespace")
		}
		out, stderr, code := mfs(t, append(args, "--", "readlink", "/proc/self/ns/pid")...)
		if code != 0 || (strings.TrimSpace(out) == ours) != flag {
			t.Fatalf("%v: exit %d, pid namespace %q (ours %q), stderr %q", args, code, out, ours, stderr)
		}
	}
	// --stats - prints what the union cost to stderr.
	_, stderr, code = mfs(t, "run", "--stats", "-", "--union", union, "--", "cat", target+"/hello")
	if code != 0 || !strings.Contains(stderr, "emulated in a union") || !strings.Contains(stderr, "openat") {
		t.Fatalf("--stats -: exit %d, stderr %q", code, stderr)
	}
	// MFS_CPUPROFILE profiles the supervisor and is not passed on to CMD.
	prof := filepath.Join(root, "run.pprof")
	t.Setenv("MFS_CPUPROFILE", prof)
	out, stderr, code = mfs(t, "run", "--union", union, "--", "sh", "-c", "env | grep -c MFS_CPUPROFILE; true")
	os.Unsetenv("MFS_CPUPROFILE")
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 || strings.TrimSpace(out) != "0" {
		t.Fatalf("MFS_CPUPROFILE: profile %v, CMD saw the variable %q times, exit %d, stderr %q", err, out, code, stderr)
	}
	_, stderr, _ = mfs(t, "run", "--union", union, "-o", "cache.files=full", "--", "true")
	if !strings.Contains(stderr, "cache.files") || !strings.Contains(stderr, "only apply to a mount") {
		t.Fatalf("mount-only option not reported: %q", stderr)
	}
	// Reads and writes never reach the supervisor, and close is not trapped.
	_, stderr, _ = mfs(t, "run", "--union", union, "-o", "nullrw=true,dropcacheonclose=true,cache.statfs=5", "--", "true")
	if !strings.Contains(stderr, "dropcacheonclose, nullrw only apply to a mount") {
		t.Fatalf("nullrw/dropcacheonclose under run: %q", stderr)
	}
}
