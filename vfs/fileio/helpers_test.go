package fileio

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// requireMount mounts a tmpfs of the given size (mount(8) syntax: "64m") on a
// fresh directory and unmounts it in Cleanup; a mount left behind fails the
// test. Mounting needs CAP_SYS_ADMIN: without it the test is skipped with
// the reason, or fails when CI=true (the house rule for feature gates).
func requireMount(tb testing.TB, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0755"); err != nil {
		if os.Getenv("CI") != "true" && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) {
			tb.Skipf("needs a tmpfs mount (CAP_SYS_ADMIN) for a second filesystem: %v", err)
		}
		tb.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	// Registered after TempDir's removal, so it runs before it.
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			tb.Errorf("unmount tmpfs %s: %v (detached; something kept it busy)", dir, err)
		}
	})
	return dir
}

// openDir opens path as a directory fd, closed in Cleanup.
func openDir(tb testing.TB, path string) int {
	tb.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("open dir %s: %v", path, err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return fd
}

// openFile opens path with flags, closed in Cleanup.
func openFile(tb testing.TB, path string, flags int) int {
	tb.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return fd
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// sameContent fails the test unless the files at a and b hold the same bytes.
func sameContent(tb testing.TB, a, b string) {
	tb.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		tb.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		i := 0
		for i < len(x) && i < len(y) && x[i] == y[i] {
			i++
		}
		tb.Fatalf("content differs: %s has %d bytes, %s has %d, first difference at %d", a, len(x), b, len(y), i)
	}
}

// listDir returns the names in dir.
func listDir(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// noTemps fails if dir holds a temp file.
func noTemps(tb testing.TB, dir string) {
	tb.Helper()
	for _, n := range listDir(tb, dir) {
		if IsTempName(n) {
			tb.Errorf("temp file left behind: %s", filepath.Join(dir, n))
		}
	}
}

// makeSparse writes a file of size bytes that has data only at the given
// offsets (4 KiB each) and returns its contents.
func makeSparse(tb testing.TB, path string, size int64, at ...int64) []byte {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	want := make([]byte, size)
	for i, off := range at {
		chunk := randBytes(4096, uint64(i+1))
		if _, err := f.WriteAt(chunk, off); err != nil {
			tb.Fatal(err)
		}
		copy(want[off:], chunk)
	}
	return want
}
