package fileio

import "golang.org/x/sys/unix"

// This file is the package's one wrapper around raw unix calls. Each wrapper
// retries EINTR: Go installs its signal handlers with SA_RESTART, but some
// filesystems (FUSE, NFS with intr, CIFS) still surface EINTR when a request
// is interrupted by one of the runtime's own signals (SIGURG preemption,
// profiling). close(2) is deliberately absent: on Linux the descriptor is gone
// even when close reports EINTR, so it must never be retried.

func pread(fd int, p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, p, off)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func pwrite(fd int, p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pwrite(fd, p, off)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func copyFileRange(src int, roff *int64, dst int, woff *int64, n int) (int, error) {
	for {
		k, err := unix.CopyFileRange(src, roff, dst, woff, n, 0)
		if err != unix.EINTR {
			return k, err
		}
	}
}

func sendfile(dst, src int, off *int64, n int) (int, error) {
	for {
		k, err := unix.Sendfile(dst, src, off, n)
		if err != unix.EINTR {
			return k, err
		}
	}
}

func lseek(fd int, off int64, whence int) (int64, error) {
	for {
		r, err := unix.Seek(fd, off, whence)
		if err != unix.EINTR {
			return r, err
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

func fstatat(dir int, name string, st *unix.Stat_t, flags int) error {
	for {
		err := unix.Fstatat(dir, name, st, flags)
		if err != unix.EINTR {
			return err
		}
	}
}

func openat(dir int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, flags|unix.O_CLOEXEC, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func ftruncate(fd int, size int64) error {
	for {
		err := unix.Ftruncate(fd, size)
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

func fchown(fd, uid, gid int) error {
	for {
		err := unix.Fchown(fd, uid, gid)
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

func futimens(fd int, ts *[2]unix.Timespec) error {
	for {
		err := rawFutimens(fd, ts)
		if err != unix.EINTR {
			return err
		}
	}
}

func flistxattr(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Flistxattr(fd, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func fgetxattr(fd int, name string, buf []byte) (int, error) {
	for {
		n, err := unix.Fgetxattr(fd, name, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func fsetxattr(fd int, name string, val []byte) error {
	for {
		err := unix.Fsetxattr(fd, name, val, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

func getFlags(fd int) (uint32, error) {
	for {
		v, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		if err != unix.EINTR {
			return v, err
		}
	}
}

func setFlags(fd int, v uint32) error {
	for {
		err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(int32(v)))
		if err != unix.EINTR {
			return err
		}
	}
}

func renameat2(olddir int, oldname string, newdir int, newname string, flags uint) error {
	for {
		var err error
		if flags == 0 {
			err = unix.Renameat(olddir, oldname, newdir, newname)
		} else {
			err = unix.Renameat2(olddir, oldname, newdir, newname, flags)
		}
		if err != unix.EINTR {
			return err
		}
	}
}

func linkat(olddir int, oldname string, newdir int, newname string, flags int) error {
	for {
		err := unix.Linkat(olddir, oldname, newdir, newname, flags)
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

func fadvise(fd int, off, n int64, advice int) error {
	for {
		err := unix.Fadvise(fd, off, n, advice)
		if err != unix.EINTR {
			return err
		}
	}
}
