package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// This file is the worker's side of each scenario: the code that runs, the
// same in every mode, in the `mfs __bench-worker` process (under `mfs run`,
// on a mount, or on a plain directory). Every operation is timed on its own
// and its latency recorded; nothing is averaged here.

// chunk is the size of one read or write call.
const chunk = 1 << 20

// workerEnv is what a workload acts on and where it records.
type workerEnv struct {
	Dir    string // the pool root (or the native directory)
	Aux    string // scratch directory outside the pool, fresh for the run
	Shared string // read-only inputs shared by every run (source trees)

	mu    sync.Mutex
	lat   []int64
	notes map[string]string
}

func (e *workerEnv) addLatencies(lat []int64) {
	e.mu.Lock()
	e.lat = append(e.lat, lat...)
	e.mu.Unlock()
}

func (e *workerEnv) note(k, v string) {
	e.mu.Lock()
	if e.notes == nil {
		e.notes = map[string]string{}
	}
	e.notes[k] = v
	e.mu.Unlock()
}

// ignoringEINTR retries f while it fails with EINTR: Go's own signals
// (SIGURG for goroutine preemption, SIGCHLD from tools) interrupt blocking
// calls, and on a FUSE mount more calls block than on a local disk. Every
// call of the worker goes through here, so it also paces the worker's
// passes through the scheduler (yield.go).
func ignoringEINTR(f func() error) error {
	workerYield.tick()
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func openFile(p string, flags int, mode uint32) (int, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(p, flags|unix.O_CLOEXEC, mode)
		return err
	})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return fd, nil
}

func writeAll(fd int, p string, b []byte) error {
	for len(b) > 0 {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Write(fd, b); return err })
		if err != nil {
			return &os.PathError{Op: "write", Path: p, Err: err}
		}
		b = b[n:]
	}
	return nil
}

func closeFile(fd int, p string) error {
	// close is not retried on EINTR: the descriptor is gone either way.
	if err := unix.Close(fd); err != nil {
		return &os.PathError{Op: "close", Path: p, Err: err}
	}
	return nil
}

// payload returns n deterministic, incompressible-looking bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func fileName(i int) string { return "f" + pad6(i) }

func pad6(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

// createOne is the create operation: open O_CREAT|O_EXCL, write, close.
func createOne(p string, data []byte) error {
	fd, err := openFile(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := writeAll(fd, p, data); err != nil {
		unix.Close(fd)
		return err
	}
	return closeFile(fd, p)
}

// createFiles creates n files of size bytes in dir, one timed op each.
func createFiles(e *workerEnv, dir, prefix string, n, size int) error {
	data := payload(size)
	names := make([]string, n)
	for i := range names {
		names[i] = dir + "/" + prefix + pad6(i)
	}
	lat := make([]int64, 0, n)
	defer func() { e.addLatencies(lat) }()
	for _, p := range names {
		t := time.Now()
		err := createOne(p, data)
		lat = append(lat, int64(time.Since(t)))
		if err != nil {
			return err
		}
	}
	return nil
}

// readWhole reads p to its end with chunk-sized reads and returns its size.
func readWhole(p string, buf []byte) (int64, error) {
	fd, err := openFile(p, unix.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	var total int64
	for {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = unix.Read(fd, buf); return err })
		if err != nil {
			unix.Close(fd)
			return total, &os.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			break
		}
		total += int64(n)
	}
	return total, closeFile(fd, p)
}

// readFiles reads files f000000.. in dir whole, one timed op per file.
func readFiles(e *workerEnv, dir string, files int) error {
	buf := make([]byte, chunk)
	lat := make([]int64, 0, files)
	defer func() { e.addLatencies(lat) }()
	for i := 0; i < files; i++ {
		p := dir + "/" + fileName(i)
		t := time.Now()
		n, err := readWhole(p, buf)
		lat = append(lat, int64(time.Since(t)))
		if err != nil {
			return err
		}
		if n == 0 && i == 0 {
			return fmt.Errorf("read %s: empty file (the prepared data is not visible through the pool)", p)
		}
	}
	return nil
}

// warmFiles reads every file once so that the timed run finds them cached.
func warmFiles(dir string, files int) error {
	buf := make([]byte, chunk)
	for i := 0; i < files; i++ {
		if _, err := readWhole(dir+"/"+fileName(i), buf); err != nil {
			return err
		}
	}
	return nil
}

// overwriteFiles rewrites each file in place (no O_TRUNC, no fsync), one
// timed op per file.
func overwriteFiles(e *workerEnv, dir string, files int, size int64) error {
	data := payload(int(min(size, chunk)))
	lat := make([]int64, 0, files)
	defer func() { e.addLatencies(lat) }()
	for i := 0; i < files; i++ {
		p := dir + "/" + fileName(i)
		t := time.Now()
		err := func() error {
			fd, err := openFile(p, unix.O_WRONLY, 0)
			if err != nil {
				return err
			}
			for left := size; left > 0; left -= int64(len(data)) {
				b := data
				if left < int64(len(b)) {
					b = b[:left]
				}
				if err := writeAll(fd, p, b); err != nil {
					unix.Close(fd)
					return err
				}
			}
			return closeFile(fd, p)
		}()
		lat = append(lat, int64(time.Since(t)))
		if err != nil {
			return err
		}
	}
	return nil
}

// passes runs pass reps times, one timed op each, and checks that every
// pass counted want entries; what names the pass in an error.
func (e *workerEnv) passes(what string, want, reps int, pass func() (int, error)) error {
	lat := make([]int64, 0, reps)
	defer func() { e.addLatencies(lat) }()
	for r := 0; r < reps; r++ {
		t := time.Now()
		n, err := pass()
		lat = append(lat, int64(time.Since(t)))
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("%s: %d entries, want %d", what, n, want)
		}
	}
	return nil
}

// listDir lists dir reps times (optionally lstat-ing each entry, as ls -l
// does), one timed op per pass, and checks that each pass saw want entries.
func listDir(e *workerEnv, dir string, want, reps int, stat bool) error {
	return e.passes("list "+dir, want, reps, func() (int, error) { return listOnce(dir, stat) })
}

func listOnce(dir string, stat bool) (int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	if stat {
		var st unix.Stat_t
		for _, name := range names {
			p := dir + "/" + name
			if err := ignoringEINTR(func() error { return unix.Lstat(p, &st) }); err != nil {
				return 0, &os.PathError{Op: "lstat", Path: p, Err: err}
			}
		}
	}
	return len(names), nil
}

// traverse walks the tree at root reps times, lstat-ing every entry, one
// timed op per pass, and checks the entry count.
func traverse(e *workerEnv, root string, want, reps int) error {
	return e.passes("traverse "+root, want, reps, func() (int, error) { return walk(root) })
}

func walk(dir string) (int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return 0, err
	}
	n := 0
	var st unix.Stat_t
	for _, d := range ents {
		p := dir + "/" + d.Name()
		if err := ignoringEINTR(func() error { return unix.Lstat(p, &st) }); err != nil {
			return n, &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		n++
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			m, err := walk(p)
			n += m
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// concurrentCreate starts workers goroutines (each blocking syscall holds
// its own OS thread) that create perWorker 1 KiB files each in dir.
func concurrentCreate(e *workerEnv, dir string, workers, perWorker int) error {
	data := payload(1 << 10)
	start := make(chan struct{})
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		names := make([]string, perWorker)
		for i := range names {
			names[i] = fmt.Sprintf("%s/w%02d-%s", dir, w, fileName(i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]int64, 0, perWorker)
			defer func() { e.addLatencies(lat) }()
			<-start
			for _, p := range names {
				t := time.Now()
				err := createOne(p, data)
				lat = append(lat, int64(time.Since(t)))
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	return <-errs
}

// mix runs mixWorkers concurrent workers doing mixOpsPerWorker operations
// each: with probability readPct% a whole read of a random existing file,
// otherwise the create of a new one. The choice sequence is seeded per
// worker, so every mode sees the same operations.
func mix(e *workerEnv, dir string, readPct int) error {
	data := payload(mixFileSize)
	start := make(chan struct{})
	errs := make(chan error, mixWorkers)
	var wg sync.WaitGroup
	for w := 0; w < mixWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(42, uint64(w)))
			buf := make([]byte, 64<<10)
			lat := make([]int64, 0, mixOpsPerWorker)
			defer func() { e.addLatencies(lat) }()
			<-start
			for j := 0; j < mixOpsPerWorker; j++ {
				var p string
				read := rng.IntN(100) < readPct
				if read {
					p = dir + "/" + fileName(rng.IntN(mixFiles))
				} else {
					p = fmt.Sprintf("%s/n%02d-%s", dir, w, fileName(j))
				}
				t := time.Now()
				var err error
				if read {
					_, err = readWhole(p, buf)
				} else {
					err = createOne(p, data)
				}
				lat = append(lat, int64(time.Since(t)))
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	return <-errs
}

// Tool commands. Building a command and parsing its output are kept apart
// (parsers in proc.go, tested on canned output).

func rsyncCmd(src, dst string) []string {
	return []string{"rsync", "-a", "--stats", src + "/", dst + "/"}
}

func tarExtractCmd(archive, dst string) []string {
	return []string{"tar", "-xf", archive, "-C", dst}
}

func tarCreateCmd(archive, dir string) []string {
	return []string{"tar", "-cf", archive, "-C", dir, "."}
}

func lsLongCmd(dir string) []string {
	return []string{"ls", "-l", dir}
}

func cpOutCmd(src, dst string) []string {
	return []string{"cp", "-r", src, dst}
}

// runTool runs argv and returns its standard output; a failure carries the
// tail of its standard error.
func runTool(argv []string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", shellJoin(argv), err, trimForError(errb.String()))
	}
	return out.String(), nil
}

// tool runs argv as one timed operation.
func (e *workerEnv) tool(argv []string) error {
	t := time.Now()
	_, err := runTool(argv)
	e.addLatencies([]int64{int64(time.Since(t))})
	return err
}

// lsLong runs ls -l on dir reps times, one timed op per pass, and checks
// that each pass listed want entries.
func (e *workerEnv) lsLong(dir string, want, reps int) error {
	argv := lsLongCmd(dir)
	return e.passes(shellJoin(argv), want, reps, func() (int, error) {
		out, err := runTool(argv)
		if err != nil {
			return 0, err
		}
		n, err := parseLsLong(out)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", shellJoin(argv), err)
		}
		return n, nil
	})
}

// rsync copies src into dst; untimed when it is the setup copy of the no-op
// re-run scenario. The timed run notes how many files rsync transferred.
func (e *workerEnv) rsync(src, dst string, setup bool) error {
	argv := rsyncCmd(src, dst)
	if setup {
		_, err := runTool(argv)
		return err
	}
	t := time.Now()
	out, err := runTool(argv)
	e.addLatencies([]int64{int64(time.Since(t))})
	if err != nil {
		return err
	}
	st, err := parseRsyncStats(out)
	if err != nil {
		return err
	}
	e.note("rsync_files", strconv.FormatInt(st.Files, 10))
	e.note("rsync_transferred", strconv.FormatInt(st.Transferred, 10))
	return nil
}

// mkdir makes one directory, through the pool.
func mkdir(p string) error {
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// sourceTree and sourceArchive name the shared inputs of the tool scenarios.
func sourceTree(shared string, n int) string { return path.Join(shared, "tree-"+strconv.Itoa(n)) }
func sourceArchive(shared string, n int) string {
	return path.Join(shared, "tree-"+strconv.Itoa(n)+".tar")
}
