package vfs

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// Attr is the result of a lookup: the branch file's own stat (real st_dev and
// st_ino, which `mfs run` reports because fstat on its injected fds is native),
// the branch it came from, and the inode number inodecalc gives for a mount.
type Attr struct {
	Stat   unix.Stat_t
	Branch int    // index of the branch the attributes come from; -1 for synthetic entries
	Ino    uint64 // inodecalc result for front ends that present their own inode numbers
}

// ControlFile is the name of the runtime control file at the union root.
const ControlFile = ".mergerfs"

// Getattr returns the attributes of rel: the search policy (func.getattr)
// picks the branch, then follow-symlinks, symlinkify and inodecalc apply.
// Errnos: ENOENT (no branch holds rel), ENOTDIR, EACCES (a parent is not
// searchable by the caller), EIO.
func (p *Pool) Getattr(ctx context.Context, c *Cred, rel string) (Attr, unix.Errno) {
	s := p.state()
	if rel == ControlFile {
		return p.controlAttr(), 0
	}
	var a Attr
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		a, e = s.getattr(rel)
		return e
	})
	if e != 0 && rel == "" {
		// The root must always be stat-able (a mount's root inode, a union
		// target's cwd): with no branch to show, show an empty directory.
		return p.fakeRoot(), 0
	}
	return a, e
}

func (s *state) getattr(rel string) (Attr, unix.Errno) {
	return s.getattrx(rel, nil)
}

// getattrx is getattr whose branch lookups are statx calls when sx is set;
// sx.i is left at the branch the Attr comes from only when sx.out describes
// that object unchanged (not when follow-symlinks or symlinkify replaced
// its attributes).
func (s *state) getattrx(rel string, sx *statxReq) (Attr, unix.Errno) {
	idx, st, e := s.searchStatx(policy.FuncGetattr, rel, sx)
	if e != 0 {
		return Attr{Branch: -1}, e
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR && s.pool.pins.on.Load() {
		if j, pst, ok := s.pinDir(rel, idx[0]); ok {
			idx[0], st = j, pst
		}
	}
	b := s.branches[idx[0]]
	orig := st
	if st.Mode&unix.S_IFMT == unix.S_IFLNK && s.opts.FollowSymlinks != config.FollowNever {
		s.follow(b, rel, &st)
	}
	if s.opts.Symlinkify {
		s.symlinkify(b, rel, &st)
	}
	if sx != nil && (sx.i != idx[0] || st != orig) {
		sx.i = -1
	}
	return Attr{Stat: st, Branch: idx[0], Ino: s.inode(idx[0], rel, &st)}, 0
}

// GetattrStatx is Getattr that looks rel up on the branches with statx
// (flags: the caller's AT_STATX_* sync bits; mask: the fields it wants,
// STATX_BASIC_STATS always added), so a statx(2) of a union path needs no
// second call on the branch the search found: filled says stx is that
// branch object's statx, describing exactly what a shows. A miss costs what
// an lstat costs.
func (p *Pool) GetattrStatx(ctx context.Context, c *Cred, rel string, flags int, mask uint32, stx *unix.Statx_t) (a Attr, filled bool, e unix.Errno) {
	if rel == ControlFile {
		return p.controlAttr(), false, 0
	}
	s := p.state()
	sx := statxReq{flags: flags & (unix.AT_STATX_FORCE_SYNC | unix.AT_STATX_DONT_SYNC), mask: mask | unix.STATX_BASIC_STATS, i: -1}
	e = asCaller(c, func() unix.Errno {
		var e unix.Errno
		a, e = s.getattrx(rel, &sx)
		return e
	})
	if e != 0 && rel == "" {
		return p.fakeRoot(), false, 0
	}
	if e != 0 || sx.i < 0 || sx.i != a.Branch {
		return a, false, e
	}
	*stx = sx.out
	return a, true, 0
}

// follow replaces a symlink's stat with its target's when follow-symlinks
// selects that kind of target. The target is resolved by the kernel relative
// to the link's directory on the branch, as mergerfs does.
func (s *state) follow(b *branch, rel string, st *unix.Stat_t) {
	a, e := b.openParent(rel)
	if e != 0 {
		return
	}
	defer a.close()
	var t unix.Stat_t
	if unix.Fstatat(a.dir, a.name, &t, 0) != nil {
		return
	}
	isDir := t.Mode&unix.S_IFMT == unix.S_IFDIR
	isReg := t.Mode&unix.S_IFMT == unix.S_IFREG
	switch s.opts.FollowSymlinks {
	case config.FollowDirectory:
		if !isDir {
			return
		}
	case config.FollowRegular:
		if !isReg {
			return
		}
	case config.FollowAll:
		if !isDir && !isReg {
			return
		}
	}
	*st = t
}

// symlinkify reports a non-directory that nobody can write and whose mtime and
// ctime are both older than the timeout as a symlink to the branch file.
func (s *state) symlinkify(b *branch, rel string, st *unix.Stat_t) {
	if st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Mode&0o222 != 0 {
		return
	}
	limit := time.Now().Unix() - int64(s.opts.SymlinkifyTimeout/time.Second)
	if st.Mtim.Sec >= limit || st.Ctim.Sec >= limit {
		return
	}
	target := b.path + "/" + rel
	st.Mode = unix.S_IFLNK | 0o777
	st.Size = int64(len(target))
	st.Blocks = 0
}

func (p *Pool) fakeRoot() Attr {
	now := time.Now()
	var st unix.Stat_t
	st.Mode = unix.S_IFDIR | 0o755
	st.Nlink = 2
	st.Mtim = unix.NsecToTimespec(now.UnixNano())
	st.Atim, st.Ctim = st.Mtim, st.Mtim
	st.Ino = 1
	return Attr{Stat: st, Branch: -1, Ino: 1}
}

// Access checks the caller's permission for mode (R_OK, W_OK, X_OK, F_OK) on
// the branch the search policy (func.access) picks, with the caller's ids.
func (p *Pool) Access(ctx context.Context, c *Cred, rel string, mode uint32) unix.Errno {
	s := p.state()
	if rel == ControlFile {
		return 0
	}
	return asCaller(c, func() unix.Errno {
		idx, e := s.search(policy.FuncAccess, rel)
		if e != 0 {
			return e
		}
		a, e := s.branches[idx[0]].openParent(rel)
		if e != 0 {
			return e
		}
		defer a.close()
		return errnoOf(unix.Faccessat2(a.dir, a.name, mode, unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW))
	})
}

// Readlink returns the target of the symlink rel on the branch func.readlink
// picks (with symlinkify, the branch file's full path).
func (p *Pool) Readlink(ctx context.Context, c *Cred, rel string) (string, unix.Errno) {
	s := p.state()
	var out string
	e := asCaller(c, func() unix.Errno {
		idx, e := s.search(policy.FuncReadlink, rel)
		if e != 0 {
			return e
		}
		b := s.branches[idx[0]]
		if s.opts.Symlinkify {
			st, e := b.lstat(rel)
			if e == 0 && st.Mode&unix.S_IFMT != unix.S_IFLNK {
				s.symlinkify(b, rel, &st)
				if st.Mode&unix.S_IFMT == unix.S_IFLNK {
					out = b.path + "/" + rel
					return 0
				}
			}
		}
		a, e := b.openParent(rel)
		if e != 0 {
			return e
		}
		defer a.close()
		buf := make([]byte, 256)
		for {
			n, err := unix.Readlinkat(a.dir, a.name, buf)
			if err != nil {
				return errnoOf(err)
			}
			if n < len(buf) {
				out = string(buf[:n])
				return 0
			}
			buf = make([]byte, len(buf)*4)
		}
	})
	return out, e
}
