package vfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDirectoryTimes(t *testing.T) {
	ctx := context.Background()
	// lfs ties on one filesystem go to the last branch, so new entries land
	// on b1 while getattr (ff) shows b0's copy of the directory.
	p, dirs := newTestPool(t, []string{"category.create=lfs"},
		[]string{"d/", "d/old=x"},
		[]string{},
	)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(dirs[0], "d"), old, old))
	must(t, os.Chmod(filepath.Join(dirs[0], "d"), 0o750))
	rootOld := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(dirs[1], rootOld, rootOld))

	f, e := p.Create(ctx, RootCred, "d/new", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(dirs[1], "d/new")); err != nil {
		t.Fatal("file did not land on b1:", err)
	}
	// clonepath copied the directory's mode and left b1's root times alone.
	fi, err := os.Stat(filepath.Join(dirs[1], "d"))
	must(t, err)
	if fi.Mode().Perm() != 0o750 {
		t.Errorf("cloned dir mode %o, want 750", fi.Mode().Perm())
	}
	ri, err := os.Stat(dirs[1])
	must(t, err)
	if !ri.ModTime().Equal(rootOld) {
		t.Errorf("b1 root mtime moved to %v by clonepath, want %v", ri.ModTime(), rootOld)
	}
	// The visible copy of d (on b0) saw the new entry.
	a, e := p.Getattr(ctx, RootCred, "d")
	if e != 0 {
		t.Fatal(e)
	}
	if a.Branch != 0 || time.Since(time.Unix(a.Stat.Mtim.Sec, 0)) > time.Minute {
		t.Errorf("visible d: branch %d mtime %v; want branch 0 with a fresh mtime", a.Branch, time.Unix(a.Stat.Mtim.Sec, 0))
	}
	// Removing an entry from b1 only also updates the visible copy.
	must(t, os.Chtimes(filepath.Join(dirs[0], "d"), old, old))
	if e := p.Unlink(ctx, RootCred, "d/new"); e != 0 {
		t.Fatal(e)
	}
	a, _ = p.Getattr(ctx, RootCred, "d")
	if a.Stat.Mtim.Sec == old.Unix() {
		t.Error("unlink on b1 left the visible directory mtime unchanged")
	}
}

func TestBranchMountedAfterStart(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	p, dirs := newTestPool(t, []string{"category.create=ff"}, []string{})
	// A disk mounted on the branch path after the pool started must be used:
	// files never land in the empty mount-point directory below it.
	must(t, unix.Mount("tmpfs", dirs[0], "tmpfs", 0, "size=4m"))
	t.Cleanup(func() { unix.Unmount(dirs[0], unix.MNT_DETACH) })
	f, e := p.Create(ctx, RootCred, "after", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	p.Close() // release the root fd on the tmpfs
	must(t, unix.Unmount(dirs[0], 0))
	if _, err := os.Stat(filepath.Join(dirs[0], "after")); err == nil {
		t.Fatal("file landed in the mount-point directory instead of the mounted disk")
	}
}
