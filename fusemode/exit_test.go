package fusemode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The server must end soon after `fusermount3 -u`, also after tens of
// thousands of lookups and when another mount namespace still holds a copy
// of the mount: a process that unshared its mount namespace while the pool
// was mounted (unshare -m, `mfs run`'s sandbox, a container) keeps the
// superblock, and so the FUSE connection, alive after the unmount here
// wherever the mount's propagation is private (watchUnmount). The bound is
// a hang check, not a speed target.
func TestExitAfterUnmount(t *testing.T) {
	requireRoot(t)
	// The lookups only add to the realism (the reported case followed
	// 20,000 of them); the hang itself came from the foreign copy, which
	// lives for 120 s. The bound leaves room for a loaded CI machine where
	// other tests' processes may touch the copy (and so, rightly, keep the
	// connection): the idle grace restarts then.
	const files = 2000
	const bound = 30 * time.Second
	for _, foreign := range []bool{false, true} {
		t.Run(fmt.Sprintf("foreign-namespace=%v", foreign), func(t *testing.T) {
			if foreign {
				if _, err := exec.LookPath("unshare"); err != nil {
					skipOrFail(t, "unshare(1) (util-linux) not installed")
				}
			}
			f := newFixture(t, 3)
			f.mountChild(t)
			if foreign {
				holdMountCopy(t)
			}
			d := f.m("d")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			payload := make([]byte, 1024)
			for i := 0; i < files; i++ {
				p := filepath.Join(d, fmt.Sprintf("f%d", i))
				fd, err := unix.Open(p, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				unix.Write(fd, payload)
				unix.Close(fd)
			}
			var st unix.Stat_t
			for i := 0; i < files; i++ {
				if err := unix.Lstat(filepath.Join(d, fmt.Sprintf("f%d", i)), &st); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command("fusermount3", "-u", f.mnt).CombinedOutput()
			if err != nil {
				t.Fatalf("fusermount3 -u: %v: %s", err, out)
			}
			start := time.Now()
			pid := f.child.Process.Pid
			for syscall.Kill(pid, 0) == nil {
				if time.Since(start) > bound {
					t.Fatalf("mount server still running %v after fusermount3 -u\n%s", bound, f.stderr)
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("server exited %v after the unmount", time.Since(start).Round(time.Millisecond))
		})
	}
}

// holdMountCopy starts a process in a mount namespace of its own, with
// private propagation, holding a copy of every mount of the moment.
func holdMountCopy(t *testing.T) {
	t.Helper()
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sleep", "120")
	if err := cmd.Start(); err != nil {
		skipOrFail(t, "unshare -m: "+err.Error())
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	self, _ := os.Readlink("/proc/self/ns/mnt")
	waitFor(t, "the holder's mount namespace", func() bool {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", cmd.Process.Pid))
		return err == nil && ns != self
	})
}
