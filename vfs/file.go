package vfs

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/policy"
)

// File is an open file of the union: the branch file's fd plus where it lives.
// Reads and writes go to the fd directly (or, under `mfs run`, the fd is
// injected into the workload and never comes back here).
type File struct {
	pool   *Pool
	fd     int
	branch int
	rel    string
	flags  int
}

func (p *Pool) newFile(fd, branch int, rel string, flags int) *File {
	return &File{pool: p, fd: fd, branch: branch, rel: rel, flags: flags}
}

// Fd returns the branch file descriptor.
func (f *File) Fd() int { return f.fd }

// Branch returns the index of the branch the file is on.
func (f *File) Branch() int { return f.branch }

// Rel returns the union path the file was opened by.
func (f *File) Rel() string { return f.rel }

// Open opens rel on the branch func.open picks. flags are open(2) flags
// without O_CREAT (use Create). O_NOFOLLOW is implied: symlinks are resolved
// by the union namespace (the kernel above a mount, the resolver under run).
// Errnos: ENOENT, EACCES, EISDIR, ELOOP (rel is a symlink), EROFS, ETXTBSY.
func (p *Pool) Open(ctx context.Context, c *Cred, rel string, flags int) (*File, unix.Errno) {
	s := p.state()
	if rel == ControlFile {
		return nil, unix.EACCES
	}
	var f *File
	e := asCaller(c, func() unix.Errno {
		idx, e := s.search(policy.FuncOpen, rel)
		if e != 0 {
			return e
		}
		fd, e := s.branches[idx[0]].openPath(rel, flags&^unix.O_CREAT, 0)
		if e != 0 {
			return e
		}
		f = p.newFile(fd, idx[0], rel, flags)
		return 0
	})
	return f, e
}

// Close closes the branch fd.
func (f *File) Close() unix.Errno {
	if f.fd < 0 {
		return unix.EBADF
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return errnoOf(err)
}

// Fgetattr stats the open file (unlinked-but-open files included).
func (f *File) Fgetattr(ctx context.Context) (Attr, unix.Errno) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return Attr{Branch: f.branch}, errnoOf(err)
	}
	s := f.pool.state()
	ino := st.Ino
	if f.branch < len(s.branches) {
		ino = s.inode(f.branch, f.rel, &st)
	}
	return Attr{Stat: st, Branch: f.branch, Ino: ino}, 0
}

// ReadAt reads from the branch file.
func (f *File) ReadAt(buf []byte, off int64) (int, unix.Errno) {
	n, err := unix.Pread(f.fd, buf, off)
	return n, errnoOf(err)
}

// WriteAt writes to the branch file.
func (f *File) WriteAt(buf []byte, off int64) (int, unix.Errno) {
	n, err := unix.Pwrite(f.fd, buf, off)
	return n, errnoOf(err)
}

// Fchmod, Fchown, Ftruncate, Futimens, Fallocate and Fsync act on the open
// file with the caller's identity.
func (f *File) Fchmod(ctx context.Context, c *Cred, mode uint32) unix.Errno {
	return asCaller(c, func() unix.Errno { return errnoOf(unix.Fchmod(f.fd, mode)) })
}

func (f *File) Fchown(ctx context.Context, c *Cred, uid, gid int) unix.Errno {
	return asCaller(c, func() unix.Errno { return errnoOf(unix.Fchown(f.fd, uid, gid)) })
}

func (f *File) Ftruncate(ctx context.Context, c *Cred, size int64) unix.Errno {
	return asCaller(c, func() unix.Errno { return errnoOf(unix.Ftruncate(f.fd, size)) })
}

func (f *File) Futimens(ctx context.Context, c *Cred, atime, mtime unix.Timespec) unix.Errno {
	return asCaller(c, func() unix.Errno {
		return errnoOf(unix.UtimesNanoAt(unix.AT_FDCWD, procFd(f.fd), []unix.Timespec{atime, mtime}, 0))
	})
}

func (f *File) Fallocate(ctx context.Context, c *Cred, mode uint32, off, length int64) unix.Errno {
	return asCaller(c, func() unix.Errno { return errnoOf(unix.Fallocate(f.fd, mode, off, length)) })
}

func (f *File) Fsync(ctx context.Context, datasync bool) unix.Errno {
	if datasync {
		return errnoOf(unix.Fdatasync(f.fd))
	}
	return errnoOf(unix.Fsync(f.fd))
}
