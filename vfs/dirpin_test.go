package vfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestKeepDirIdentity: with KeepDirIdentity a directory keeps the branch
// (and so st_dev/st_ino) it was first reported from when a create clones it
// onto an earlier branch; without it the search policy's new answer shows.
func TestKeepDirIdentity(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		p, dirs := newTestPool(t, []string{"category.create=ff"}, []string{"x"}, []string{"d/", "d/old=1"})
		if keep {
			p.KeepDirIdentity()
		}
		before, e := p.Getattr(ctx, RootCred, "d")
		if e != 0 || before.Branch != 1 {
			t.Fatalf("getattr d = %+v %v", before, e)
		}
		f, e := p.Create(ctx, RootCred, "d/new", unix.O_WRONLY, 0o644)
		if e != 0 {
			t.Fatal(e)
		}
		f.Close()
		if !exists(filepath.Join(dirs[0], "d/new")) {
			t.Fatal("ff create did not clone d onto branch 0")
		}
		after, e := p.Getattr(ctx, RootCred, "d")
		if e != 0 {
			t.Fatal(e)
		}
		od, e := p.Open(ctx, RootCred, "d", unix.O_RDONLY|unix.O_DIRECTORY)
		if e != 0 {
			t.Fatal(e)
		}
		var fst unix.Stat_t
		must(t, unix.Fstat(od.Fd(), &fst))
		od.Close()
		same := after.Stat.Ino == before.Stat.Ino && after.Stat.Dev == before.Stat.Dev
		if keep != same || keep != (after.Branch == 1) || fst.Ino != after.Stat.Ino {
			t.Fatalf("keep=%v: before ino %d (branch %d), after ino %d (branch %d), opened dir ino %d",
				keep, before.Stat.Ino, before.Branch, after.Stat.Ino, after.Branch, fst.Ino)
		}
		if !keep {
			continue
		}
		// A file at a pinned directory's path is not pinned, and a pin whose
		// copy is gone gives way to the search policy.
		must(t, os.RemoveAll(filepath.Join(dirs[1], "d")))
		a, e := p.Getattr(ctx, RootCred, "d")
		if e != 0 || a.Branch != 0 {
			t.Fatalf("after removing the pinned copy: %+v %v", a, e)
		}
		must(t, os.MkdirAll(filepath.Join(dirs[1], "d"), 0o755))
		if a, e = p.Getattr(ctx, RootCred, "d"); e != 0 || a.Branch != 0 {
			t.Fatalf("re-pinned to branch 0, got %+v %v", a, e)
		}
		// Pins follow the branch, not its index, when branches change.
		front := filepath.Join(t.TempDir(), "front")
		must(t, os.MkdirAll(filepath.Join(front, "d"), 0o755))
		if e := p.Setxattr(ctx, RootCred, ControlFile, "user.mergerfs.branches", []byte("+<"+front), 0); e != 0 {
			t.Fatalf("add branch: %v", e)
		}
		if a, e = p.Getattr(ctx, RootCred, "d"); e != 0 || a.Branch != 1 {
			t.Fatalf("after adding a front branch: %+v %v (want the old branch 0, now 1)", a, e)
		}
	}
}
