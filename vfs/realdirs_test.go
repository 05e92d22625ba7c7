package vfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRealDirsForgottenOnRename: after a lookup below d, d is remembered as
// a real directory; renaming it away and putting a symlink in its place
// through the pool must not let a later lookup follow that symlink out of
// the branch (lookups below a branch never follow symlinks).
func TestRealDirsForgottenOnRename(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "y"), []byte("secret"), 0o644))
	for _, how := range []string{"rename", "rmdir"} {
		t.Run(how, func(t *testing.T) {
			p, dirs := newTestPool(t, []string{"category.create=ff"}, []string{"d/", "d/y=in"})
			if a, e := p.Getattr(ctx, RootCred, "d/y"); e != 0 || a.Stat.Size != 2 {
				t.Fatalf("getattr d/y = %+v %v", a, e)
			}
			if !p.state().branches[0].real.known("d") {
				t.Fatal("a lookup below d did not remember d")
			}
			switch how {
			case "rename":
				if e := p.Rename(ctx, RootCred, "d", "e", 0); e != 0 {
					t.Fatal(e)
				}
			case "rmdir":
				must(t, os.Remove(filepath.Join(dirs[0], "d/y")))
				if e := p.Rmdir(ctx, RootCred, "d"); e != 0 {
					t.Fatal(e)
				}
			}
			if e := p.Symlink(ctx, RootCred, outside, "d"); e != 0 {
				t.Fatal(e)
			}
			if a, e := p.Getattr(ctx, RootCred, "d/y"); e != unix.ENOENT {
				t.Fatalf("getattr d/y through a branch symlink = %+v %v, want ENOENT", a, e)
			}
		})
	}
}

// TestLstatMissShortcut: branch.lstat answers ENOENT from a plain fstatat
// before any confined walk; for every path shape it must give what the
// confined walk alone gives (a symlink on the way is a miss, never
// followed out of the branch).
func TestLstatMissShortcut(t *testing.T) {
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "y"), []byte("out"), 0o644))
	p, dirs := newTestPool(t, nil, []string{"d/", "d/y=in", "f=file"})
	b := p.state().branches[0]
	for _, l := range [][2]string{{outside, "lout"}, {filepath.Join(outside, "none"), "ldangling"}, {"d", "lrel"}} {
		must(t, os.Symlink(l[0], filepath.Join(dirs[0], l[1])))
	}
	root, e := b.rootFast()
	if e != 0 {
		t.Fatal(e)
	}
	walk := func(rel string) unix.Errno {
		fd, err := openBeneath(root, rel, unix.O_PATH|unix.O_NOFOLLOW, 0)
		if err != nil {
			return walkErrno(err)
		}
		unix.Close(fd)
		return 0
	}
	for _, rel := range []string{"d/y", "d/none", "none/y", "none/deeper/y", "f/y", "lout/y", "lout/none",
		"ldangling/y", "lrel/y", "lrel/none", "d/y/z"} {
		b.real.forget() // take the path of an unknown parent every time
		_, got := b.lstat(rel)
		if want := walk(rel); got != want {
			t.Errorf("lstat %q = %v, the confined walk gives %v", rel, got, want)
		}
	}
}
