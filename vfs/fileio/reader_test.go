package fileio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// checkReaderAt compares r with the bytes it should expose, at random and
// edge offsets, as io.ReaderAt specifies: n and err (nil, or io.EOF when p
// reaches past the end) and the bytes.
func checkReaderAt(t *testing.T, r io.ReaderAt, want []byte) {
	t.Helper()
	size := int64(len(want))
	rng := rand.New(rand.NewPCG(1, 2))
	type probe struct{ off, n int64 }
	probes := []probe{{0, 0}, {0, 1}, {0, size}, {size - 1, 1}, {size - 1, 2}, {size, 1}, {size + 4096, 10}, {4095, 2}, {0, size + 1}}
	for range 500 {
		off := rng.Int64N(size + 8192)
		probes = append(probes, probe{off, rng.Int64N(64 << 10)})
	}
	for _, p := range probes {
		buf := make([]byte, p.n)
		n, err := r.ReadAt(buf, p.off)
		wantN := max(0, min(p.n, size-p.off))
		var wantErr error
		if wantN < p.n {
			wantErr = io.EOF
		}
		if int64(n) != wantN || err != wantErr {
			t.Fatalf("ReadAt(len %d, off %d) = %d, %v; want %d, %v", p.n, p.off, n, err, wantN, wantErr)
		}
		if wantN > 0 && !bytes.Equal(buf[:n], want[p.off:p.off+wantN]) {
			t.Fatalf("ReadAt(len %d, off %d): wrong bytes", p.n, p.off)
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Errorf("ReadAt at a negative offset succeeded")
	}
}

func TestReaders(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(3<<20+123, 42)
	path := filepath.Join(dir, "f")
	writeFile(t, path, data)
	fd := openFile(t, path, unix.O_RDONLY)

	m, err := OpenMmap(fd, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("mmap", func(t *testing.T) { checkReaderAt(t, m, data) })
	t.Run("pread", func(t *testing.T) { checkReaderAt(t, NewPread(fd, int64(len(data))), data) })
	// A reader over a prefix ends at the prefix, whatever the file holds.
	half := int64(len(data) / 2)
	mh, err := OpenMmap(fd, half)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("mmap-prefix", func(t *testing.T) { checkReaderAt(t, mh, data[:half]) })
	t.Run("pread-prefix", func(t *testing.T) { checkReaderAt(t, NewPread(fd, half), data[:half]) })
	for _, r := range []ReaderAtCloser{m, mh} {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func TestNewReaderAt(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	writeFile(t, small, randBytes(MmapThreshold-1, 1))
	large := filepath.Join(dir, "large")
	largeData := randBytes(MmapThreshold+5, 2)
	writeFile(t, large, largeData)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })

	cases := []struct {
		name string
		fd   int
		size int64
		mmap bool
	}{
		{"small", openFile(t, small, unix.O_RDONLY), MmapThreshold - 1, false},
		{"large", openFile(t, large, unix.O_RDONLY), MmapThreshold + 5, true},
		{"large-fstat", openFile(t, large, unix.O_RDONLY), -1, true},
		{"small-fstat", openFile(t, small, unix.O_RDONLY), -1, false},
		{"pipe", p[0], -1, false},
		{"pipe-sized", p[0], 1 << 30, false},
		{"empty", openFile(t, large, unix.O_RDONLY), 0, false},
	}
	for _, c := range cases {
		r, err := NewReaderAt(c.fd, c.size)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, isMap := r.(*Mapped); isMap != c.mmap {
			t.Errorf("%s: NewReaderAt gave %T, want mmap=%v", c.name, r, c.mmap)
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: Close: %v", c.name, err)
		}
	}
	r, err := NewReaderAt(cases[2].fd, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checkReaderAt(t, r, largeData)
}

// TestMappedTruncated: a file truncated under its mapping gives SIGBUS on
// access; ReadAt turns it into an EIO error and the process lives on.
func TestMappedTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	writeFile(t, path, randBytes(1<<20, 3))
	fd := openFile(t, path, unix.O_RDWR)
	m, err := OpenMmap(fd, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	buf := make([]byte, 4096)
	if _, err := m.ReadAt(buf, 512<<10); err != nil {
		t.Fatalf("read before truncation: %v", err)
	}
	if err := unix.Ftruncate(fd, 4096); err != nil {
		t.Fatal(err)
	}
	n, err := m.ReadAt(buf, 512<<10)
	var fe *FaultError
	if !errors.Is(err, unix.EIO) || !errors.As(err, &fe) || n != 0 {
		t.Fatalf("read past the truncated end = %d, %v; want 0, EIO FaultError", n, err)
	}
	if fe.Off != 512<<10 || fe.Addr == 0 {
		t.Errorf("FaultError %+v", fe)
	}
	// The page still backed by the file reads fine.
	if _, err := m.ReadAt(buf, 0); err != nil {
		t.Errorf("read of the remaining page: %v", err)
	}
	// A read that starts in it and runs off the end faults too.
	if _, err := m.ReadAt(make([]byte, 8192), 0); !errors.Is(err, unix.EIO) {
		t.Errorf("read across the new end: %v, want EIO", err)
	}
}

func TestMappedClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	writeFile(t, path, []byte("hello"))
	fd := openFile(t, path, unix.O_RDONLY)
	for _, size := range []int64{5, 0} {
		m, err := OpenMmap(fd, size)
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != size {
			t.Errorf("Len = %d, want %d", m.Len(), size)
		}
		if err := m.Advise(unix.MADV_SEQUENTIAL); err != nil {
			t.Errorf("Advise: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := m.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadAt after Close: %v, want os.ErrClosed", err)
		}
	}
	p := NewPread(fd, 5)
	p.Close()
	if _, err := p.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Pread.ReadAt after Close: %v, want os.ErrClosed", err)
	}
	if _, err := OpenMmap(fd, -1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("OpenMmap(-1): %v, want EINVAL", err)
	}
}

// TestMappedConcurrent runs ReadAt from several goroutines and a Close in
// the middle (for -race): every read either succeeds or sees os.ErrClosed.
func TestMappedConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	data := randBytes(2<<20, 4)
	writeFile(t, path, data)
	fd := openFile(t, path, unix.O_RDONLY)
	m, err := OpenMmap(fd, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var wg, warm sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		warm.Add(1)
		go func() {
			defer wg.Done()
			warmed := false
			defer func() {
				if !warmed {
					warm.Done()
				}
			}()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			buf := make([]byte, 4096)
			for i := range 2000 {
				if i == 100 {
					warmed = true
					warm.Done()
				}
				off := rng.Int64N(int64(len(data) - len(buf)))
				n, err := m.ReadAt(buf, off)
				if errors.Is(err, os.ErrClosed) && i >= 100 {
					return
				}
				if err != nil || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
					t.Errorf("concurrent ReadAt(%d) = %d, %v", off, n, err)
					return
				}
			}
		}()
	}
	warm.Wait()
	m.Close()
	wg.Wait()
}
