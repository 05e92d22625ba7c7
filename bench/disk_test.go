package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDiskstats(t *testing.T) {
	text := "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n" +
		" 254       0 vda 81234 120 4567890 30000 99999 5000 7654321 80000 0 60000 110000 0 0 0 0 100 20\n" +
		" 254       1 vda1 100 0 2000 10 50 0 800 5 0 10 15 0 0 0 0 0 0\n"
	name, r, w, ok := parseDiskstats(text, 254, 0)
	if !ok || name != "vda" || r != 4567890 || w != 7654321 {
		t.Errorf("vda: %q %d %d %v", name, r, w, ok)
	}
	if name, r, w, ok := parseDiskstats(text, 254, 1); !ok || name != "vda1" || r != 2000 || w != 800 {
		t.Errorf("vda1: %q %d %d %v", name, r, w, ok)
	}
	if _, _, _, ok := parseDiskstats(text, 8, 0); ok {
		t.Errorf("a device that is not listed was found")
	}
	if _, _, _, ok := parseDiskstats(" 254 0 vda 1 2 x 4 5 6 7 8\n", 254, 0); ok {
		t.Errorf("a malformed line was accepted")
	}
}

// A file written and written back between two samples shows in the
// device's written bytes; a file system without a block device is refused
// with a reason.
func TestDiskCounter(t *testing.T) {
	// /var/tmp, like mfs bench's default --dir: on disk even where /tmp is
	// a tmpfs.
	dir, err := os.MkdirTemp("/var/tmp", "mfs-disk-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := newDiskCounter(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, w0, err := d.sample()
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	_, w1, err := d.sample()
	if err != nil {
		t.Fatal(err)
	}
	if w1-w0 < size {
		t.Errorf("device %s: %d bytes written across a %d-byte file written back, want at least its size", d.name, w1-w0, size)
	}

	shm := "/dev/shm"
	if _, err := newDiskCounter(shm); err == nil || !strings.Contains(err.Error(), "not a block device") {
		t.Errorf("newDiskCounter(%s) = %v, want a 'not a block device' error", shm, err)
	}
}
