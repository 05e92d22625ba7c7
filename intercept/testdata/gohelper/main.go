// Command gohelper is a static Go program the intercept tests run under the
// supervisor: raw syscalls, no libc. Arguments are operations separated by
// "+": gohelper stat /pool/a + readdir /pool + write /pool/n hi
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mfs-union/mfs/vfs/fsx"
)

func main() {
	var ops [][]string
	cur := []string{}
	for _, a := range os.Args[1:] {
		if a == "+" {
			ops = append(ops, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, a)
	}
	ops = append(ops, cur)
	for _, op := range ops {
		if err := run(op); err != nil {
			fmt.Fprintln(os.Stderr, "gohelper:", strings.Join(op, " "), ":", err)
			os.Exit(1)
		}
	}
}

func run(op []string) error {
	if len(op) == 0 {
		return nil
	}
	arg := func(i int) string {
		if i < len(op) {
			return op[i]
		}
		return ""
	}
	switch op[0] {
	case "fsx":
		// fsx DIR SEED OPS: the model-checked random I/O run (vfs/fsx) in DIR
		seed, _ := strconv.ParseUint(arg(2), 10, 64)
		n, _ := strconv.Atoi(arg(3))
		res, err := fsx.Run(fsx.Config{Dir: arg(1), Seed: seed, Ops: n, CheckEvery: 5})
		if err != nil {
			return err
		}
		fmt.Printf("fsx %d ops\n", res.Ops)
	case "stat":
		fi, err := os.Stat(arg(1))
		if err != nil {
			return err
		}
		fmt.Printf("%s size=%d dir=%v mode=%v\n", fi.Name(), fi.Size(), fi.IsDir(), fi.Mode().Perm())
	case "readdir":
		ents, err := os.ReadDir(arg(1))
		if err != nil {
			return err
		}
		var names []string
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() {
				n += "/"
			}
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, " "))
	case "read":
		b, err := os.ReadFile(arg(1))
		if err != nil {
			return err
		}
		fmt.Print(string(b))
	case "write":
		return os.WriteFile(arg(1), []byte(arg(2)), 0o644)
	case "mkdirall":
		return os.MkdirAll(arg(1), 0o755)
	case "rename":
		return os.Rename(arg(1), arg(2))
	case "remove":
		return os.Remove(arg(1))
	case "removeall":
		return os.RemoveAll(arg(1))
	case "chdir":
		return os.Chdir(arg(1))
	case "getwd":
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		fmt.Println(wd)
	case "symlink":
		return os.Symlink(arg(1), arg(2))
	case "readlink":
		s, err := os.Readlink(arg(1))
		if err != nil {
			return err
		}
		fmt.Println(s)
	case "executable":
		s, err := os.Executable()
		if err != nil {
			return err
		}
		fmt.Println(s)
	case "exists":
		_, err := os.Lstat(arg(1))
		fmt.Println(err == nil)
	case "dents":
		// dents DIR BUFSIZE: the whole listing through getdents64 with a
		// small buffer, then the invariants the supervisor promises.
		n, _ := strconv.Atoi(arg(2))
		return dents(arg(1), n)
	case "statloop":
		// statloop PATH N: ns per os.Stat
		n, _ := strconv.Atoi(arg(2))
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := os.Stat(arg(1)); err != nil {
				return err
			}
		}
		fmt.Printf("%d\n", time.Since(start).Nanoseconds()/int64(n))
	case "fchdirloop":
		// fchdirloop DIR N: ns per fchdir, a trapped call answered with a
		// bare CONTINUE (no memory read)
		n, _ := strconv.Atoi(arg(2))
		fd, err := syscall.Open(arg(1), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := syscall.Fchdir(fd); err != nil {
				return err
			}
		}
		fmt.Printf("%d\n", time.Since(start).Nanoseconds()/int64(n))
	case "openloop":
		n, _ := strconv.Atoi(arg(2))
		start := time.Now()
		for i := 0; i < n; i++ {
			fd, err := syscall.Open(arg(1), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			syscall.Close(fd)
		}
		fmt.Printf("%d\n", time.Since(start).Nanoseconds()/int64(n))
	case "openverify":
		// openverify PATH N: N opens of PATH, each fd checked (sameFile)
		n, _ := strconv.Atoi(arg(2))
		for i := 0; i < n; i++ {
			fd, err := openRetry(arg(1), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			if err := sameFile(fd, arg(1)); err != nil {
				return fmt.Errorf("open %d: %v", i, err)
			}
			syscall.Close(fd)
		}
	case "xattredges":
		// xattredges PATH NAME: getxattr with strings at page ends (xattr.go)
		return xattrEdges(arg(1), arg(2))
	case "mixverify":
		// mixverify DIR THREADS OPS: THREADS goroutines doing OPS operations
		// each, 4 of 5 a whole read of DIR/r0..r15 (4 KiB files), 1 of 5 the
		// create and write of a new 4 KiB file; each fd checked (sameFile)
		threads, _ := strconv.Atoi(arg(2))
		ops, _ := strconv.Atoi(arg(3))
		return mixVerify(arg(1), threads, ops)
	default:
		return fmt.Errorf("unknown op %q", op[0])
	}
	return nil
}

// readNames reads getdents64 records from fd with a buf-sized buffer until
// max names or the end; it returns the names and the d_off of the last one.
func readNames(fd, bufsz, max int) ([]string, int64, error) {
	buf := make([]byte, bufsz)
	var names []string
	var last int64
	for max < 0 || len(names) < max {
		n, err := syscall.Getdents(fd, buf)
		if err != nil {
			return nil, 0, err
		}
		if n == 0 {
			break
		}
		for b := buf[:n]; len(b) > 0; {
			reclen := int(b[16]) | int(b[17])<<8
			off := int64(0)
			for i := 7; i >= 0; i-- {
				off = off<<8 | int64(b[8+i])
			}
			name := b[19:reclen]
			if i := strings.IndexByte(string(name), 0); i >= 0 {
				name = name[:i]
			}
			names = append(names, string(name))
			last = off
			b = b[reclen:]
		}
	}
	return names, last, nil
}

func dents(dir string, bufsz int) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	all, _, err := readNames(fd, bufsz, -1)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, n := range all {
		if seen[n] {
			return fmt.Errorf("duplicate name %q", n)
		}
		seen[n] = true
	}
	// rewinddir: the same names again.
	if _, err := syscall.Seek(fd, 0, 0); err != nil {
		return err
	}
	again, _, err := readNames(fd, 1<<16, -1)
	if err != nil {
		return err
	}
	if strings.Join(again, "/") != strings.Join(all, "/") {
		return fmt.Errorf("after rewind: %v, first pass %v", again, all)
	}
	// telldir/seekdir: read 3 names, remember d_off, read the rest, seek back.
	syscall.Seek(fd, 0, 0)
	head, off, err := readNames(fd, 64, 3) // tiny buffer: one record per call
	if err != nil {
		return err
	}
	pos, _ := syscall.Seek(fd, 0, 1)
	if pos != off {
		return fmt.Errorf("f_pos %d after reading up to d_off %d", pos, off)
	}
	rest, _, err := readNames(fd, bufsz, -1)
	if err != nil {
		return err
	}
	if strings.Join(append(append([]string{}, head...), rest...), "/") != strings.Join(all, "/") {
		return fmt.Errorf("chunked %v + %v != %v", head, rest, all)
	}
	syscall.Seek(fd, off, 0)
	rest2, _, err := readNames(fd, bufsz, -1)
	if err != nil {
		return err
	}
	if strings.Join(rest2, "/") != strings.Join(rest, "/") {
		return fmt.Errorf("after seekdir: %v, want %v", rest2, rest)
	}
	// dup shares the cursor: half through one fd, the rest through the other.
	syscall.Seek(fd, 0, 0)
	fd2, err := syscall.Dup(fd)
	if err != nil {
		return err
	}
	defer syscall.Close(fd2)
	a, _, err := readNames(fd, 64, 2)
	if err != nil {
		return err
	}
	b, _, err := readNames(fd2, bufsz, -1)
	if err != nil {
		return err
	}
	if strings.Join(append(a, b...), "/") != strings.Join(all, "/") {
		return fmt.Errorf("dup: %v + %v != %v", a, b, all)
	}
	// A buffer too small for one record is EINVAL.
	syscall.Seek(fd, 0, 0)
	if _, err := syscall.Getdents(fd, make([]byte, 8)); err != syscall.EINVAL {
		return fmt.Errorf("tiny buffer: %v, want EINVAL", err)
	}
	sort.Strings(all)
	fmt.Println(len(all), strings.Join(all, " "))
	return nil
}

func openRetry(p string, flags int, mode uint32) (int, error) {
	for {
		fd, err := syscall.Open(p, flags, mode)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// sameFile checks that fd, just returned by an open of p, is p: not a
// standard stream, and the dev and inode stat reports for p.
func sameFile(fd int, p string) error {
	var st, want syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: open returned fd %d: fstat: %v", p, fd, err)
	}
	if err := syscall.Stat(p, &want); err != nil {
		return err
	}
	if fd < 3 || st.Dev != want.Dev || st.Ino != want.Ino {
		return fmt.Errorf("%s: open returned fd %d: dev %d ino %d, want dev %d ino %d", p, fd, st.Dev, st.Ino, want.Dev, want.Ino)
	}
	return nil
}

func mixVerify(dir string, threads, ops int) error {
	data := make([]byte, 4096)
	errs := make(chan error, threads)
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for j := 0; j < ops; j++ {
				var err error
				if j%5 == 4 {
					err = createVerify(fmt.Sprintf("%s/n%d-%d", dir, w, j), data)
				} else {
					err = readVerify(fmt.Sprintf("%s/r%d", dir, (w*7+j)%16), buf, len(data))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func createVerify(p string, data []byte) error {
	fd, err := openRetry(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := sameFile(fd, p); err != nil {
		return err
	}
	if n, err := syscall.Write(fd, data); err != nil || n != len(data) {
		return fmt.Errorf("%s: write: %d, %v", p, n, err)
	}
	return nil
}

func readVerify(p string, buf []byte, size int) error {
	fd, err := openRetry(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := sameFile(fd, p); err != nil {
		return err
	}
	total := 0
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: read: %v", p, err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != size {
		return fmt.Errorf("%s: read %d bytes, want %d", p, total, size)
	}
	return nil
}
