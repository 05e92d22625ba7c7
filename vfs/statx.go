package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"
)

// StatxOn runs statx(2) on rel of branch i (the branch Getattr reported),
// with the caller's identity, never following a trailing symlink: for the
// fields only statx has (birth time, attributes, mount id). flags may carry
// AT_STATX_FORCE_SYNC or AT_STATX_DONT_SYNC. Below a directory a lookup just
// walked it is one statx; otherwise a confined O_PATH open, statx on it, and
// close.
func (p *Pool) StatxOn(ctx context.Context, c *Cred, rel string, i int, flags int, mask uint32, stx *unix.Statx_t) unix.Errno {
	s := p.state()
	if i < 0 || i >= len(s.branches) || rel == ControlFile {
		return unix.ENOENT
	}
	b := s.branches[i]
	sync := flags & (unix.AT_STATX_FORCE_SYNC | unix.AT_STATX_DONT_SYNC)
	return asCaller(c, func() unix.Errno {
		root, e := b.rootFast()
		if e != 0 {
			return e
		}
		if rel == "" {
			return errnoOf(unix.Statx(root, "", unix.AT_EMPTY_PATH|sync, int(mask), stx))
		}
		if b.knownBelow(rel) {
			return errnoOf(unix.Statx(root, rel, unix.AT_SYMLINK_NOFOLLOW|sync, int(mask), stx))
		}
		fd, err := openBeneath(root, rel, unix.O_PATH|unix.O_NOFOLLOW, 0)
		if err != nil {
			return walkErrno(err)
		}
		defer unix.Close(fd)
		return errnoOf(unix.Statx(fd, "", unix.AT_EMPTY_PATH|sync, int(mask), stx))
	})
}

// lstatx is branch.lstat done with statx(2): the same lookups, confined the
// same way (flags: the caller's AT_STATX_* sync bits).
func (b *branch) lstatx(rel string, flags int, mask uint32, stx *unix.Statx_t) unix.Errno {
	root, e := b.rootFast()
	if e != 0 {
		return e
	}
	if rel == "" {
		return errnoOf(statx(root, "", unix.AT_EMPTY_PATH|flags, mask, stx))
	}
	if strings.IndexByte(rel, '/') < 0 || b.knownBelow(rel) {
		return errnoOf(statx(root, rel, unix.AT_SYMLINK_NOFOLLOW|flags, mask, stx))
	}
	if len(rel) <= chunkMax && statx(root, rel, unix.AT_SYMLINK_NOFOLLOW|flags, mask, stx) == unix.ENOENT {
		return unix.ENOENT // as in lstat: the confined walk could not find more
	}
	fd, err := openBeneath(root, rel, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err == unix.ELOOP && b.follow.Load() {
		return errnoOf(statx(unix.AT_FDCWD, b.hostPath(rel), unix.AT_SYMLINK_NOFOLLOW|flags, mask, stx))
	}
	if err != nil {
		return walkErrno(err)
	}
	err = statx(fd, "", unix.AT_EMPTY_PATH|flags, mask, stx)
	unix.Close(fd)
	if err == nil {
		b.real.learn(rel[:strings.LastIndexByte(rel, '/')])
	}
	return errnoOf(err)
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
