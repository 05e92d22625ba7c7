package config

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// stallingRoot is a FUSE root whose getattr, once stall is set, waits for
// release: a branch on a hung file system.
type stallingRoot struct {
	fs.Inode
	stall   atomic.Bool
	release chan struct{}
}

func (r *stallingRoot) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if r.stall.Load() {
		<-r.release
	}
	out.Mode = syscall.S_IFDIR | 0o755
	return 0
}

// TestBranchThatDoesNotRespond: parsing a branch list with a branch on a
// hung file system fails after probeTimeout with an error naming it,
// instead of waiting with it forever.
func TestBranchThatDoesNotRespond(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("/dev/fuse is missing")
		}
		t.Skip("no /dev/fuse")
	}
	mnt, ok := t.TempDir(), t.TempDir()
	root := &stallingRoot{release: make(chan struct{})}
	zero := time.Duration(0)
	srv, err := fs.Mount(mnt, root, &fs.Options{AttrTimeout: &zero, EntryTimeout: &zero,
		MountOptions: fuse.MountOptions{FsName: "stall", DisableXAttrs: true}})
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(root.release)
		}
	}
	t.Cleanup(func() {
		release()
		// The released stat may still hold the mount busy for a moment.
		err := srv.Unmount()
		for i := 0; err != nil && i < 100; i++ {
			time.Sleep(20 * time.Millisecond)
			err = srv.Unmount()
		}
		if err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	old := probeTimeout
	probeTimeout = 300 * time.Millisecond
	t.Cleanup(func() { probeTimeout = old })

	if _, err := ParseBranches(ok + ":" + mnt); err != nil {
		t.Fatalf("a responding FUSE branch: %v", err)
	}
	root.stall.Store(true)
	start := time.Now()
	_, err = ParseBranches(ok + ":" + mnt)
	if err == nil || !strings.Contains(err.Error(), mnt+" did not answer") {
		t.Fatalf("ParseBranches with a stalled branch = %v, want an error naming %s", err, mnt)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("gave up after %s", d)
	}
	release()
}
