package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfs-union/mfs/vfs/conformance"
)

// mountTarget serves each conformance case through a real `mfs mount`
// daemon (a separate process, as users run it) and acts on the mount point
// with plain syscalls.
type mountTarget struct{}

func (mountTarget) Name() string { return "mount" }

func (mountTarget) Features() conformance.Features {
	return conformance.Features{Union: true, Inodes: conformance.InodeCalc, Rand: conformance.RandFree}
}

func (mountTarget) Open(t *testing.T, u conformance.UnionSpec) conformance.Client {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountAndWait(mnt) })
	args := []string{"mount", u.BranchList(), mnt}
	if len(u.Options) > 0 {
		args = append(args, "-o", strings.Join(u.Options, ","))
	}
	_, stderr, code := mfs(t, args...)
	if code != 0 {
		t.Fatalf("mfs %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return conformance.NewOSClient(mnt, t.Logf)
}

// TestConformanceMount runs the whole shared table through a FUSE mount.
func TestConformanceMount(t *testing.T) {
	requireFUSE(t)
	conformance.Run(t, mountTarget{}, nil)
}
