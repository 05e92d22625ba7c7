package vfs

import (
	"context"

	"golang.org/x/sys/unix"
)

// StatxOn runs statx(2) on rel of branch i (the branch Getattr reported),
// with the caller's identity, never following a trailing symlink: for the
// fields only statx has (birth time, attributes, mount id). flags may carry
// AT_STATX_FORCE_SYNC or AT_STATX_DONT_SYNC. The lookup is lstat's
// (branch.lookup).
func (p *Pool) StatxOn(ctx context.Context, c *Cred, rel string, i int, flags int, mask uint32, stx *unix.Statx_t) unix.Errno {
	s := p.state()
	if i < 0 || i >= len(s.branches) || rel == ControlFile {
		return unix.ENOENT
	}
	b := s.branches[i]
	sync := flags & (unix.AT_STATX_FORCE_SYNC | unix.AT_STATX_DONT_SYNC)
	return asCaller(c, func() unix.Errno { return b.lstatx(rel, sync, mask, stx) })
}

// lstatx is branch.lstat done with statx(2) (flags: the caller's
// AT_STATX_* sync bits): the same lookups, confined the same way.
func (b *branch) lstatx(rel string, flags int, mask uint32, stx *unix.Statx_t) unix.Errno {
	return b.lookup(rel, func(dirfd int, path string) error {
		if path == "" {
			return statx(dirfd, "", unix.AT_EMPTY_PATH|flags, mask, stx)
		}
		return statx(dirfd, path, unix.AT_SYMLINK_NOFOLLOW|flags, mask, stx)
	})
}

// statFromStatx is the struct stat the same object gives (the basic
// fields, which lstatx always asks for).
func statFromStatx(x *unix.Statx_t) unix.Stat_t {
	return unix.Stat_t{
		Dev:     unix.Mkdev(x.Dev_major, x.Dev_minor),
		Ino:     x.Ino,
		Nlink:   uint64(x.Nlink),
		Mode:    uint32(x.Mode),
		Uid:     x.Uid,
		Gid:     x.Gid,
		Rdev:    unix.Mkdev(x.Rdev_major, x.Rdev_minor),
		Size:    int64(x.Size),
		Blksize: int64(x.Blksize),
		Blocks:  int64(x.Blocks),
		Atim:    unix.Timespec{Sec: x.Atime.Sec, Nsec: int64(x.Atime.Nsec)},
		Mtim:    unix.Timespec{Sec: x.Mtime.Sec, Nsec: int64(x.Mtime.Nsec)},
		Ctim:    unix.Timespec{Sec: x.Ctime.Sec, Nsec: int64(x.Ctime.Nsec)},
	}
}
