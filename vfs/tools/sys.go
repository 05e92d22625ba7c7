package tools

import (
	"strings"

	"golang.org/x/sys/unix"
)

// This file is the package's one wrapper around raw unix calls. Each wrapper
// retries EINTR: FUSE and NFS branches can surface it when a request is
// interrupted by one of the Go runtime's own signals (SIGURG preemption).
// close(2) is absent on purpose: the descriptor is gone even when close
// reports EINTR, so it must never be retried.

// resolveFlags confine every lookup below a branch root: no "..", no
// absolute symlinks, no symlinks at all (a tool never follows one inside a
// branch), and no crossing into a filesystem mounted inside the branch.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// openBeneath opens rel (a clean relative path, "" or "." for root itself)
// below the directory root with openat2 and resolveFlags.
func openBeneath(root int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	for {
		fd, err := unix.Openat2(root, rel, &how)
		switch err {
		case unix.EINTR, unix.EAGAIN: // EAGAIN: a concurrent rename raced the lookup
			continue
		case unix.ENOSYS:
			// Kernel < 5.6: resolve one component at a time instead.
			return openPerComponent(root, rel, flags)
		}
		return fd, err
	}
}

// openPerComponent is openBeneath for kernels without openat2: each
// component is opened with O_NOFOLLOW from its parent's descriptor.
func openPerComponent(root int, rel string, flags int) (int, error) {
	parts := strings.Split(rel, "/")
	dir := root
	for i, p := range parts {
		if p == ".." {
			if dir != root {
				unix.Close(dir)
			}
			return -1, unix.EXDEV
		}
		f := unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW
		if i == len(parts)-1 {
			f = flags | unix.O_NOFOLLOW
		}
		fd, err := openat(dir, p, f)
		if dir != root {
			unix.Close(dir)
		}
		if err != nil {
			return -1, err
		}
		dir = fd
	}
	return dir, nil
}

func openat(dir int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, flags|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstat(fd int, st *unix.Stat_t) error {
	for {
		err := unix.Fstat(fd, st)
		if err != unix.EINTR {
			return err
		}
	}
}

func fstatat(dir int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dir, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

func unlinkat(dir int, name string) error {
	for {
		err := unix.Unlinkat(dir, name, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

func linkat(odir int, old string, ndir int, new string) error {
	for {
		err := unix.Linkat(odir, old, ndir, new, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

func renameat(odir int, old string, ndir int, new string) error {
	for {
		err := unix.Renameat(odir, old, ndir, new)
		if err != unix.EINTR {
			return err
		}
	}
}

func mkdirat(dir int, name string, mode uint32) error {
	for {
		err := unix.Mkdirat(dir, name, mode)
		if err != unix.EINTR {
			return err
		}
	}
}

func fchmod(fd int, mode uint32) error {
	for {
		err := unix.Fchmod(fd, mode)
		if err != unix.EINTR {
			return err
		}
	}
}

func fchown(fd, uid, gid int) error {
	for {
		err := unix.Fchown(fd, uid, gid)
		if err != unix.EINTR {
			return err
		}
	}
}

func fsync(fd int) error {
	for {
		err := unix.Fsync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}

func fstatfs(fd int, st *unix.Statfs_t) error {
	for {
		err := unix.Fstatfs(fd, st)
		if err != unix.EINTR {
			return err
		}
	}
}

func statfs(path string, st *unix.Statfs_t) error {
	for {
		err := unix.Statfs(path, st)
		if err != unix.EINTR {
			return err
		}
	}
}

// fgetxattr returns the value of attr on fd, growing the buffer on ERANGE.
func fgetxattr(fd int, attr string) (string, error) {
	buf := make([]byte, 128)
	for {
		n, err := unix.Fgetxattr(fd, attr, buf)
		switch err {
		case nil:
			return string(buf[:n]), nil
		case unix.EINTR:
			continue
		case unix.ERANGE:
			buf = make([]byte, len(buf)*4)
			continue
		}
		return "", err
	}
}

func fsetxattr(fd int, attr, value string) error {
	for {
		err := unix.Fsetxattr(fd, attr, []byte(value), 0)
		if err != unix.EINTR {
			return err
		}
	}
}

func fremovexattr(fd int, attr string) error {
	for {
		err := unix.Fremovexattr(fd, attr)
		if err != unix.EINTR {
			return err
		}
	}
}

// getxattr reads attr of path (following symlinks), sizing the buffer with
// a zero-size call first: control-file values can be long.
func getxattr(path, attr string) (string, error) {
	for {
		n, err := unix.Getxattr(path, attr, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		buf := make([]byte, n+64)
		n, err = unix.Getxattr(path, attr, buf)
		switch err {
		case nil:
			return string(buf[:n]), nil
		case unix.EINTR, unix.ERANGE: // grew between the calls
			continue
		}
		return "", err
	}
}

// listxattr returns the attribute names of path.
func listxattr(path string) ([]string, error) {
	for {
		n, err := unix.Listxattr(path, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n+256)
		n, err = unix.Listxattr(path, buf)
		switch err {
		case nil:
			var out []string
			for _, s := range strings.Split(string(buf[:n]), "\x00") {
				if s != "" {
					out = append(out, s)
				}
			}
			return out, nil
		case unix.EINTR, unix.ERANGE:
			continue
		}
		return nil, err
	}
}

// setLease takes (F_RDLCK) or drops (F_UNLCK) a file lease; getLease
// reports the lease fd holds now (F_UNLCK once a break is pending).
func setLease(fd, typ int) error {
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, typ)
		if err != unix.EINTR {
			return err
		}
	}
}

func getLease(fd int) (int, error) {
	for {
		t, err := unix.FcntlInt(uintptr(fd), unix.F_GETLEASE, 0)
		if err != unix.EINTR {
			return t, err
		}
	}
}
