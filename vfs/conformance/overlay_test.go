package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// overlay serves a single-branch case through kernel overlayfs, with the
// branch as the upper layer (so every change lands in the branch directory
// the runner inspects) over an empty lower layer: the kernel's own union
// filesystem as a second reference for the POSIX cases.
type overlay struct{}

func (overlay) Name() string { return "overlay" }

func (overlay) Features() Features {
	return Features{Union: false, Inodes: InodeReal, Rand: RandFree}
}

func (overlay) Open(t *testing.T, u UnionSpec) Client {
	t.Helper()
	if len(u.Branches) != 1 {
		t.Fatalf("overlay: one branch per case, got %d", len(u.Branches))
	}
	upper := u.Branches[0].Dir
	base := t.TempDir()
	lower, mnt := filepath.Join(base, "lower"), filepath.Join(base, "mnt")
	// workdir must be on the upper layer's filesystem.
	work, err := os.MkdirTemp(filepath.Dir(upper), "ovl-work-")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{lower, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", mnt, "overlay", 0, data); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("overlayfs: %v", err)
		}
		t.Skipf("overlayfs unavailable: %v", err)
	}
	t.Cleanup(func() {
		unix.Unmount(mnt, unix.MNT_DETACH)
		os.RemoveAll(work)
	})
	return NewOSClient(mnt, t.Logf)
}

// TestOverlayOracle runs the POSIX cases through overlayfs.
func TestOverlayOracle(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("overlayfs needs root (CI=true: not skipping)")
		}
		t.Skip("overlayfs needs root")
	}
	Run(t, overlay{}, nil)
}
