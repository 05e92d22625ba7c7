package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/fsx"
)

func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FUSE mount tests need /dev/fuse and root (CI=true: not skipping): %v", err)
		}
		t.Skip("needs /dev/fuse and root")
	}
}

func mountedAt(mnt string) (fstype string, ok bool) {
	b, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == mnt {
			return f[2], true
		}
	}
	return "", false
}

// TestMergerfsStyleMount mounts the way an fstab line or a mergerfs script
// does (argv[0] mergerfs, branches then mountpoint, -o), in the background,
// and checks the pool works and the daemon leaves when unmounted.
func TestMergerfsStyleMount(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	ds := makeDirs(t, root, "b1", "b2", "mnt")
	b1, b2, mnt := ds[0], ds[1], ds[2]
	os.WriteFile(filepath.Join(b2, "from-b2"), []byte("2"), 0o644)
	t.Cleanup(func() {
		if _, ok := mountedAt(mnt); ok {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
	})
	_, stderr, code := mfsAs(t, "mergerfs", "-o", "category.create=ff,minfreespace=1M", b1+":"+b2, mnt)
	if code != 0 {
		t.Fatalf("mount exit %d: %s", code, stderr)
	}
	if typ, ok := mountedAt(mnt); !ok || typ != "fuse.mfs" {
		t.Fatalf("mount table shows %q (mounted %v), want fuse.mfs", typ, ok)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "from-b2")); err != nil || string(b) != "2" {
		t.Fatalf("read through the mount: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "new"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b1, "new")); err != nil {
		t.Fatal("ff create did not land on the first branch:", err)
	}
	buf := make([]byte, 256)
	n, err := unix.Getxattr(filepath.Join(mnt, ".mergerfs"), "user.mergerfs.srcmounts", buf)
	if err != nil || string(buf[:n]) != b1+":"+b2 {
		t.Fatalf("srcmounts = %q, %v", buf[:n], err)
	}
	if out, err := exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
		t.Fatalf("unmount: %v %s", err, out)
	}
	// The daemon notices and exits: nothing serves the mount point any more.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !daemonRunning(mnt) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("mfs daemon still running after unmount")
}

// daemonRunning looks for an mfs process serving mnt (its command line names it).
func daemonRunning(mnt string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && args[0] == "mergerfs" && strings.Contains(string(b), mnt) {
			return true
		}
	}
	return false
}

// unmountAndWait unmounts mnt and waits for its daemon (found through the
// control file's pid key) to exit, so the branch fds it held are closed
// before the test removes or unmounts the branches.
func unmountAndWait(mnt string) {
	if _, ok := mountedAt(mnt); !ok {
		return
	}
	pid := 0
	buf := make([]byte, 32)
	if n, err := unix.Getxattr(filepath.Join(mnt, ".mergerfs"), "user.mergerfs.pid", buf); err == nil {
		pid, _ = strconv.Atoi(string(buf[:n]))
	}
	if exec.Command("fusermount3", "-u", mnt).Run() != nil {
		exec.Command("fusermount3", "-u", "-z", mnt).Run()
	}
	for i := 0; pid > 0 && i < 500; i++ {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs; a zombie (its parent, init here, has not
// reaped it yet) holds no fds any more and counts as gone.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// mountPool mounts branches at mnt through the binary (a separate daemon
// process, so forking tools and the test never deadlock on their own server)
// and unmounts it when the test ends.
func mountPool(t *testing.T, branches, mnt string, opts string) {
	t.Helper()
	requireFUSE(t)
	t.Cleanup(func() { unmountAndWait(mnt) })
	_, stderr, code := mfs(t, "mount", branches, mnt, "-o", opts)
	if code != 0 {
		t.Fatalf("mfs mount: exit %d: %s", code, stderr)
	}
}

// TestFsxThroughMount checks data integrity through the mount with a model
// after every operation, for each page-cache mode.
func TestFsxThroughMount(t *testing.T) {
	for _, cache := range []string{"off", "full", "auto-full"} {
		t.Run("cache.files="+cache, func(t *testing.T) {
			root := t.TempDir()
			ds := makeDirs(t, root, "b1", "b2", "mnt")
			b1, b2, mnt := ds[0], ds[1], ds[2]
			mountPool(t, b1+"=RW:"+b2+"=RW", mnt, "minfreespace=1M,cache.files="+cache)
			for _, seed := range []uint64{11, 12} {
				res, err := fsx.Run(fsx.Config{Dir: mnt, Seed: seed, Ops: 2000, CheckEvery: 5})
				if err != nil {
					t.Fatal(err)
				}
				if res.Ops != 2000 {
					t.Fatalf("ran %d ops", res.Ops)
				}
			}
		})
	}
}

// TestMoveOnENOSPCThroughMount fills a small branch mid-write: moveonenospc
// moves the file to the branch with room and the write completes intact.
func TestMoveOnENOSPCThroughMount(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	ds := makeDirs(t, root, "small", "big", "mnt")
	small, big, mnt := ds[0], ds[1], ds[2]
	for dir, size := range map[string]string{small: "1m", big: "16m"} {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	}
	mountPool(t, small+"=RW:"+big+"=RW", mnt, "category.create=ff,minfreespace=1,moveonenospc=mfs")
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(mnt, "big.bin"), data, 0o600); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(big, "big.bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("file on the roomy branch: %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	ents, _ := os.ReadDir(small)
	if len(ents) != 0 {
		t.Fatalf("small branch still holds %v", ents)
	}
	// A write no branch has room for fails with ENOSPC and leaves no temp file.
	err = os.WriteFile(filepath.Join(mnt, "huge.bin"), make([]byte, 32<<20), 0o600)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("writing more than the pool holds: %v, want ENOSPC", err)
	}
	for _, d := range []string{small, big} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".mfs-tmp.") {
				t.Fatalf("temp file left: %s/%s", d, e.Name())
			}
		}
	}
}

// TestMountCommand mounts the way an fstab line does: mount(8) runs
// mount.fuse3, which runs mfs with the mergerfs argument order and the fstab
// options (defaults, nofail, _netdev, x-systemd.* included); umount ends it.
func TestMountCommand(t *testing.T) {
	requireFUSE(t)
	if _, err := exec.LookPath("mount.fuse3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mount.fuse3 (fuse3) is missing: make deps installs it")
		}
		t.Skip("mount.fuse3 is missing")
	}
	root := t.TempDir()
	ds := makeDirs(t, root, "b1", "b2", "mnt")
	b1, b2, mnt := ds[0], ds[1], ds[2]
	t.Cleanup(func() { unmountAndWait(mnt) })
	// "PROGRAM#SOURCE" names the program by path, as an fstab line of type
	// fuse does; type fuse.mfs finds mfs on the standard PATH instead.
	out, err := exec.Command("mount", "-t", "fuse", mfsBin+"#"+b1+":"+b2, mnt,
		"-o", "defaults,allow_other,category.create=mfs,minfreespace=1M,nofail,_netdev,x-systemd.requires=network.target").CombinedOutput()
	if err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	if typ, ok := mountedAt(mnt); !ok || typ != "fuse.mfs" {
		t.Fatalf("after mount(8): %q mounted=%v", typ, ok)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join(mnt, ".mergerfs"), "user.mergerfs.category.create", buf)
	if err != nil || string(buf[:n]) != "mfs" {
		t.Fatalf("category.create = %q, %v", buf[:n], err)
	}
	pid := daemonPID(t, mnt)
	// The daemon runs with the runtime setting a FUSE server wants
	// (fusemode.ServerGODEBUG).
	if env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); err != nil || !strings.Contains(string(env), "GODEBUG=schedtrace=") {
		t.Errorf("daemon environment lacks GODEBUG=schedtrace= (%v)", err)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	for i := 0; i < 200 && alive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(pid) {
		t.Fatal("daemon still running after umount")
	}
}

// TestCtl changes a running pool through `mfs ctl`, as mergerfs.ctl does.
func TestCtl(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	ds := makeDirs(t, root, "b1", "b2", "mnt")
	b1, b2, mnt := ds[0], ds[1], ds[2]
	mountPool(t, b1+"=RW", mnt, "minfreespace=1M")
	if out, _, code := mfs(t, "ctl", mnt, "get", "category.create"); code != 0 || out != "pfrd\n" {
		t.Fatalf("get category.create: %d %q", code, out)
	}
	if _, stderr, code := mfs(t, "ctl", mnt, "set", "category.create", "ff"); code != 0 {
		t.Fatalf("set: %d %s", code, stderr)
	}
	if _, stderr, code := mfs(t, "ctl", mnt, "branches", "add", b2+"=NC"); code != 0 {
		t.Fatalf("branches add: %d %s", code, stderr)
	}
	out, _, _ := mfs(t, "ctl", mnt, "branches")
	if out != b1+"=RW\n"+b2+"=NC\n" {
		t.Fatalf("branches after add: %q", out)
	}
	if out, _, _ := mfs(t, "ctl", mnt, "list"); !strings.Contains(out, "func.create=ff\n") {
		t.Fatalf("list does not show the change:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"set", "category.create", "nope"}, "want one of"},
		{[]string{"set", "cache.file", "off"}, `did you mean "cache.files"`},
		{[]string{"set", "fsname", "x"}, "can not be changed while mounted"},
		{[]string{"frobnicate"}, "unknown request"},
		// Refused by the pool (EINVAL); ctl finds and says why.
		{[]string{"branches", "add", mnt + "/inside"}, "is inside the mountpoint"},
		{[]string{"branches", "add", root}, "is inside branch " + root},
	} {
		_, stderr, code := mfs(t, append([]string{"ctl", mnt}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("ctl %v: exit %d %q; want failure with %q", tc.args, code, stderr, tc.msg)
		}
	}
	if _, _, code := mfs(t, "ctl", mnt, "branches", "remove", b2); code != 0 {
		t.Fatal("branches remove failed")
	}
}

// mount -f (systemd units, the bench) starts itself again as the same
// process with the GODEBUG a FUSE server wants (fusemode.ServerGODEBUG),
// and still serves and exits on unmount.
func TestForegroundMountGODEBUG(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	ds := makeDirs(t, root, "b1", "mnt")
	b1, mnt := ds[0], ds[1]
	os.WriteFile(filepath.Join(b1, "f"), []byte("x"), 0o644)
	cmd := exec.Command(mfsBin, "mount", "-f", b1, mnt)
	cmd.Env = append(os.Environ(), "GODEBUG=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		unmountAndWait(mnt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("mfs mount -f did not exit after the unmount")
		}
	})
	for i := 0; i < 500; i++ {
		if _, ok := mountedAt(mnt); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || string(b) != "x" {
		t.Fatalf("read through the -f mount: %q, %v", b, err)
	}
	if pid := daemonPID(t, mnt); pid != cmd.Process.Pid {
		t.Errorf("serving pid %d, started %d: the re-exec must keep the process", pid, cmd.Process.Pid)
	}
	env, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/environ")
	if err != nil || !strings.Contains(string(env), "GODEBUG=schedtrace=") {
		t.Errorf("mfs mount -f runs without GODEBUG=schedtrace= (%v)", err)
	}
}

// TestMountMissingBranchWarnsOnce: a branch that does not exist yet is kept
// (as mergerfs does) with one warning, not one from the mounting process
// and another from the daemon it starts.
func TestMountMissingBranchWarnsOnce(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	ds := makeDirs(t, root, "b1", "mnt")
	b1, mnt := ds[0], ds[1]
	missing := filepath.Join(root, "later")
	t.Cleanup(func() { unmountAndWait(mnt) })
	_, stderr, code := mfs(t, "mount", b1+":"+missing, mnt, "-o", "minfreespace=1M")
	if code != 0 {
		t.Fatalf("mfs mount: exit %d: %s", code, stderr)
	}
	if n := strings.Count(stderr, "branch "+missing+" is not an existing directory"); n != 1 {
		t.Fatalf("warned %d times about the missing branch, want once:\n%s", n, stderr)
	}
}

// TestMountStartupErrorOnce: an error of the serving process at start-up
// is printed once, in the background (relayed by the starting process, not
// also by the daemon on the shared stderr) and with -f (where it was not
// printed at all for log.file).
func TestMountStartupErrorOnce(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	ds := makeDirs(t, root, "b1", "mnt")
	b1, mnt := ds[0], ds[1]
	t.Cleanup(func() { unmountAndWait(mnt) })
	bad := filepath.Join(root, "no-such-dir", "mfs.log")
	for _, tc := range []struct{ opts, msg string }{
		{"log.file=" + bad, "log.file: open " + bad},
		// An error of the mount itself (b1 is a plain directory).
		{"branches-mount-timeout=1,branches-mount-timeout-fail=true", "did not look mounted in time"},
	} {
		for _, fg := range []bool{false, true} {
			args := []string{"mount", b1, mnt, "-o", tc.opts}
			if fg {
				args = append(args, "-f")
			}
			_, stderr, code := mfs(t, args...)
			if code == 0 || strings.Count(stderr, tc.msg) != 1 {
				t.Fatalf("-o %s, foreground %v: exit %d, stderr %q; want a failure reported once", tc.opts, fg, code, stderr)
			}
			if _, ok := mountedAt(mnt); ok {
				t.Fatalf("-o %s, foreground %v: mounted despite the error", tc.opts, fg)
			}
		}
	}
}

// makeDirs makes the directories names below root and returns their paths.
func makeDirs(t *testing.T, root string, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		d := filepath.Join(root, n)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}
