package vfs

import (
	"context"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// Rename moves oldRel to newRel with mergerfs's algorithms (MERGERFS.md §4.4).
// flags are renameat2 flags (RENAME_NOREPLACE, RENAME_EXCHANGE).
//
// Path-preserving (create policy is ep*/msp* and ignorepponrename=false): on
// each branch holding old (func.rename), rename there; same-named targets on
// the other branches are removed. If no branch could rename, EXDEV.
// Create-path: as above, but a missing new parent is cloned from the branch
// func.getattr picks for it, and a total failure returns the first error.
// rename-exdev turns an EXDEV into a move to .mergerfs_rename_exdev plus a symlink.
func (p *Pool) Rename(ctx context.Context, c *Cred, oldRel, newRel string, flags uint) unix.Errno {
	if oldRel == ControlFile || newRel == ControlFile {
		return unix.EPERM
	}
	if oldRel == "" || newRel == "" {
		return unix.EBUSY
	}
	if oldRel == newRel {
		return 0
	}
	if strings.HasPrefix(newRel, oldRel+"/") {
		return unix.EINVAL
	}
	s := p.state()
	defer s.forgetRealDirs() // a renamed directory's path may now be anything
	if e := s.renameTypes(c, oldRel, newRel, flags); e != 0 {
		return e
	}
	var e unix.Errno
	if s.funcs[policy.FuncCreate].PathPreserving() && !s.opts.IgnorePPOnRename {
		e = s.renamePP(c, oldRel, newRel, flags)
	} else {
		e = s.renameCP(c, oldRel, newRel, flags)
	}
	if e == unix.EXDEV && s.opts.RenameEXDEV != config.RenameEXDEVPassthrough {
		e = s.renameExdev(c, oldRel, newRel)
	}
	return e
}

// renameTypes applies rename(2)'s checks on the union's view of both names
// (the per-branch renames only see their own branch, and the removal pass
// would otherwise delete a file or a non-empty directory that the union
// shows): EEXIST for RENAME_NOREPLACE, ENOTDIR for a directory over a
// non-directory, EISDIR for the reverse, ENOTEMPTY for a non-empty target
// directory, ENOENT for RENAME_EXCHANGE with a missing target.
func (s *state) renameTypes(c *Cred, oldRel, newRel string, flags uint) unix.Errno {
	oa, e := s.getattrAs(c, oldRel)
	if e != 0 {
		return e
	}
	na, e := s.getattrAs(c, newRel)
	if e == unix.ENOENT {
		if flags&unix.RENAME_EXCHANGE != 0 {
			return unix.ENOENT
		}
		return 0
	}
	if e != 0 {
		return e
	}
	if flags&unix.RENAME_NOREPLACE != 0 {
		return unix.EEXIST
	}
	if flags&unix.RENAME_EXCHANGE != 0 {
		return 0
	}
	oldDir := oa.Stat.Mode&unix.S_IFMT == unix.S_IFDIR
	newDir := na.Stat.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case oldDir && !newDir:
		return unix.ENOTDIR
	case !oldDir && newDir:
		return unix.EISDIR
	case oldDir && newDir:
		if oa.Branch == na.Branch && oa.Stat.Ino == na.Stat.Ino {
			return 0
		}
		var ents []Dirent
		e := asCaller(c, func() unix.Errno {
			var e unix.Errno
			ents, e = s.readdir(newRel)
			return e
		})
		if e == 0 && len(ents) > 2 {
			return unix.ENOTEMPTY
		}
	}
	return 0
}

func (s *state) getattrAs(c *Cred, rel string) (Attr, unix.Errno) {
	var a Attr
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		a, e = s.getattr(rel)
		return e
	})
	return a, e
}

// renameOn renames old to new on one branch as the caller.
func (s *state) renameOn(c *Cred, b *branch, oldRel, newRel string, flags uint) unix.Errno {
	return b.twoParents(c, oldRel, newRel, func(oa, na at) error {
		return unix.Renameat2(oa.dir, oa.name, na.dir, na.name, flags)
	})
}

// removeQuietly unlinks or rmdirs rel on b, ignoring errors (the removal pass).
func (s *state) removeQuietly(c *Cred, b *branch, rel string) {
	asCaller(c, func() unix.Errno {
		a, e := b.openParent(rel)
		if e != 0 {
			return e
		}
		defer a.close()
		if err := unix.Unlinkat(a.dir, a.name, 0); errnoOf(err) == unix.EISDIR || errnoOf(err) == unix.EPERM {
			unix.Unlinkat(a.dir, a.name, unix.AT_REMOVEDIR)
		}
		return 0
	})
}

func contains(idx []int, i int) bool {
	for _, x := range idx {
		if x == i {
			return true
		}
	}
	return false
}

func (s *state) renamePP(c *Cred, oldRel, newRel string, flags uint) unix.Errno {
	var idx []int
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		idx, e = s.action(policy.FuncRename, oldRel)
		return e
	})
	if e != 0 {
		return e
	}
	type rm struct {
		b   *branch
		rel string
	}
	var removals []rm
	ok := false
	for i, b := range s.branches {
		if !contains(idx, i) {
			removals = append(removals, rm{b, newRel})
			continue
		}
		if e := s.renameOn(c, b, oldRel, newRel, flags); e != 0 {
			removals = append(removals, rm{b, oldRel})
			continue
		}
		ok = true
	}
	if !ok {
		return unix.EXDEV
	}
	if flags&unix.RENAME_EXCHANGE == 0 {
		for _, r := range removals {
			s.removeQuietly(c, r.b, r.rel)
		}
	}
	s.touchParentsAfterRename(idx, oldRel, newRel)
	return 0
}

func (s *state) renameCP(c *Cred, oldRel, newRel string, flags uint) unix.Errno {
	var idx, tgt []int
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		if idx, e = s.action(policy.FuncRename, oldRel); e != 0 {
			return e
		}
		tgt, e = s.search(policy.FuncGetattr, parentRel(newRel))
		return e
	})
	if e != 0 {
		return e
	}
	type rm struct {
		b   *branch
		rel string
	}
	var removals []rm
	ok := false
	var first unix.Errno
	for i, b := range s.branches {
		if !contains(idx, i) {
			removals = append(removals, rm{b, newRel})
			continue
		}
		e := s.renameOn(c, b, oldRel, newRel, flags)
		if e == unix.ENOENT {
			if ce := s.clonepath(tgt[0], i, parentRel(newRel)); ce == 0 {
				e = s.renameOn(c, b, oldRel, newRel, flags)
			}
		}
		if e != 0 {
			if first == 0 {
				first = e
			}
			removals = append(removals, rm{b, oldRel})
			continue
		}
		ok = true
	}
	if !ok {
		return first
	}
	if flags&unix.RENAME_EXCHANGE == 0 {
		for _, r := range removals {
			s.removeQuietly(c, r.b, r.rel)
		}
	}
	s.touchParentsAfterRename(idx, oldRel, newRel)
	return 0
}

func (s *state) touchParentsAfterRename(idx []int, oldRel, newRel string) {
	if len(idx) == 0 {
		return
	}
	s.touchVisibleParent(idx[0], parentRel(oldRel))
	if parentRel(newRel) != parentRel(oldRel) {
		s.touchVisibleParent(idx[0], parentRel(newRel))
	}
}

// renameExdevDir is where rename-exdev parks files on their branch.
const renameExdevDir = ".mergerfs_rename_exdev"

// renameExdev moves old into <branch>/.mergerfs_rename_exdev/<old> on every
// branch holding it and makes newRel a symlink to it (rel-symlink: relative to
// the new parent; abs-symlink: under the mount point). Any failure moves the
// files back and reports EXDEV.
func (s *state) renameExdev(c *Cred, oldRel, newRel string) unix.Errno {
	var idx []int
	if e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		idx, e = s.action(policy.FuncRename, oldRel)
		return e
	}); e != 0 {
		return unix.EXDEV
	}
	parked := path.Join(renameExdevDir, oldRel)
	var moved []*branch
	undo := func() {
		for _, b := range moved {
			s.renameOn(RootCred, b, parked, oldRel, 0)
		}
	}
	for _, i := range idx {
		b := s.branches[i]
		root, e := b.root()
		if e != 0 {
			undo()
			return unix.EXDEV
		}
		if err := unix.Mkdirat(root, renameExdevDir, 0o1777); err != nil && errnoOf(err) != unix.EEXIST {
			undo()
			return unix.EXDEV
		}
		unix.Fchmodat(root, renameExdevDir, 0o1777, 0)
		if e := s.mkdirParked(i, parked); e != 0 {
			undo()
			return unix.EXDEV
		}
		if e := s.renameOn(c, b, oldRel, parked, 0); e != 0 {
			undo()
			return unix.EXDEV
		}
		moved = append(moved, b)
	}
	var target string
	switch s.opts.RenameEXDEV {
	case config.RenameEXDEVAbsSymlink:
		target = path.Join("/", s.opts.Mountpoint, parked)
	default:
		up := strings.Repeat("../", strings.Count(newRel, "/"))
		target = up + parked
	}
	if e := s.pool.Symlink(context.Background(), c, target, newRel); e != 0 {
		undo()
		return unix.EXDEV
	}
	return 0
}

// mkdirParked creates the parent directories of parked below
// .mergerfs_rename_exdev on branch i.
func (s *state) mkdirParked(i int, parked string) unix.Errno {
	b := s.branches[i]
	var chain []string
	for d := parentRel(parked); d != renameExdevDir && d != ""; d = parentRel(d) {
		chain = append([]string{d}, chain...)
	}
	for _, d := range chain {
		a, e := b.openParent(d)
		if e != 0 {
			return e
		}
		err := unix.Mkdirat(a.dir, a.name, 0o755)
		a.close()
		if err != nil && errnoOf(err) != unix.EEXIST {
			return errnoOf(err)
		}
	}
	return 0
}
