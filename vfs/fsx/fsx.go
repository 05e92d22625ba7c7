package fsx

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Config describes one run.
type Config struct {
	Dir     string // directory to work in (a mount, a union path, a plain dir)
	Seed    uint64
	Ops     int
	MaxSize int64 // largest file size the run produces (default 256 KiB)
	// Disable lists operations the target cannot support (e.g. "mmap-write"
	// on a FUSE mount with direct I/O), by name.
	Disable []string
	// CheckEvery is how many operations pass between full-content checks
	// (default 1: every operation).
	CheckEvery int
}

// Result summarises a run.
type Result struct {
	Ops    int
	Counts map[string]int
}

type op struct {
	name   string
	weight int
	run    func(t *tester) error
}

type tester struct {
	cfg   Config
	rng   *rand.Rand
	path  string
	src   string // second file, source of copy_file_range
	fd    int
	model []byte
	log   []string
	page  int
}

var ops = []op{
	{"write", 30, (*tester).write},
	{"read", 20, (*tester).read},
	{"truncate", 6, (*tester).truncate},
	{"punch-hole", 4, (*tester).punchHole},
	{"zero-range", 3, (*tester).zeroRange},
	{"mmap-read", 5, (*tester).mmapRead},
	{"mmap-write", 5, (*tester).mmapWrite},
	{"copy-range", 5, (*tester).copyRange},
	{"append", 6, (*tester).appendWrite},
	{"reopen", 3, (*tester).reopen},
	{"fsync", 2, (*tester).fsync},
}

// Run executes the configured operations and returns the first mismatch as
// an error naming the seed, the operation and the recent history.
func Run(cfg Config) (Result, error) {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 256 << 10
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 1
	}
	t := &tester{
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		path: filepath.Join(cfg.Dir, fmt.Sprintf("fsx-%d", cfg.Seed)),
		src:  filepath.Join(cfg.Dir, fmt.Sprintf("fsx-%d.src", cfg.Seed)),
		page: os.Getpagesize(),
	}
	res := Result{Counts: map[string]int{}}
	if err := t.setup(); err != nil {
		return res, err
	}
	defer t.teardown()
	enabled := ops[:0:0]
	total := 0
	for _, o := range ops {
		if !contains(cfg.Disable, o.name) {
			enabled = append(enabled, o)
			total += o.weight
		}
	}
	for i := 0; i < cfg.Ops; i++ {
		r := t.rng.IntN(total)
		var o op
		for _, o = range enabled {
			if r < o.weight {
				break
			}
			r -= o.weight
		}
		if err := o.run(t); err != nil {
			return res, t.fail(i, o.name, err)
		}
		res.Counts[o.name]++
		res.Ops++
		if err := t.checkSize(); err != nil {
			return res, t.fail(i, o.name, err)
		}
		if (i+1)%cfg.CheckEvery == 0 || i == cfg.Ops-1 {
			if err := t.checkAll(); err != nil {
				return res, t.fail(i, o.name, err)
			}
		}
	}
	return res, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (t *tester) fail(i int, name string, err error) error {
	start := max(0, len(t.log)-15)
	return fmt.Errorf("fsx seed %d: op #%d (%s): %w\nlast operations:\n  %s",
		t.cfg.Seed, i, name, err, strings.Join(t.log[start:], "\n  "))
}

func (t *tester) logf(format string, args ...any) {
	t.log = append(t.log, fmt.Sprintf(format, args...))
	if len(t.log) > 64 {
		t.log = t.log[len(t.log)-32:]
	}
}

func (t *tester) setup() error {
	fd, err := unix.Open(t.path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("fsx: create %s: %w", t.path, err)
	}
	t.fd = fd
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(t.rng.Uint32())
	}
	if err := os.WriteFile(t.src, data, 0o644); err != nil {
		return fmt.Errorf("fsx: create %s: %w", t.src, err)
	}
	return nil
}

func (t *tester) teardown() {
	unix.Close(t.fd)
	os.Remove(t.path)
	os.Remove(t.src)
}

func (t *tester) randRange() (off int64, n int) {
	off = t.rng.Int64N(t.cfg.MaxSize)
	n = 1 + t.rng.IntN(int(min(t.cfg.MaxSize-off, 32<<10)))
	return off, n
}

func (t *tester) grow(end int64) {
	if end > int64(len(t.model)) {
		t.model = append(t.model, make([]byte, end-int64(len(t.model)))...)
	}
}

func (t *tester) fill(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(t.rng.Uint32())
	}
	return b
}

func (t *tester) write() error {
	off, n := t.randRange()
	data := t.fill(n)
	t.logf("write off=%d len=%d", off, n)
	w, err := unix.Pwrite(t.fd, data, off)
	if err != nil || w != n {
		return fmt.Errorf("pwrite = %d, %v", w, err)
	}
	t.grow(off + int64(n))
	copy(t.model[off:], data)
	return nil
}

func (t *tester) read() error {
	off, n := t.randRange()
	t.logf("read off=%d len=%d", off, n)
	buf := make([]byte, n)
	got, err := unix.Pread(t.fd, buf, off)
	if err != nil {
		return fmt.Errorf("pread: %v", err)
	}
	want := 0
	if off < int64(len(t.model)) {
		want = int(min(int64(n), int64(len(t.model))-off))
	}
	if got != want {
		return fmt.Errorf("pread returned %d bytes, model has %d", got, want)
	}
	if want > 0 && !bytes.Equal(buf[:got], t.model[off:off+int64(got)]) {
		return fmt.Errorf("pread data differs from the model at %d", off+int64(firstDiff(buf[:got], t.model[off:])))
	}
	return nil
}

func (t *tester) truncate() error {
	size := t.rng.Int64N(t.cfg.MaxSize + 1)
	t.logf("truncate size=%d", size)
	if err := unix.Ftruncate(t.fd, size); err != nil {
		return fmt.Errorf("ftruncate: %v", err)
	}
	if size < int64(len(t.model)) {
		t.model = t.model[:size]
	} else {
		t.grow(size)
	}
	return nil
}

func (t *tester) punchHole() error {
	if len(t.model) == 0 {
		return nil
	}
	off := t.rng.Int64N(int64(len(t.model)))
	n := 1 + t.rng.Int64N(int64(len(t.model))-off)
	t.logf("punch-hole off=%d len=%d", off, n)
	err := unix.Fallocate(t.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == unix.EOPNOTSUPP {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fallocate punch: %v", err)
	}
	clear(t.model[off : off+n])
	return nil
}

func (t *tester) zeroRange() error {
	off, n := t.randRange()
	t.logf("zero-range off=%d len=%d", off, n)
	err := unix.Fallocate(t.fd, unix.FALLOC_FL_ZERO_RANGE, off, int64(n))
	if err == unix.EOPNOTSUPP {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fallocate zero-range: %v", err)
	}
	t.grow(off + int64(n))
	clear(t.model[off : off+int64(n)])
	return nil
}

func (t *tester) mmapRead() error {
	if len(t.model) == 0 {
		return nil
	}
	t.logf("mmap-read size=%d", len(t.model))
	m, err := unix.Mmap(t.fd, 0, len(t.model), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap read: %v", err)
	}
	defer unix.Munmap(m)
	if !bytes.Equal(m, t.model) {
		return fmt.Errorf("mmap contents differ from the model at %d", firstDiff(m, t.model))
	}
	return nil
}

func (t *tester) mmapWrite() error {
	if len(t.model) == 0 {
		return nil
	}
	off := t.rng.IntN(len(t.model))
	n := 1 + t.rng.IntN(min(len(t.model)-off, 16<<10))
	t.logf("mmap-write off=%d len=%d", off, n)
	m, err := unix.Mmap(t.fd, 0, len(t.model), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap write: %v", err)
	}
	data := t.fill(n)
	copy(m[off:], data)
	err = unix.Msync(m, unix.MS_SYNC)
	unix.Munmap(m)
	if err != nil {
		return fmt.Errorf("msync: %v", err)
	}
	copy(t.model[off:], data)
	return nil
}

func (t *tester) copyRange() error {
	src, err := os.ReadFile(t.src)
	if err != nil {
		return err
	}
	soff := t.rng.Int64N(int64(len(src)))
	n := 1 + t.rng.IntN(int(int64(len(src))-soff))
	doff := t.rng.Int64N(t.cfg.MaxSize - int64(n))
	t.logf("copy-range src=%d dst=%d len=%d", soff, doff, n)
	sfd, err := unix.Open(t.src, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	so, do := soff, doff
	left := n
	for left > 0 {
		c, err := unix.CopyFileRange(sfd, &so, t.fd, &do, left, 0)
		if err == unix.EXDEV || err == unix.EOPNOTSUPP || err == unix.EINVAL {
			// Not supported between these files: copy through a buffer.
			buf := src[so : so+int64(left)]
			if _, err := unix.Pwrite(t.fd, buf, do); err != nil {
				return fmt.Errorf("pwrite fallback: %v", err)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("copy_file_range: %v", err)
		}
		if c == 0 {
			return fmt.Errorf("copy_file_range copied nothing with %d bytes left", left)
		}
		left -= c
	}
	t.grow(doff + int64(n))
	copy(t.model[doff:], src[soff:soff+int64(n)])
	return nil
}

func (t *tester) appendWrite() error {
	n := 1 + t.rng.IntN(8<<10)
	if int64(len(t.model)+n) > t.cfg.MaxSize {
		return t.truncate()
	}
	t.logf("append len=%d", n)
	fd, err := unix.Open(t.path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open O_APPEND: %v", err)
	}
	defer unix.Close(fd)
	data := t.fill(n)
	if w, err := unix.Write(fd, data); err != nil || w != n {
		return fmt.Errorf("append write = %d, %v", w, err)
	}
	t.model = append(t.model, data...)
	return nil
}

func (t *tester) reopen() error {
	t.logf("reopen")
	unix.Close(t.fd)
	fd, err := unix.Open(t.path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reopen: %v", err)
	}
	t.fd = fd
	return nil
}

func (t *tester) fsync() error {
	t.logf("fsync")
	if err := unix.Fsync(t.fd); err != nil {
		return fmt.Errorf("fsync: %v", err)
	}
	return nil
}

func (t *tester) checkSize() error {
	var st unix.Stat_t
	if err := unix.Fstat(t.fd, &st); err != nil {
		return fmt.Errorf("fstat: %v", err)
	}
	if st.Size != int64(len(t.model)) {
		return fmt.Errorf("size %d, model %d", st.Size, len(t.model))
	}
	var pst unix.Stat_t
	if err := unix.Stat(t.path, &pst); err != nil {
		return fmt.Errorf("stat by path: %v", err)
	}
	if pst.Size != int64(len(t.model)) {
		return fmt.Errorf("stat by path: size %d, model %d", pst.Size, len(t.model))
	}
	return nil
}

func (t *tester) checkAll() error {
	got, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("read back: %v", err)
	}
	if !bytes.Equal(got, t.model) {
		if len(got) != len(t.model) {
			return fmt.Errorf("read back %d bytes, model %d", len(got), len(t.model))
		}
		return fmt.Errorf("contents differ from the model at %d", firstDiff(got, t.model))
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
