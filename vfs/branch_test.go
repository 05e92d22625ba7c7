package vfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/policy"
)

// rootFast serves the root fd without a lock or a clock read while the last
// revalidation is younger than revalidateEvery, and revalidates after it.
func TestRootFastExpires(t *testing.T) {
	b := newBranch(t.TempDir(), policy.RW, 0, false)
	defer b.close()
	fd, e := b.rootFast()
	if e != 0 || fd < 0 || b.fresh.Load() != int64(fd)+1 {
		t.Fatalf("rootFast = %d, %v; fresh %d", fd, e, b.fresh.Load())
	}
	// The timer fires revalidateEvery after the check; a loaded machine
	// may run it late, so wait for it rather than for a fixed time.
	time.Sleep(revalidateEvery)
	for deadline := time.Now().Add(10 * time.Second); b.fresh.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fresh %d 10 s after %s: the root would never be revalidated", b.fresh.Load(), revalidateEvery)
		}
	}
	if fd2, e := b.rootFast(); e != 0 || fd2 != fd || b.fresh.Load() != int64(fd)+1 {
		t.Fatalf("after expiry rootFast = %d, %v (want %d); fresh %d", fd2, e, fd, b.fresh.Load())
	}
	b.close()
	if b.fresh.Load() != 0 {
		t.Fatalf("fresh after close")
	}
}

// TestCreateAfterBranchRemoved: a branch directory removed behind the
// pool's back is passed over by the next create at once (its statfs by
// path fails), even though its root fd, validated less than a second ago,
// still works: the file lands on the next branch instead of failing.
func TestCreateAfterBranchRemoved(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, []string{"category.create=ff"}, []string{}, []string{})
	f, e := p.Create(ctx, RootCred, "a", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if !exists(filepath.Join(dirs[0], "a")) {
		t.Fatal("a did not land on the first branch (ff)")
	}
	must(t, os.RemoveAll(dirs[0]))
	f, e = p.Create(ctx, RootCred, "b", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatalf("create after the first branch was removed: %v", e)
	}
	f.Close()
	if !exists(filepath.Join(dirs[1], "b")) {
		t.Fatal("b did not land on the remaining branch")
	}
}

// TestCreateAfterBranchRecreated: a branch directory removed and made again
// at the same path (same file system, so the same st_dev) is the branch
// again at the next create: the root fd is reopened because st_ino
// changed, where the old fd kept every create failing with ENOENT.
func TestCreateAfterBranchRecreated(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, []string{"category.create=ff"}, []string{}, []string{})
	f, e := p.Create(ctx, RootCred, "a", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	must(t, os.RemoveAll(dirs[0]))
	must(t, os.Mkdir(dirs[0], 0o755))
	f, e = p.Create(ctx, RootCred, "b", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatalf("create after the first branch was made again: %v", e)
	}
	f.Close()
	if !exists(filepath.Join(dirs[0], "b")) {
		t.Fatal("b did not land on the recreated first branch (ff)")
	}
}
