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
// still works: the file lands on the next branch instead of failing. Made
// again at the same path (same file system, so the same st_dev) it is the
// branch again at the next create: the root fd is reopened because st_ino
// changed, where the old fd kept every create failing with ENOENT.
func TestCreateAfterBranchRemoved(t *testing.T) {
	ctx := context.Background()
	for _, remake := range []bool{false, true} {
		p, dirs := newTestPool(t, []string{"category.create=ff"}, []string{}, []string{})
		create := func(name string, want int) {
			t.Helper()
			f, e := p.Create(ctx, RootCred, name, unix.O_WRONLY, 0o644)
			if e != 0 {
				t.Fatalf("remade %v: create %s: %v", remake, name, e)
			}
			f.Close()
			if !exists(filepath.Join(dirs[want], name)) {
				t.Fatalf("remade %v: %s did not land on branch %d", remake, name, want)
			}
		}
		create("a", 0) // ff
		must(t, os.RemoveAll(dirs[0]))
		want := 1
		if remake {
			must(t, os.Mkdir(dirs[0], 0o755))
			want = 0
		}
		create("b", want)
	}
}
