package intercept

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// TestRunExecRelative: `cd /pool/x && ./configure` where /pool does not
// exist on disk, so the shell's cwd is virtual and the kernel cannot reach
// "./configure" from its own cwd. A shell script is handed back to the
// shell (ENOEXEC), which runs it with $0 as typed; a static binary and a
// script with another interpreter are exec'd through an injected fd of the
// file ("/dev/fd/N").
func TestRunExecRelative(t *testing.T) {
	f := twoBranches(t)
	h := goHelper(t)
	proj := filepath.Join(f.branches[1], "proj")
	must(t, os.MkdirAll(proj, 0o755))
	// configure finds its sources from $0, as autoconf's does.
	must(t, os.WriteFile(filepath.Join(proj, "configure"), []byte("#!/bin/sh\n"+
		"srcdir=$(dirname \"$0\")\n"+
		"echo \"0=$0 args=$*\"\n"+
		"test -r \"$srcdir/configure.ac\" || { echo 'cannot find sources' >&2; exit 1; }\n"+
		"echo \"srcdir=$srcdir pwd=$(pwd)\"\n"+
		"echo generated > config.status\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(proj, "configure.ac"), []byte("AC_INIT\n"), 0o644))
	copyFile(t, h, filepath.Join(proj, "gohelper"), 0o755)
	must(t, os.WriteFile(filepath.Join(proj, "catscript"), []byte("#!/bin/cat\nshown by cat\n"), 0o755))
	p := f.target

	for _, sh := range []string{"bash", "sh"} {
		t.Run(sh, func(t *testing.T) {
			if _, err := exec.LookPath(sh); err != nil {
				t.Skipf("%s not installed", sh)
			}
			out := f.ok(t, sh, "-c", "cd "+p+"/proj && ./configure --prefix=/x && cat config.status && "+
				"./gohelper executable + getwd + read configure.ac && ./catscript")
			want := "0=./configure args=--prefix=/x\n" +
				"srcdir=. pwd=" + p + "/proj\n" +
				"generated\n" +
				p + "/proj/gohelper\n" + p + "/proj\nAC_INIT\n" +
				"#!/bin/cat\nshown by cat\n"
			if out != want {
				t.Fatalf("%s:\n%s\nwant:\n%s", sh, out, want)
			}
			// config.status was created in the union (create policy ff: on
			// b0, its directory cloned there).
			cs := filepath.Join(f.branches[0], "proj/config.status")
			if b, err := os.ReadFile(cs); err != nil || string(b) != "generated\n" {
				t.Fatalf("config.status: %q %v", b, err)
			}
			must(t, os.Remove(cs))
		})
	}

	// An absolute path whose branch path does not fit in the string: the
	// shell runs the script with $0 the union path.
	t.Run("absolute", func(t *testing.T) {
		dir, err := filepath.EvalSymlinks(t.TempDir())
		must(t, err)
		long := filepath.Join(dir, "a-branch-with-a-rather-long-name")
		layout(t, long, "proj/configure.ac=AC_INIT\n")
		copyFile(t, filepath.Join(proj, "configure"), filepath.Join(long, "proj/configure"), 0o755)
		o, err := config.Parse([]string{"branches=" + long})
		must(t, err)
		pool, err := vfs.New(o, vfs.Settings{})
		must(t, err)
		defer pool.Close()
		g := &fixture{dir: dir, branches: []string{long}, target: filepath.Join(dir, "u"), pool: pool}
		out := g.ok(t, "bash", "-c", "cd / && "+g.target+"/proj/configure")
		if want := "0=" + g.target + "/proj/configure args=\nsrcdir=" + g.target + "/proj pwd=/\n"; out != want {
			t.Fatalf("absolute:\n%s\nwant:\n%s", out, want)
		}
	})

	// A name shorter than "/dev/fd/N" cannot be redirected.
	t.Run("too-short", func(t *testing.T) {
		copyFile(t, h, filepath.Join(proj, "g"), 0o755)
		r := f.run(t, "bash", "-c", "cd "+p+"/proj && ./g executable")
		if r.code == 0 || !strings.Contains(r.stderr, "too long") {
			t.Fatalf("./g: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		// The workaround the warning and mfs run --help give.
		if out := f.ok(t, "bash", "-c", "cd "+p+"/proj && \"$PWD\"/g executable"); out != p+"/proj/g\n" {
			t.Fatalf("$PWD/g: %q", out)
		}
	})
}
