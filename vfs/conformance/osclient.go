package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// Oracle is the Linux oracle: the single branch directory itself, used
// through real syscalls. Only POSIX cases run on it; its results define what
// the union front ends must return for them.
type Oracle struct{}

func (Oracle) Name() string { return "oracle" }

func (Oracle) Features() Features {
	return Features{Union: false, Inodes: InodeReal, Rand: RandFree}
}

func (Oracle) Open(t *testing.T, u UnionSpec) Client {
	t.Helper()
	if len(u.Branches) != 1 {
		t.Fatalf("oracle: a plain directory serves exactly one branch, got %d", len(u.Branches))
	}
	return NewOSClient(u.Branches[0].Dir, t.Logf)
}

// NewOSClient returns a Client doing real syscalls on paths below root: the
// oracle's directory, a FUSE mount point, or (inside an `mfs run` helper
// child, behind Proxy) a run target. It sets the process umask to 0, which
// the cases assume. Readdir cross-checks a chunked getdents read against a
// whole one and reports a mismatch as EIO, with the details sent to logf
// (nil discards them).
func NewOSClient(root string, logf func(format string, args ...any)) Client {
	unix.Umask(0)
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &osClient{logf: logf, root: root}
}

type osClient struct {
	logf func(format string, args ...any)
	root string
}

func (c *osClient) Root() string { return c.root }

func (c *osClient) path(p string) string {
	if p == "" {
		return c.root
	}
	return c.root + "/" + p
}

// ignoringEINTR retries fn while it fails with EINTR: Go's own signals (e.g.
// SIGURG for goroutine preemption) interrupt slow syscalls, on a FUSE mount
// any of them.
func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// errno extracts the errno of err; anything that is not one is a harness bug.
func errno(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	panic(fmt.Sprintf("conformance: not an errno: %v", err))
}

func (c *osClient) Lstat(p string) (Stat, unix.Errno) {
	var s unix.Stat_t
	err := ignoringEINTR(func() error { return unix.Lstat(c.path(p), &s) })
	return StatOf(&s), errno(err)
}

func (c *osClient) Stat(p string) (Stat, unix.Errno) {
	var s unix.Stat_t
	err := ignoringEINTR(func() error { return unix.Stat(c.path(p), &s) })
	return StatOf(&s), errno(err)
}

func (c *osClient) Access(p string, mode uint32) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Faccessat(unix.AT_FDCWD, c.path(p), mode, 0) }))
}

func (c *osClient) open(p string, flags int, mode uint32) (int, unix.Errno) {
	var fd int
	err := ignoringEINTR(func() error {
		var err error
		fd, err = unix.Open(c.path(p), flags|unix.O_CLOEXEC, mode)
		return err
	})
	return fd, errno(err)
}

func (c *osClient) ReadFile(p string, flags int) (string, unix.Errno) {
	fd, e := c.open(p, unix.O_RDONLY|flags, 0)
	if e != 0 {
		return "", e
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		var n int
		err := ignoringEINTR(func() error {
			var err error
			n, err = unix.Read(fd, buf)
			return err
		})
		if err != nil {
			return "", errno(err)
		}
		if n == 0 {
			return string(out), 0
		}
		out = append(out, buf[:n]...)
	}
}

func (c *osClient) WriteFile(p string, flags int, mode uint32, data string) unix.Errno {
	fd, e := c.open(p, flags, mode)
	if e != 0 {
		return e
	}
	b := []byte(data)
	for len(b) > 0 {
		var n int
		err := ignoringEINTR(func() error {
			var err error
			n, err = unix.Write(fd, b)
			return err
		})
		if err != nil {
			unix.Close(fd)
			return errno(err)
		}
		b = b[n:]
	}
	return errno(unix.Close(fd))
}

func (c *osClient) Mkdir(p string, mode uint32) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Mkdir(c.path(p), mode) }))
}

func (c *osClient) Mknod(p string, mode uint32, dev uint64) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Mknod(c.path(p), mode, int(dev)) }))
}

func (c *osClient) Symlink(target, p string) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Symlink(target, c.path(p)) }))
}

func (c *osClient) Readlink(p string) (string, unix.Errno) {
	buf := make([]byte, unix.PathMax)
	var n int
	err := ignoringEINTR(func() error {
		var err error
		n, err = unix.Readlink(c.path(p), buf)
		return err
	})
	if err != nil {
		return "", errno(err)
	}
	return string(buf[:n]), 0
}

func (c *osClient) Link(oldp, newp string) unix.Errno {
	return errno(ignoringEINTR(func() error {
		return unix.Linkat(unix.AT_FDCWD, c.path(oldp), unix.AT_FDCWD, c.path(newp), 0)
	}))
}

func (c *osClient) Unlink(p string) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Unlink(c.path(p)) }))
}

func (c *osClient) Rmdir(p string) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Rmdir(c.path(p)) }))
}

func (c *osClient) Rename(oldp, newp string, flags uint) unix.Errno {
	return errno(ignoringEINTR(func() error {
		return unix.Renameat2(unix.AT_FDCWD, c.path(oldp), unix.AT_FDCWD, c.path(newp), flags)
	}))
}

func (c *osClient) Chmod(p string, mode uint32) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Chmod(c.path(p), mode) }))
}

func (c *osClient) Lchown(p string, uid, gid int) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Lchown(c.path(p), uid, gid) }))
}

func (c *osClient) Utimens(p string, atime, mtime unix.Timespec) unix.Errno {
	ts := []unix.Timespec{atime, mtime}
	return errno(ignoringEINTR(func() error {
		return unix.UtimesNanoAt(unix.AT_FDCWD, c.path(p), ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

func (c *osClient) Truncate(p string, size int64) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Truncate(c.path(p), size) }))
}

// Readdir reads p twice, once in small getdents chunks and once whole, and
// fails with EIO (the details logged) if the two disagree on the set of
// names: a front end must serve offsets into one consistent listing, so
// chunking may lose or repeat nothing. Order and the winner of a duplicated
// name may differ between the two opens (func.readdir=cor reads branches
// concurrently and takes each snapshot anew).
func (c *osClient) Readdir(p string) ([]Dirent, unix.Errno) {
	chunked, e := c.getdents(p, 288) // room for one maximal linux_dirent64
	if e != 0 {
		return nil, e
	}
	whole, e := c.getdents(p, 256<<10)
	if e != 0 {
		return nil, e
	}
	if !slices.Equal(sortedNames(chunked), sortedNames(whole)) {
		c.logf("readdir %q: chunked getdents %v != whole %v", p, chunked, whole)
		return nil, unix.EIO
	}
	return whole, 0
}

func (c *osClient) getdents(p string, size int) ([]Dirent, unix.Errno) {
	fd, e := c.open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if e != 0 {
		return nil, e
	}
	defer unix.Close(fd)
	buf := make([]byte, size)
	var out []Dirent
	for {
		var n int
		err := ignoringEINTR(func() error {
			var err error
			n, err = unix.Getdents(fd, buf)
			return err
		})
		if err != nil {
			return nil, errno(err)
		}
		if n <= 0 {
			return out, 0
		}
		out = parseDirents(buf[:n], out)
	}
}

// parseDirents decodes linux_dirent64 records (d_ino u64, d_off s64,
// d_reclen u16, d_type u8, NUL-terminated name), dropping "." and "..".
func parseDirents(buf []byte, out []Dirent) []Dirent {
	for len(buf) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			break
		}
		rec := buf[:reclen]
		name := rec[19:]
		for i, ch := range name {
			if ch == 0 {
				name = name[:i]
				break
			}
		}
		if n := string(name); n != "." && n != ".." {
			out = append(out, Dirent{Name: n, Type: rec[18], Ino: binary.NativeEndian.Uint64(rec[0:8])})
		}
		buf = buf[reclen:]
	}
	return out
}

func (c *osClient) Statfs(p string) (unix.Statfs_t, unix.Errno) {
	var s unix.Statfs_t
	err := ignoringEINTR(func() error { return unix.Statfs(c.path(p), &s) })
	return s, errno(err)
}

func (c *osClient) Getxattr(p, name string, buf []byte) (int, unix.Errno) {
	var n int
	err := ignoringEINTR(func() error {
		var err error
		n, err = unix.Lgetxattr(c.path(p), name, buf)
		return err
	})
	return n, errno(err)
}

func (c *osClient) Listxattr(p string, buf []byte) (int, unix.Errno) {
	var n int
	err := ignoringEINTR(func() error {
		var err error
		n, err = unix.Llistxattr(c.path(p), buf)
		return err
	})
	return n, errno(err)
}

func (c *osClient) Setxattr(p, name string, value []byte, flags int) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Lsetxattr(c.path(p), name, value, flags) }))
}

func (c *osClient) Removexattr(p, name string) unix.Errno {
	return errno(ignoringEINTR(func() error { return unix.Lremovexattr(c.path(p), name) }))
}

func sortedNames(ds []Dirent) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	slices.Sort(out)
	return out
}
