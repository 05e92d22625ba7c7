package vfs

import (
	"context"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// Link makes newRel a hard link to oldRel (MERGERFS.md §4.5) on each branch
// func.link picks. Path-preserving: a missing new parent is EXDEV.
// Create-path: the new parent is cloned from func.getattr's branch and the link
// retried. link-exdev turns an EXDEV into a symlink.
// Errnos: EEXIST, ENOENT, EXDEV, EPERM (directories), EMLINK, EROFS.
func (p *Pool) Link(ctx context.Context, c *Cred, oldRel, newRel string) unix.Errno {
	if oldRel == ControlFile || newRel == ControlFile {
		return unix.EPERM
	}
	s := p.state()
	// Like creates, the new name must be new in the union (the kernel checks
	// this above a mount; `mfs run` relies on it here).
	if _, e := s.getattrAs(c, newRel); e == 0 {
		return unix.EEXIST
	} else if e != unix.ENOENT {
		return e
	}
	pp := s.funcs[policy.FuncCreate].PathPreserving() && !s.opts.IgnorePPOnRename
	var idx []int
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		idx, e = s.action(policy.FuncLink, oldRel)
		return e
	})
	if e != 0 {
		return e
	}
	got := false
	var last unix.Errno
	for _, i := range idx {
		b := s.branches[i]
		e := s.linkOn(c, b, oldRel, newRel)
		if e == unix.ENOENT {
			if pp {
				e = unix.EXDEV
			} else if tgt, se := s.search(policy.FuncGetattr, parentRel(newRel)); se == 0 {
				if s.clonepath(tgt[0], i, parentRel(newRel)) == 0 {
					e = s.linkOn(c, b, oldRel, newRel)
				}
			}
		}
		if e == 0 {
			got = true
			s.touchVisibleParent(i, parentRel(newRel))
			continue
		}
		last = e
	}
	if got {
		return 0
	}
	if last == unix.EXDEV && s.opts.LinkEXDEV != config.LinkEXDEVPassthrough {
		return s.linkExdev(c, oldRel, newRel)
	}
	return last
}

func (s *state) linkOn(c *Cred, b *branch, oldRel, newRel string) unix.Errno {
	return b.twoParents(c, oldRel, newRel, func(oa, na at) error {
		return unix.Linkat(oa.dir, oa.name, na.dir, na.name, 0)
	})
}

// linkExdev makes newRel a symlink to oldRel: relative (rel-symlink), to the
// branch file func.open picks (abs-base-symlink) or through the mount point
// (abs-pool-symlink).
func (s *state) linkExdev(c *Cred, oldRel, newRel string) unix.Errno {
	var target string
	switch s.opts.LinkEXDEV {
	case config.LinkEXDEVAbsBaseSymlink:
		idx, e := s.search(policy.FuncOpen, oldRel)
		if e != 0 {
			return unix.EXDEV
		}
		target = path.Join(s.branches[idx[0]].path, oldRel)
	case config.LinkEXDEVAbsPoolSymlink:
		target = path.Join("/", s.opts.Mountpoint, oldRel)
	default:
		target = strings.Repeat("../", strings.Count(newRel, "/")) + oldRel
	}
	if e := s.pool.Symlink(context.Background(), c, target, newRel); e != 0 {
		return unix.EXDEV
	}
	return 0
}
