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
