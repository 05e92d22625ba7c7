package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// runTools runs args through an app holding only toolCommands (main.go's
// command list adds them), with run()'s exit-code mapping.
func runTools(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb strings.Builder
	app := &cli.App{
		Name:           "mfs",
		Commands:       toolCommands(),
		Writer:         &out,
		ErrWriter:      &errb,
		OnUsageError:   func(c *cli.Context, err error, isSub bool) error { return usageError{err} },
		ExitErrHandler: func(c *cli.Context, err error) {},
	}
	err := app.Run(permuteArgs(app, append([]string{"mfs"}, args...)))
	var u usageError
	var ec cli.ExitCoder
	switch {
	case err == nil:
		code = exitOK
	case errors.As(err, &u):
		code = exitUsage
	case errors.As(err, &ec):
		code = ec.ExitCode()
	default:
		code = exitError
	}
	if err != nil {
		errb.WriteString("mfs: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), code
}

// toolBranch mounts a small tmpfs (a filesystem of its own, so balance has
// two to balance); root only, like the vfs/tools tests.
func toolBranch(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for tmpfs branches (CI=true: not skipping)")
		}
		t.Skip("needs root for tmpfs branches")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func writeTestFile(t *testing.T, path string, size int, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, size), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestToolsBalance(t *testing.T) {
	a, b := toolBranch(t), toolBranch(t)
	for i, n := range []string{"x/1", "x/2", "y/3"} {
		writeTestFile(t, filepath.Join(a, n), (i+1)<<20, 0o644)
	}
	br := a + "=RW:" + b + "=RW"
	// Flags after the positional are permuted in front of it.
	out, errs, code := runTools(t, "balance", "--branches", br, "--json", "-p", "1", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, errs)
	}
	var dry struct {
		DryRun bool `json:"dry_run"`
		Plan   struct {
			Actions []struct{ Op, Path string }
			Fill    []struct {
				Branch   string
				PctAfter float64 `json:"pct_after"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatalf("dry-run JSON: %v\n%s", err, out)
	}
	if !dry.DryRun || len(dry.Plan.Actions) == 0 || len(dry.Plan.Fill) != 2 {
		t.Fatalf("dry run: %+v", dry)
	}
	if _, err := os.Stat(filepath.Join(b, dry.Plan.Actions[0].Path)); err == nil {
		t.Fatal("the dry run moved a file")
	}
	out, errs, code = runTools(t, "balance", "--branches", br, "-p", "1")
	if code != 0 {
		t.Fatalf("balance: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "fill") || !strings.Contains(errs, "balance done") {
		t.Errorf("output lacks the fill or the summary:\n%s\n%s", out, errs)
	}
	for _, a := range dry.Plan.Actions {
		if _, err := os.Stat(filepath.Join(b, a.Path)); err != nil {
			t.Errorf("planned move of %s not done: %v", a.Path, err)
		}
	}
}

func TestToolsExitCodes(t *testing.T) {
	a, b := toolBranch(t), toolBranch(t)
	writeTestFile(t, filepath.Join(a, "f"), 1024, 0o644)
	writeTestFile(t, filepath.Join(b, "f"), 1024, 0o600)
	br := a + "=RW:" + b + "=RW"
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"balance"}, exitUsage, "usage: mfs balance"},
		{[]string{"balance", t.TempDir()}, exitUsage, "not in an mfs or mergerfs mount"},
		{[]string{"dup", "--branches", br, "-s", "bogus"}, exitUsage, "valid: newest"},
		{[]string{"dedup", "--branches", br, "-s", "mergerfs"}, exitUsage, "mostfreespace"},
		{[]string{"fsck", "--branches", br, "--fix", "all"}, exitUsage, "unknown fix"},
		{[]string{"consolidate", "--branches", br}, exitUsage, "DIR"},
		{[]string{"balance", "--branches", br, "--min-size", "12Q"}, exitUsage, "--min-size"},
		{[]string{"balance", "--branches", br, "d", "--bogus"}, exitUsage, "bogus"},
		{[]string{"fsck", "--branches", br}, exitIssues, "differences between copies remain"},
		{[]string{"fsck", "--branches", br, "--dry-run", "--fix", "newest"}, exitIssues, "remain"},
		{[]string{"fsck", "--branches", br, "--fix", "newest"}, exitOK, ""},
		{[]string{"fsck", "--branches", br}, exitOK, ""},
		{[]string{"dedup", "--branches", br, "-n"}, exitOK, ""},
	}
	for _, tc := range cases {
		out, errs, code := runTools(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("mfs %s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.code, tc.msg, out, errs)
		}
	}
}

func TestToolsCollectInfo(t *testing.T) {
	// "/" is no pool: the bundle says so and still has the rest. (Without
	// arguments every FUSE mount is asked, including other tests'.)
	out, errs, code := runTools(t, "collect-info", "--json", "/")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var in struct {
		Version string
		Uname   string
		Mounts  []struct{ Target, Error string }
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(in.Version, "compatible") || in.Uname == "" || len(in.Mounts) != 1 || !strings.Contains(in.Mounts[0].Error, "not an mfs or mergerfs pool") {
		t.Errorf("bundle %+v", in)
	}
	out, _, code = runTools(t, "collect-info", "--dry-run")
	if code != 0 || !strings.Contains(out, "would read") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
}

// TestToolsOnMergerfsMount finds the pool through a real mergerfs mount,
// from its root and from a directory inside it.
func TestToolsOnMergerfsMount(t *testing.T) {
	a, b := toolBranch(t), toolBranch(t)
	bin, err := exec.LookPath("mergerfs")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mergerfs missing (make deps installs it)")
		}
		t.Skip("mergerfs missing")
	}
	mnt := t.TempDir()
	if out, err := exec.Command(bin, "-o", "allow_other,use_ino,minfreespace=0", a+":"+b, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mergerfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if exec.Command("fusermount3", "-u", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = unix.Unmount(mnt, unix.MNT_DETACH)
		t.Errorf("unmount %s failed (detached)", mnt)
	})
	writeTestFile(t, filepath.Join(a, "show/s1/e1"), 1<<20, 0o644)
	writeTestFile(t, filepath.Join(b, "show/s1/e2"), 2<<20, 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(mnt, "show/s1/e2")); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"consolidate", mnt, "show", "--dry-run", "--json"},
		{"consolidate", filepath.Join(mnt, "show"), "s1", "--dry-run", "--json"},
		{"consolidate", mnt, filepath.Join(mnt, "show/s1"), "--dry-run", "--json"},
	} {
		out, errs, code := runTools(t, args...)
		if code != 0 {
			t.Fatalf("mfs %v: exit %d\n%s", args, code, errs)
		}
		var dry struct {
			Plan struct {
				Actions []struct{ Op, Path, From, To string }
			}
		}
		if err := json.Unmarshal([]byte(out), &dry); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if acts := dry.Plan.Actions; len(acts) != 1 || acts[0].Path != "show/s1/e1" || acts[0].To != b {
			t.Errorf("mfs %v: plan %+v, want show/s1/e1 moved to %s", args, acts, b)
		}
	}
}
