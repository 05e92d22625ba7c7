package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tmpfsBranch mounts a size-limited tmpfs at dir for the test.
func tmpfsBranch(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

func daemonPID(t *testing.T, mnt string) int {
	t.Helper()
	buf := make([]byte, 32)
	n, err := unix.Getxattr(filepath.Join(mnt, ".mergerfs"), "user.mergerfs.pid", buf)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(buf[:n]))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestBranchTurnsReadOnly: a branch filesystem remounted read-only under a
// running pool. New files go to the other branch (the EROFS retry), actions
// on files there report EROFS, reads keep working.
func TestBranchTurnsReadOnly(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	b1, b2, mnt := filepath.Join(root, "b1"), filepath.Join(root, "b2"), filepath.Join(root, "mnt")
	tmpfsBranch(t, b1, "8m")
	os.MkdirAll(b2, 0o755)
	os.MkdirAll(mnt, 0o755)
	mountPool(t, b1+"=RW:"+b2+"=RW", mnt, "category.create=ff,minfreespace=1M")
	if err := os.WriteFile(filepath.Join(mnt, "before"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b1, "before")); err != nil {
		t.Fatal("ff did not use b1 while it was writable")
	}
	// The kernel releases the closed file asynchronously; until then the
	// remount is EBUSY (a file open for writing).
	var err error
	for i := 0; i < 100; i++ {
		if err = unix.Mount("", b1, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != unix.EBUSY {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal("remount read-only:", err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "after"), []byte("a"), 0o644); err != nil {
		t.Fatalf("create after b1 turned read-only: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b2, "after")); err != nil {
		t.Fatal("the new file did not land on the writable branch")
	}
	if err := os.Remove(filepath.Join(mnt, "before")); !errors.Is(err, unix.EROFS) {
		t.Fatalf("unlink of a file on the read-only branch: %v, want EROFS", err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "before")); err != nil || string(b) != "b" {
		t.Fatalf("read from the read-only branch: %q %v", b, err)
	}
}

// TestBranchVanishes: a branch disk is lazily unmounted under a running
// pool. The pool keeps serving the other branch; what lived on the lost one
// is gone with a clear error; nothing hangs and the daemon stays up.
func TestBranchVanishes(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	b1, b2, mnt := filepath.Join(root, "b1"), filepath.Join(root, "b2"), filepath.Join(root, "mnt")
	tmpfsBranch(t, b1, "8m")
	os.MkdirAll(b2, 0o755)
	os.MkdirAll(mnt, 0o755)
	os.WriteFile(filepath.Join(b1, "lost"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(b2, "kept"), []byte("2"), 0o644)
	mountPool(t, b1+"=RW:"+b2+"=RW", mnt, "category.create=ff,minfreespace=1M,cache.attr=0,cache.entry=0")
	if _, err := os.Stat(filepath.Join(mnt, "lost")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(b1, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the branch root is revalidated within a second
	if _, err := os.Stat(filepath.Join(mnt, "lost")); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("file on the vanished branch: %v, want ENOENT", err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "kept")); err != nil || string(b) != "2" {
		t.Fatalf("file on the remaining branch: %q %v", b, err)
	}
	ents, err := os.ReadDir(mnt)
	if err != nil || len(ents) != 1 || ents[0].Name() != "kept" {
		t.Fatalf("listing after the loss: %v %v", ents, err)
	}
	if unix.Kill(daemonPID(t, mnt), 0) != nil {
		t.Fatal("daemon died")
	}
}

// TestDaemonKilled: SIGKILL the daemon. Every fsync'd byte is on the branch,
// the dead mount reports ENOTCONN, and a new daemon with
// lazy-umount-mountpoint takes the mount point over.
func TestDaemonKilled(t *testing.T) {
	requireFUSE(t)
	root := t.TempDir()
	b1, mnt := filepath.Join(root, "b1"), filepath.Join(root, "mnt")
	os.MkdirAll(b1, 0o755)
	os.MkdirAll(mnt, 0o755)
	mountPool(t, b1+"=RW", mnt, "minfreespace=1M")
	f, err := os.Create(filepath.Join(mnt, "durable"))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	f.Write(data)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	pid := daemonPID(t, mnt)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i := 0; i < 200 && alive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := os.ReadFile(filepath.Join(b1, "durable")); err != nil || string(got) != string(data) {
		t.Fatalf("fsync'd data on the branch: %d bytes, %v", len(got), err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "durable")); !errors.Is(err, unix.ENOTCONN) {
		t.Fatalf("stat on the dead mount: %v, want ENOTCONN", err)
	}
	_, stderr, code := mfs(t, "mount", b1+"=RW", mnt, "-o", "minfreespace=1M,lazy-umount-mountpoint=true")
	if code != 0 {
		t.Fatalf("remount with lazy-umount-mountpoint: exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "durable")); err != nil || len(got) != len(data) {
		t.Fatalf("read after recovery: %d bytes, %v", len(got), err)
	}
}
