package vfs

import (
	"context"

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
