package vfs

import (
	"testing"
	"time"

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
