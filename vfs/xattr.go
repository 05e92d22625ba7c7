package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

const (
	xattrPrefix   = "user.mergerfs."
	xattrSecurity = "security.capability"
)

// xattrGate applies the xattr and security-capability options. It returns a
// non-zero errno when the call must not reach a branch.
func (s *state) xattrGate(name string) unix.Errno {
	switch s.opts.XAttr {
	case config.XAttrNoAttr:
		return unix.ENODATA
	case config.XAttrNoSys:
		return unix.ENOSYS
	}
	if name == xattrSecurity && !s.opts.SecurityCapability {
		return unix.ENODATA
	}
	return 0
}

// withPathFd opens rel on b as an O_PATH fd that does not follow a trailing
// symlink and calls fn with a path naming exactly that file.
func withPathFd(b *branch, rel string, fn func(p string) unix.Errno) unix.Errno {
	fd, e := b.openPath(rel, unix.O_PATH, 0)
	if e != 0 {
		return e
	}
	defer unix.Close(fd)
	return fn(procFd(fd))
}

// Getxattr reads extended attribute name of rel from the branch func.getxattr
// picks. On the control file it reads options (user.mergerfs.<key>); on any
// path user.mergerfs.basepath/relpath/fullpath/allpaths describe where rel
// lives. A nil or empty buf asks for the size. Errnos: ENODATA, ERANGE, ENOENT,
// ENOTSUP, ENOSYS (xattr=nosys).
func (p *Pool) Getxattr(ctx context.Context, c *Cred, rel, name string, buf []byte) (int, unix.Errno) {
	n, _, e := p.GetxattrTyped(ctx, c, rel, name, buf)
	return n, e
}

// GetxattrTyped is Getxattr that also returns the file type (the S_IFMT
// bits of the branch object's lstat) of what it read, or 0 when it looked
// at no branch object (user.mergerfs.* names, names the xattr options
// refuse). A caller that must follow a trailing symlink, as getxattr(2)
// does and lgetxattr(2) does not, can so ask for the name as it is and
// resolve the link only when the type says it is one, instead of resolving
// every path first.
func (p *Pool) GetxattrTyped(ctx context.Context, c *Cred, rel, name string, buf []byte) (int, uint32, unix.Errno) {
	s := p.state()
	if rel == ControlFile {
		if !strings.HasPrefix(name, xattrPrefix) {
			return 0, unix.S_IFREG, unix.ENODATA
		}
		v, e := p.getOption(strings.TrimPrefix(name, xattrPrefix))
		if e != 0 {
			return 0, unix.S_IFREG, e
		}
		n, e := copyOut(buf, v)
		return n, unix.S_IFREG, e
	}
	if e := s.xattrGate(name); e != 0 {
		return 0, 0, e
	}
	if strings.HasPrefix(name, xattrPrefix) {
		// Every user.mergerfs.* name is answered here, never by a branch file.
		v, e := s.pathInfo(c, rel, strings.TrimPrefix(name, xattrPrefix))
		if e != 0 {
			return 0, 0, e
		}
		n, e := copyOut(buf, v)
		return n, 0, e
	}
	var n int
	var typ uint32
	e := asCaller(c, func() unix.Errno {
		idx, st, e := s.searchStat(policy.FuncGetxattr, rel)
		if e != 0 {
			return e
		}
		typ = st.Mode & unix.S_IFMT
		n, e = s.branches[idx[0]].getxattr(rel, name, buf)
		return e
	})
	return n, typ, e
}

// GetxattrFound is GetxattrTyped for a rel that Getattr just found (a),
// as OpenFound is Open: `ls -l` reads two attributes of every entry right
// after its statx. When func.getxattr and func.getattr are the same policy
// and a describes the branch object itself (no follow-symlinks, no
// symlinkify), the search would find a.Branch again, so the attribute is
// read there at once (a lookup per branch probed saved). If rel is gone
// from there meanwhile, or any of that does not hold, it is GetxattrTyped.
func (p *Pool) GetxattrFound(ctx context.Context, c *Cred, rel, name string, buf []byte, a Attr) (int, uint32, unix.Errno) {
	s := p.state()
	if rel == ControlFile || a.Branch < 0 || a.Branch >= len(s.branches) ||
		s.funcs[policy.FuncGetxattr] != s.funcs[policy.FuncGetattr] ||
		s.opts.FollowSymlinks != config.FollowNever || s.opts.Symlinkify ||
		strings.HasPrefix(name, xattrPrefix) || s.xattrGate(name) != 0 {
		return p.GetxattrTyped(ctx, c, rel, name, buf)
	}
	var n int
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		n, e = s.branches[a.Branch].getxattr(rel, name, buf)
		return e
	})
	if e == unix.ENOENT {
		return p.GetxattrTyped(ctx, c, rel, name, buf)
	}
	return n, a.Stat.Mode & unix.S_IFMT, e
}

// getxattr reads attribute name of rel on branch b, without following a
// trailing symlink. Runs as the caller.
func (b *branch) getxattr(rel, name string, buf []byte) (int, unix.Errno) {
	if n, e, ok := b.xattrKnown(rel, name, buf, false); ok {
		return n, e
	}
	var n int
	e := withPathFd(b, rel, func(pp string) unix.Errno {
		var err error
		n, err = unix.Getxattr(pp, name, buf)
		return errnoOf(err)
	})
	return n, e
}

func copyOut(buf []byte, v string) (int, unix.Errno) {
	if len(buf) == 0 {
		return len(v), 0
	}
	if len(buf) < len(v) {
		return 0, unix.ERANGE
	}
	return copy(buf, v), 0
}

// pathInfo answers the user.mergerfs.* keys every path has: basepath and
// fullpath (the branch func.getxattr picks), relpath, and allpaths (every
// branch copy, NUL-separated). Unknown keys are ENODATA (ENOATTR).
func (s *state) pathInfo(c *Cred, rel, key string) (string, unix.Errno) {
	switch key {
	case "basepath", "fullpath", "relpath":
	case "allpaths":
		var parts []string
		e := asCaller(c, func() unix.Errno {
			for i, b := range s.branches {
				if _, ok := s.Lstat(i, rel); ok {
					parts = append(parts, joinBranch(b.path, rel))
				}
			}
			return 0
		})
		if e != 0 {
			return "", e
		}
		if len(parts) == 0 {
			return "", unix.ENOENT
		}
		return strings.Join(parts, "\x00"), 0
	default:
		return "", unix.ENODATA
	}
	var idx []int
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		idx, e = s.search(policy.FuncGetxattr, rel)
		return e
	})
	if e != 0 {
		return "", e
	}
	bp := s.branches[idx[0]].path
	switch key {
	case "basepath":
		return bp, 0
	case "relpath":
		return "/" + rel, 0
	}
	return joinBranch(bp, rel), 0
}

func joinBranch(bp, rel string) string {
	if rel == "" {
		return bp
	}
	return strings.TrimSuffix(bp, "/") + "/" + rel
}

// Listxattr lists the extended attribute names of rel (NUL-separated) from
// the branch func.listxattr picks; on the control file, the option keys.
func (p *Pool) Listxattr(ctx context.Context, c *Cred, rel string, buf []byte) (int, unix.Errno) {
	s := p.state()
	if rel == ControlFile {
		var sb strings.Builder
		for _, k := range p.optionKeys() {
			sb.WriteString(xattrPrefix)
			sb.WriteString(k)
			sb.WriteByte(0)
		}
		return copyOut(buf, sb.String())
	}
	switch s.opts.XAttr {
	case config.XAttrNoAttr:
		return 0, 0
	case config.XAttrNoSys:
		return 0, unix.ENOSYS
	}
	var n int
	e := asCaller(c, func() unix.Errno {
		idx, e := s.search(policy.FuncListxattr, rel)
		if e != 0 {
			return e
		}
		b := s.branches[idx[0]]
		if k, e, ok := b.xattrKnown(rel, "", buf, true); ok {
			n = k
			return e
		}
		return withPathFd(b, rel, func(pp string) unix.Errno {
			var err error
			n, err = unix.Listxattr(pp, buf)
			return errnoOf(err)
		})
	})
	return n, e
}

// Setxattr sets an extended attribute on every branch func.setxattr picks
// (results folded by func.getxattr's branch). On the control file it sets an
// option: ENODATA for an unknown key, EROFS for a read-only one, EINVAL for a
// bad value, EEXIST with XATTR_CREATE.
func (p *Pool) Setxattr(ctx context.Context, c *Cred, rel, name string, value []byte, flags int) unix.Errno {
	s := p.state()
	if rel == ControlFile {
		if !strings.HasPrefix(name, xattrPrefix) {
			return unix.ENODATA
		}
		key := strings.TrimPrefix(name, xattrPrefix)
		if strings.HasPrefix(key, "cmd.") {
			return p.command(c, strings.TrimPrefix(key, "cmd."))
		}
		if _, ok := config.Lookup(key); !ok {
			return unix.ENODATA
		}
		if flags&unix.XATTR_CREATE != 0 {
			return unix.EEXIST
		}
		return p.setOption(c, key, string(value))
	}
	if e := s.xattrGate(name); e != 0 {
		return e
	}
	idx, res, e := s.eachOp(c, policy.FuncSetxattr, rel, func(b *branch, a at) unix.Errno {
		return withPathFd(b, rel, func(pp string) unix.Errno {
			return errnoOf(unix.Setxattr(pp, name, value, flags))
		})
	})
	if e != 0 {
		return e
	}
	return s.policyRV(c, policy.FuncGetxattr, rel, idx, res)
}

// Removexattr removes an extended attribute from every branch func.removexattr picks.
func (p *Pool) Removexattr(ctx context.Context, c *Cred, rel, name string) unix.Errno {
	s := p.state()
	if rel == ControlFile {
		return unix.ENODATA
	}
	if e := s.xattrGate(name); e != 0 {
		return e
	}
	idx, res, e := s.eachOp(c, policy.FuncRemovexattr, rel, func(b *branch, a at) unix.Errno {
		return withPathFd(b, rel, func(pp string) unix.Errno {
			return errnoOf(unix.Removexattr(pp, name))
		})
	})
	if e != 0 {
		return e
	}
	return s.policyRV(c, policy.FuncGetxattr, rel, idx, res)
}
