package fileio

import (
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Benchmarks behind the decisions in doc.go. Run:
//
//	go test -run x -bench . -benchtime 5x -count 3 ./vfs/fileio/
//
// Every case works on page-cached data (sources are written, then read once
// before timing), so they measure CPU and syscall cost, not the disk.

var benchSizes = []struct {
	name string
	size int
}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}, {"100MiB", 100 << 20}}

// rwFixed is the baseline: the classic pread/pwrite loop with a fixed
// 32 KiB buffer (what io.Copy would do without its copy_file_range
// shortcut).
func rwFixed(dst, src int, size int64, buf []byte) error {
	_, err := rwLoop(dst, src, buf, 0, size)
	return err
}

// warm reads the file once so it is in the page cache.
func warm(b *testing.B, path string) {
	b.Helper()
	fd := openFile(b, path, unix.O_RDONLY)
	buf := make([]byte, 1<<20)
	for off := int64(0); ; {
		n, err := unix.Pread(fd, buf, off)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
		off += int64(n)
	}
}

// BenchmarkCopy compares the copy engine (auto: copy_file_range → sendfile →
// read/write) with a fixed 32 KiB read/write loop and with the adaptive
// read/write loop alone, within one filesystem and from disk to tmpfs.
func BenchmarkCopy(b *testing.B) {
	srcDir := b.TempDir()
	for _, sz := range benchSizes {
		path := filepath.Join(srcDir, sz.name)
		writeFile(b, path, randBytes(sz.size, 1))
		warm(b, path)
	}
	for _, sz := range benchSizes {
		b.Run("size="+sz.name, func(b *testing.B) {
			for _, fk := range fsKinds {
				b.Run("fs="+fk.name, func(b *testing.B) {
					dstDir := b.TempDir()
					if fk.cross {
						dstDir = requireMount(b, "256m")
					}
					src := openFile(b, filepath.Join(srcDir, sz.name), unix.O_RDONLY)
					dst := openFile(b, filepath.Join(dstDir, "dst"), unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC)
					size := int64(sz.size)
					fixed := make([]byte, 32<<10)
					methods := []struct {
						name string
						copy func() error
					}{
						{"auto", func() error { _, _, err := CopyData(dst, src, size); return err }},
						{"rw32k", func() error { return rwFixed(dst, src, size, fixed) }},
						{"adaptive", func() error { _, _, err := copyData(dst, src, size, MethodReadWrite); return err }},
						{"sendfile", func() error { _, _, err := copyData(dst, src, size, MethodSendfile); return err }},
					}
					for _, m := range methods {
						b.Run("method="+m.name, func(b *testing.B) {
							b.SetBytes(size)
							b.ReportAllocs()
							for b.Loop() {
								if err := ftruncate(dst, 0); err != nil {
									b.Fatal(err)
								}
								if err := m.copy(); err != nil {
									b.Fatal(err)
								}
							}
						})
					}
					if err := ftruncate(dst, 0); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}

// BenchmarkBufferSize picks the largest buffer class: the read/write loop
// over a 100 MiB cached file, disk to tmpfs (where it is the engine's
// fallback after EXDEV), at several buffer sizes.
func BenchmarkBufferSize(b *testing.B) {
	const size = 100 << 20
	path := filepath.Join(b.TempDir(), "src")
	writeFile(b, path, randBytes(size, 2))
	warm(b, path)
	src := openFile(b, path, unix.O_RDONLY)
	dst := openFile(b, filepath.Join(requireMount(b, "256m"), "dst"), unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC)
	for _, kib := range []int{32, 64, 256, 1024, 4096} {
		buf := make([]byte, kib<<10)
		b.Run(fmt.Sprintf("buf=%dKiB", kib), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := ftruncate(dst, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := rwLoop(dst, src, buf, 0, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if err := ftruncate(dst, 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCopyFileAt: the O_TMPFILE protocol against the named temp file,
// for a small file (where the extra syscalls would show).
func BenchmarkCopyFileAt(b *testing.B) {
	dir := b.TempDir()
	fd := openDir(b, dir)
	for _, sz := range benchSizes[:2] {
		writeFile(b, filepath.Join(dir, "src"+sz.name), randBytes(sz.size, 3))
		for _, cr := range creations {
			b.Run("size="+sz.name+"/temp="+cr.name, func(b *testing.B) {
				b.SetBytes(int64(sz.size))
				b.ReportAllocs()
				for b.Loop() {
					if err := CopyFileAt(fd, "src"+sz.name, fd, "dst", cr.opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// readerKinds are the ways of reading a file that BenchmarkRead compares.
var readerKinds = []struct {
	name string
	open func(fd int, size int64) (ReaderAtCloser, error)
}{
	{"pread", func(fd int, size int64) (ReaderAtCloser, error) { return NewPread(fd, size), nil }},
	{"mmap", func(fd int, size int64) (ReaderAtCloser, error) { return OpenMmap(fd, size) }},
	{"mmap-seq", func(fd int, size int64) (ReaderAtCloser, error) {
		m, err := OpenMmap(fd, size)
		if err == nil {
			err = m.Advise(unix.MADV_SEQUENTIAL)
		}
		return m, err
	}},
	{"mmap-willneed", func(fd int, size int64) (ReaderAtCloser, error) {
		m, err := OpenMmap(fd, size)
		if err == nil {
			err = m.Advise(unix.MADV_WILLNEED)
		}
		return m, err
	}},
	{"mmap-populate", func(fd int, size int64) (ReaderAtCloser, error) {
		data, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil, err
		}
		return &Mapped{data: data, size: size}, nil
	}},
}

// readAll reads r sequentially through buf.
func readAll(r io.ReaderAt, size int64, buf []byte) error {
	for off := int64(0); off < size; {
		n, err := r.ReadAt(buf, off)
		off += int64(n)
		if err != nil && !(err == io.EOF && off == size) {
			return err
		}
	}
	return nil
}

// BenchmarkRead: one sequential pass over a cached 64 MiB file (open the
// reader, read it through a 256 KiB buffer, close), and repeated random 4 KiB
// reads of a cached 16 MiB region (reader opened once).
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	const seqSize, region = 64 << 20, 16 << 20
	path := filepath.Join(dir, "f")
	writeFile(b, path, randBytes(seqSize, 4))
	warm(b, path)
	fd := openFile(b, path, unix.O_RDONLY)
	if err := fsync(fd); err != nil { // clean pages, so DONTNEED can drop them
		b.Fatal(err)
	}
	b.Run("pattern=seq/size=64MiB", func(b *testing.B) {
		buf := make([]byte, 256<<10)
		for _, k := range readerKinds {
			b.Run("reader="+k.name, func(b *testing.B) {
				b.SetBytes(seqSize)
				b.ReportAllocs()
				for b.Loop() {
					r, err := k.open(fd, seqSize)
					if err != nil {
						b.Fatal(err)
					}
					if err := readAll(r, seqSize, buf); err != nil {
						b.Fatal(err)
					}
					r.Close()
				}
			})
		}
	})
	// The same pass with the file evicted first (posix_fadvise DONTNEED,
	// untimed), so readahead and the mmap advice matter.
	b.Run("pattern=seq-cold/size=64MiB", func(b *testing.B) {
		buf := make([]byte, 256<<10)
		for _, k := range readerKinds {
			b.Run("reader="+k.name, func(b *testing.B) {
				b.SetBytes(seqSize)
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					if err := fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					r, err := k.open(fd, seqSize)
					if err != nil {
						b.Fatal(err)
					}
					if err := readAll(r, seqSize, buf); err != nil {
						b.Fatal(err)
					}
					r.Close()
				}
			})
		}
		warm(b, path)
	})
	b.Run("pattern=random4k/region=16MiB", func(b *testing.B) {
		buf := make([]byte, 4096)
		for _, k := range readerKinds[:3] {
			b.Run("reader="+k.name, func(b *testing.B) {
				r, err := k.open(fd, region)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				if err := readAll(r, region, make([]byte, 1<<20)); err != nil { // fault the region in
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(5, 6))
				b.SetBytes(4096)
				b.ReportAllocs()
				for b.Loop() {
					off := rng.Int64N(region/4096) * 4096
					if _, err := r.ReadAt(buf, off); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		// The cost of ReadAt's guard (RWMutex, SetPanicOnFault, recover):
		// the same reads as a bare copy from the mapping.
		b.Run("reader=mmap-unguarded", func(b *testing.B) {
			m, err := OpenMmap(fd, region)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			copy(make([]byte, region), m.data)
			rng := rand.New(rand.NewPCG(5, 6))
			b.SetBytes(4096)
			b.ReportAllocs()
			for b.Loop() {
				off := rng.Int64N(region/4096) * 4096
				copy(buf, m.data[off:off+4096])
			}
		})
	})
}

// BenchmarkReaderSetup: open a reader, read the file once, close. This is
// where mmap's fixed cost shows, and it sets MmapThreshold.
func BenchmarkReaderSetup(b *testing.B) {
	dir := b.TempDir()
	buf := make([]byte, 256<<10)
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20} {
		path := filepath.Join(dir, fmt.Sprint(size))
		writeFile(b, path, randBytes(size, 7))
		warm(b, path)
		fd := openFile(b, path, unix.O_RDONLY)
		for _, k := range readerKinds[:2] {
			b.Run(fmt.Sprintf("size=%dKiB/reader=%s", size>>10, k.name), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					r, err := k.open(fd, int64(size))
					if err != nil {
						b.Fatal(err)
					}
					if err := readAll(r, int64(size), buf); err != nil {
						b.Fatal(err)
					}
					r.Close()
				}
			})
		}
	}
}
