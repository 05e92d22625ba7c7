package fileio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// fsPair returns a source directory (on the disk, t.TempDir) and a
// destination directory that is either on the same filesystem or on a fresh
// tmpfs, so copy_file_range meets EXDEV for real.
func fsPair(t *testing.T, cross bool) (src, dst string) {
	t.Helper()
	src = t.TempDir()
	if cross {
		return src, requireMount(t, "64m")
	}
	return src, t.TempDir()
}

var fsKinds = []struct {
	name  string
	cross bool
}{{"same", false}, {"cross", true}}

var forced = []Method{MethodCopyFileRange, MethodSendfile, MethodReadWrite}

func TestCopyData(t *testing.T) {
	sizes := []int{0, 1, 4095, 4096, 1<<20 + 3}
	for _, fk := range fsKinds {
		t.Run("fs="+fk.name, func(t *testing.T) {
			srcDir, dstDir := fsPair(t, fk.cross)
			for _, size := range sizes {
				data := randBytes(size, uint64(size))
				sp := filepath.Join(srcDir, fmt.Sprint("src", size))
				writeFile(t, sp, data)
				for _, first := range forced {
					t.Run(fmt.Sprintf("size=%d/first=%v", size, first), func(t *testing.T) {
						dp := filepath.Join(dstDir, fmt.Sprintf("dst%d-%v", size, first))
						src := openFile(t, sp, unix.O_RDONLY)
						dst := openFile(t, dp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
						n, m, err := copyData(dst, src, int64(size), first)
						if err != nil || n != int64(size) {
							t.Fatalf("copyData(%s -> %s, %d) = %d, %v, %v; want %d, nil", sp, dp, size, n, m, err, size)
						}
						sameContent(t, sp, dp)
						switch {
						case size == 0 && m != MethodNone:
							t.Errorf("method = %v for an empty file, want none", m)
						case size > 0 && first != MethodCopyFileRange && m != first:
							t.Errorf("forced %v but method = %v", first, m)
						case size > 0 && first == MethodCopyFileRange && !fk.cross && m != MethodCopyFileRange:
							t.Errorf("same filesystem: method = %v, want copy_file_range", m)
						}
						if size > 0 && first == MethodCopyFileRange && fk.cross {
							t.Logf("across filesystems the chain ended at %v", m)
						}
					})
				}
			}
		})
	}
}

// TestCopyDataAuto checks the public entry point, including size < 0 (take
// the size from fstat) and that src's file offset is not used.
func TestCopyDataAuto(t *testing.T) {
	for _, fk := range fsKinds {
		t.Run("fs="+fk.name, func(t *testing.T) {
			srcDir, dstDir := fsPair(t, fk.cross)
			sp, dp := filepath.Join(srcDir, "a"), filepath.Join(dstDir, "b")
			writeFile(t, sp, randBytes(300<<10+7, 7))
			src := openFile(t, sp, unix.O_RDONLY)
			if _, err := unix.Seek(src, 1000, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			dst := openFile(t, dp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
			n, m, err := CopyData(dst, src, -1)
			if err != nil || n != 300<<10+7 {
				t.Fatalf("CopyData = %d, %v, %v", n, m, err)
			}
			sameContent(t, sp, dp)
			if pos, _ := unix.Seek(src, 0, io.SeekCurrent); pos != 1000 {
				t.Errorf("src offset moved to %d", pos)
			}
			t.Logf("method %v", m)
		})
	}
}

func TestCopyDataPrefixAndShort(t *testing.T) {
	for _, fk := range fsKinds {
		t.Run("fs="+fk.name, func(t *testing.T) {
			srcDir, dstDir := fsPair(t, fk.cross)
			sp := filepath.Join(srcDir, "a")
			data := randBytes(100000, 3)
			writeFile(t, sp, data)
			for _, first := range forced {
				t.Run("first="+first.String(), func(t *testing.T) {
					src := openFile(t, sp, unix.O_RDONLY)
					dp := filepath.Join(dstDir, "prefix-"+first.String())
					dst := openFile(t, dp, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC)
					if n, _, err := copyData(dst, src, 5000, first); err != nil || n != 5000 {
						t.Fatalf("prefix copy = %d, %v", n, err)
					}
					got, _ := os.ReadFile(dp)
					if string(got) != string(data[:5000]) {
						t.Errorf("prefix copy: got %d bytes, content mismatch", len(got))
					}

					dp = filepath.Join(dstDir, "short-"+first.String())
					dst = openFile(t, dp, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC)
					n, _, err := copyData(dst, src, 200000, first)
					if !errors.Is(err, io.ErrUnexpectedEOF) || n != 100000 {
						t.Errorf("copy past EOF = %d, %v; want 100000, io.ErrUnexpectedEOF", n, err)
					}
				})
			}
		})
	}
}

func TestCopyDataSparse(t *testing.T) {
	const size = 8 << 20
	layouts := []struct {
		name string
		at   []int64
	}{
		{"holes-between", []int64{0, 4 << 20, size - 4096}},
		{"hole-at-end", []int64{0, 1 << 20}},
		{"hole-at-start", []int64{6 << 20}},
		{"all-hole", nil},
	}
	for _, fk := range fsKinds {
		t.Run("fs="+fk.name, func(t *testing.T) {
			srcDir, dstDir := fsPair(t, fk.cross)
			for _, l := range layouts {
				sp := filepath.Join(srcDir, l.name)
				want := makeSparse(t, sp, size, l.at...)
				for _, first := range forced {
					t.Run(l.name+"/first="+first.String(), func(t *testing.T) {
						dp := filepath.Join(dstDir, l.name+"-"+first.String())
						src := openFile(t, sp, unix.O_RDONLY)
						dst := openFile(t, dp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
						if n, _, err := copyData(dst, src, size, first); err != nil || n != size {
							t.Fatalf("copyData = %d, %v", n, err)
						}
						got, err := os.ReadFile(dp)
						if err != nil {
							t.Fatal(err)
						}
						if string(got) != string(want) {
							t.Fatalf("sparse copy content mismatch (len %d)", len(got))
						}
						var st unix.Stat_t
						if err := unix.Fstat(dst, &st); err != nil {
							t.Fatal(err)
						}
						// Data blocks plus slack for metadata/extent blocks.
						limit := int64(len(l.at))*4096 + 64<<10
						if st.Blocks*512 > limit {
							t.Errorf("copy allocates %d bytes, want ≤ %d: holes were filled", st.Blocks*512, limit)
						}
					})
				}
			}
		})
	}
}

func TestMethodString(t *testing.T) {
	for m, want := range map[Method]string{
		MethodNone: "none", MethodCopyFileRange: "copy_file_range",
		MethodSendfile: "sendfile", MethodReadWrite: "readwrite", 9: "Method(9)",
	} {
		if got := m.String(); got != want {
			t.Errorf("Method(%d).String() = %q, want %q", m, got, want)
		}
	}
}

func TestBufferSize(t *testing.T) {
	for _, c := range []struct {
		size int64
		want int
	}{{0, 4 << 10}, {1, 4 << 10}, {4096, 4 << 10}, {4097, 16 << 10}, {100 << 10, 256 << 10}, {1 << 20, 256 << 10}, {1 << 30, 256 << 10}} {
		if got := BufferSize(c.size); got != c.want {
			t.Errorf("BufferSize(%d) = %d, want %d", c.size, got, c.want)
		}
	}
}

// TestCopyDataAllocs: the pooled buffer and offset locals keep a steady-state
// copy allocation-free.
func TestCopyDataAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers on purpose")
	}
	dir := t.TempDir()
	sp := filepath.Join(dir, "a")
	writeFile(t, sp, randBytes(64<<10, 1))
	src := openFile(t, sp, unix.O_RDONLY)
	dst := openFile(t, filepath.Join(dir, "b"), unix.O_WRONLY|unix.O_CREAT)
	for _, first := range forced {
		allocs := testing.AllocsPerRun(20, func() {
			if _, _, err := copyData(dst, src, -1, first); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 {
			t.Errorf("copyData first=%v: %.1f allocations per copy, want 0", first, allocs)
		}
	}
}
