package vfs

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// Multi-branch results follow three rules (MERGERFS.md §4.6, §7):
//   - firstErr: 0 if any branch succeeded, otherwise the first error (unlink, link, create-type);
//   - policyRV: all succeed → 0, all fail → the first error, mixed → the result on
//     the branch the search policy would pick (chmod, chown, utimens, truncate, xattrs);
//   - rmdir: ENOTEMPTY/EEXIST take priority over success.

// eachOp runs op on every branch f's action policy picks for rel, as the caller.
func (s *state) eachOp(c *Cred, f policy.Func, rel string, op func(b *branch, a at) unix.Errno) (idx []int, res []unix.Errno, e unix.Errno) {
	e = asCaller(c, func() unix.Errno {
		var e unix.Errno
		idx, e = s.action(f, rel)
		if e != 0 {
			return e
		}
		res = make([]unix.Errno, len(idx))
		for k, i := range idx {
			b := s.branches[i]
			a, e := b.openParent(rel)
			if e != 0 {
				res[k] = e
				continue
			}
			res[k] = op(b, a)
			a.close()
		}
		return 0
	})
	return idx, res, e
}

// policyRV folds per-branch results: mixed outcomes report the branch that the
// search function sf would pick.
func (s *state) policyRV(c *Cred, sf policy.Func, rel string, idx []int, res []unix.Errno) unix.Errno {
	ok, bad := 0, 0
	var first unix.Errno
	for _, r := range res {
		if r == 0 {
			ok++
		} else {
			bad++
			if first == 0 {
				first = r
			}
		}
	}
	if bad == 0 {
		return 0
	}
	if ok == 0 {
		return first
	}
	var pick []int
	asCaller(c, func() unix.Errno {
		var e unix.Errno
		pick, e = s.search(sf, rel)
		return e
	})
	if len(pick) == 0 {
		return first
	}
	for k, i := range idx {
		if i == pick[0] {
			return res[k]
		}
	}
	return unix.ENOENT
}

func firstErr(res []unix.Errno) unix.Errno {
	var first unix.Errno
	for _, r := range res {
		if r == 0 {
			return 0
		}
		if first == 0 {
			first = r
		}
	}
	return first
}

// Unlink removes rel from every branch func.unlink picks. A copy on an RO
// branch stays and reappears (there are no whiteouts).
// Errnos: ENOENT, EISDIR, EACCES, EPERM, EROFS, EBUSY.
func (p *Pool) Unlink(ctx context.Context, c *Cred, rel string) unix.Errno {
	if rel == ControlFile {
		return unix.EPERM
	}
	s := p.state()
	// The union's type decides (Linux: EISDIR), not whichever branch copy
	// the action policy reaches first.
	if a, e := s.getattrAs(c, rel); e == 0 && a.Stat.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EISDIR
	}
	idx, res, e := s.eachOp(c, policy.FuncUnlink, rel, func(b *branch, a at) unix.Errno {
		return errnoOf(unix.Unlinkat(a.dir, a.name, 0))
	})
	if e != 0 {
		return e
	}
	e = firstErr(res)
	if e == 0 {
		s.touchAfterRemove(idx, res, parentRel(rel))
	}
	return e
}

// Rmdir removes directory rel from every branch func.rmdir picks. ENOTEMPTY
// and EEXIST win over success, so a partly removed directory reports ENOTEMPTY.
// With follow-symlinks on, a symlink (ENOTDIR) is unlinked instead.
func (p *Pool) Rmdir(ctx context.Context, c *Cred, rel string) unix.Errno {
	if rel == "" {
		return unix.EBUSY
	}
	s := p.state()
	if a, e := s.getattrAs(c, rel); e == 0 && a.Stat.Mode&unix.S_IFMT != unix.S_IFDIR {
		if a.Stat.Mode&unix.S_IFMT != unix.S_IFLNK || s.opts.FollowSymlinks == config.FollowNever {
			return unix.ENOTDIR
		}
	}
	defer s.forgetRealDirs() // after the removal: a walk racing it must not outlive it
	idx, res, e := s.eachOp(c, policy.FuncRmdir, rel, func(b *branch, a at) unix.Errno {
		err := unix.Unlinkat(a.dir, a.name, unix.AT_REMOVEDIR)
		if errnoOf(err) == unix.ENOTDIR && s.opts.FollowSymlinks != config.FollowNever {
			var st unix.Stat_t
			if unix.Fstatat(a.dir, a.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.Unlinkat(a.dir, a.name, 0)
			}
		}
		return errnoOf(err)
	})
	if e != 0 {
		return e
	}
	for _, r := range res {
		if r == unix.ENOTEMPTY || r == unix.EEXIST {
			return unix.ENOTEMPTY
		}
	}
	e = firstErr(res)
	if e == 0 {
		s.touchAfterRemove(idx, res, parentRel(rel))
	}
	return e
}

func (s *state) touchAfterRemove(idx []int, res []unix.Errno, parent string) {
	for k, i := range idx {
		if res[k] == 0 {
			s.touchVisibleParent(i, parent)
			return
		}
	}
}

// Chmod sets the mode of rel on every branch func.chmod picks. A symlink
// cannot have its mode changed (EOPNOTSUPP, as fchmodat with AT_SYMLINK_NOFOLLOW).
func (p *Pool) Chmod(ctx context.Context, c *Cred, rel string, mode uint32) unix.Errno {
	s := p.state()
	idx, res, e := s.eachOp(c, policy.FuncChmod, rel, func(b *branch, a at) unix.Errno {
		return fchmodatNoFollow(a.dir, a.name, mode)
	})
	if e != 0 {
		return e
	}
	return s.policyRV(c, policy.FuncGetattr, rel, idx, res)
}

// Chown sets owner and group (-1 leaves one unchanged) of rel, not following a symlink.
func (p *Pool) Chown(ctx context.Context, c *Cred, rel string, uid, gid int) unix.Errno {
	s := p.state()
	idx, res, e := s.eachOp(c, policy.FuncChown, rel, func(b *branch, a at) unix.Errno {
		return errnoOf(unix.Fchownat(a.dir, a.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW))
	})
	if e != 0 {
		return e
	}
	return s.policyRV(c, policy.FuncGetattr, rel, idx, res)
}

// Utimens sets atime and mtime (UTIME_NOW and UTIME_OMIT honoured) of rel,
// not following a symlink.
func (p *Pool) Utimens(ctx context.Context, c *Cred, rel string, atime, mtime unix.Timespec) unix.Errno {
	s := p.state()
	ts := []unix.Timespec{atime, mtime}
	idx, res, e := s.eachOp(c, policy.FuncUtimens, rel, func(b *branch, a at) unix.Errno {
		return errnoOf(unix.UtimesNanoAt(a.dir, a.name, ts, unix.AT_SYMLINK_NOFOLLOW))
	})
	if e != 0 {
		return e
	}
	return s.policyRV(c, policy.FuncGetattr, rel, idx, res)
}

// Truncate sets the size of regular file rel on every branch func.truncate picks.
func (p *Pool) Truncate(ctx context.Context, c *Cred, rel string, size int64) unix.Errno {
	s := p.state()
	idx, res, e := s.eachOp(c, policy.FuncTruncate, rel, func(b *branch, a at) unix.Errno {
		fd, err := unix.Openat(a.dir, a.name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			if errnoOf(err) == unix.ELOOP {
				return unix.EINVAL
			}
			return errnoOf(err)
		}
		defer unix.Close(fd)
		return errnoOf(unix.Ftruncate(fd, size))
	})
	if e != 0 {
		return e
	}
	return s.policyRV(c, policy.FuncGetattr, rel, idx, res)
}

// fchmodatNoFollow changes the mode of (dir, name) without following a
// trailing symlink: fchmodat2 where the kernel has it (6.6+), else through an
// O_PATH fd, which cannot be swapped for a symlink between check and chmod.
func fchmodatNoFollow(dir int, name string, mode uint32) unix.Errno {
	e := fchmodat2(dir, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if e != unix.ENOSYS {
		return e
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return errnoOf(err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	return errnoOf(unix.Fchmodat(unix.AT_FDCWD, procFd(fd), mode, 0))
}
