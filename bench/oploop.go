package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Op loops: one syscall-level operation repeated N times by the worker
// (`mfs __bench-worker --loop OP --n N --dir DIR`), for the go test
// benchmarks of this package (BenchmarkOp): the per-call cost of each mode
// without a scenario around it, comparable with INTERCEPT.md §4 and with the
// C-probe. The directory layout is made by prepareOps straight into the
// branches: DIR/op holds opFiles empty files f000000.. spread round-robin
// and opBig, a 64 KiB file, in the last branch (so ff search walks every
// branch before it finds it).

// Ops are the loop operations, in report order.
var Ops = []string{"stat", "open", "create", "readdir", "read", "exec", "exec-pool"}

const (
	opFiles = 100
	opBig   = "big"
	opRead  = 64 << 10
	opTrue  = "true" // a copy of /bin/true in the first branch
)

// opAbout says what one call of each op is.
var opAbout = map[string]string{
	"stat":      "lstat of DIR/op/big (in the last branch)",
	"open":      "open O_RDONLY + close of DIR/op/big",
	"create":    "open O_CREAT|O_EXCL + close + unlink of a new file in DIR/op",
	"readdir":   "open DIR/op (101 entries over the branches) + getdents to the end + close",
	"read":      "pread of 64 KiB at offset 0 from an open DIR/op/big (the data path only)",
	"exec":      "fork, exec and wait of /bin/true (outside the pool): process start under the mode",
	"exec-pool": "fork, exec and wait of DIR/op/true, a copy of /bin/true stored in the pool",
}

// prepareOps lays out DIR/op in the branches (or the native directory).
func prepareOps(data []string) error {
	if err := spreadFiles(data, "op", opFiles, 0); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(data[len(data)-1], "op", opBig), payload(opRead), 0o644); err != nil {
		return err
	}
	bin, err := os.ReadFile("/bin/true")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(data[0], "op", opTrue), bin, 0o755)
}

// lineLoop reports an op loop's result: nanoseconds per call.
const lineLoop = "MFSBENCH LOOP "

// runLoop runs op n times in dir and writes the time per call.
func runLoop(op string, n int, dir string, out io.Writer) error {
	base := filepath.Join(dir, "op")
	big := base + "/" + opBig
	var call func(i int) error
	var cleanup func()
	switch op {
	case "stat":
		var st unix.Stat_t
		call = func(int) error {
			return pathErr("lstat", big, ignoringEINTR(func() error { return unix.Lstat(big, &st) }))
		}
	case "open":
		call = func(int) error {
			fd, err := openFile(big, unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			return closeFile(fd, big)
		}
	case "create":
		call = func(i int) error {
			p := base + "/n" + strconv.Itoa(i)
			if err := createOne(p, nil); err != nil {
				return err
			}
			return pathErr("unlink", p, ignoringEINTR(func() error { return unix.Unlink(p) }))
		}
	case "readdir":
		buf := make([]byte, 32<<10)
		call = func(int) error {
			fd, err := openFile(base, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				return err
			}
			for {
				var k int
				err := ignoringEINTR(func() (err error) { k, err = unix.Getdents(fd, buf); return err })
				if err != nil {
					unix.Close(fd)
					return pathErr("getdents64", base, err)
				}
				if k == 0 {
					break
				}
			}
			return closeFile(fd, base)
		}
	case "read":
		fd, err := openFile(big, unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		cleanup = func() { unix.Close(fd) }
		buf := make([]byte, opRead)
		call = func(int) error {
			var k int
			err := ignoringEINTR(func() (err error) { k, err = unix.Pread(fd, buf, 0); return err })
			if err == nil && k != opRead {
				err = fmt.Errorf("short read: %d of %d bytes", k, opRead)
			}
			return pathErr("pread", big, err)
		}
	case "exec", "exec-pool":
		prog := "/bin/true"
		if op == "exec-pool" {
			prog = base + "/" + opTrue
		}
		call = func(int) error {
			if err := exec.Command(prog).Run(); err != nil {
				return fmt.Errorf("%s: %w", prog, err)
			}
			return nil
		}
	default:
		return fmt.Errorf("unknown --loop %q; valid: %s", op, strings.Join(Ops, ", "))
	}
	if cleanup != nil {
		defer cleanup()
	}
	for i := 0; i < min(n, 10); i++ { // warm-up: lookups, page cache
		if err := call(-1 - i); err != nil {
			return err
		}
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if err := call(i); err != nil {
			return err
		}
	}
	per := 0.0
	if n > 0 {
		per = float64(time.Since(t0).Nanoseconds()) / float64(n)
	}
	_, err := fmt.Fprintf(out, "%s%.1f\n", lineLoop, per)
	return err
}

func pathErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: p, Err: err}
}

// parseLoopLine finds the loop result in a worker's output.
func parseLoopLine(out string) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(lineLoop)); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %q line in %q", strings.TrimSpace(lineLoop), trimForError(out))
}
