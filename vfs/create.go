package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/fileio"
	"github.com/mfs-union/mfs/vfs/policy"
)

// clonepath makes sure the directory dir exists on branch dst, creating each
// missing component with the mode, owner, times, xattrs and chattr flags of
// the same directory on branch src (mergerfs clonepath). It runs with the
// server's identity, as mergerfs does. Directories it creates leave the times
// of their parents as they were (restored under the per-directory lock), so
// the union's directory times do not move when an entry merely lands on
// another branch.
func (s *state) clonepath(src, dst int, dir string) unix.Errno {
	_, e := s.clonepathMade(src, dst, dir)
	return e
}

// clonepathMade is clonepath that also returns the directories it created,
// outermost first, so a create that then fails can remove them again.
func (s *state) clonepathMade(src, dst int, dir string) ([]string, unix.Errno) {
	if src == dst || dir == "" {
		return nil, 0
	}
	if _, e := s.branches[dst].lstat(dir); e == 0 {
		return nil, 0
	}
	var made []string
	parts := strings.Split(dir, "/")
	cur := ""
	for _, part := range parts {
		parent := cur
		if cur == "" {
			cur = part
		} else {
			cur += "/" + part
		}
		if _, e := s.branches[dst].lstat(cur); e == 0 {
			continue
		}
		e := s.cloneDir(src, dst, parent, cur)
		if e == unix.EEXIST {
			continue
		}
		if e != 0 {
			s.unclone(dst, made)
			return nil, e
		}
		made = append(made, cur)
	}
	return made, 0
}

// unclone removes directories clonepathMade created (innermost first); a
// directory something else has meanwhile put an entry in stays.
func (s *state) unclone(dst int, made []string) {
	b := s.branches[dst]
	for i := len(made) - 1; i >= 0; i-- {
		a, e := b.openParent(made[i])
		if e != 0 {
			return
		}
		err := unix.Unlinkat(a.dir, a.name, unix.AT_REMOVEDIR)
		a.close()
		if err != nil {
			return
		}
	}
}

// cloneDir creates rel on dst as a copy of the directory rel on src.
func (s *state) cloneDir(src, dst int, parent, rel string) unix.Errno {
	sb, db := s.branches[src], s.branches[dst]
	sfd, e := sb.openPath(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if e != 0 {
		return e
	}
	defer unix.Close(sfd)
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		return errnoOf(err)
	}
	a, e := db.openParent(rel)
	if e != 0 {
		return e
	}
	defer a.close()
	unlock := s.pool.dlocks.lock(dst, parent)
	defer unlock()
	var pst unix.Stat_t
	havePT := unix.Fstat(a.dir, &pst) == nil
	if err := unix.Mkdirat(a.dir, a.name, st.Mode&0o7777); err != nil {
		return errnoOf(err)
	}
	if dfd, err := unix.Openat(a.dir, a.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
		fileio.CopyMeta(dfd, sfd) // best effort, as mergerfs: errors here do not fail the create
		unix.Close(dfd)
	}
	if havePT {
		restoreTimes(a.dir, &pst)
	}
	return 0
}

// restoreTimes puts back the atime and mtime of an open directory.
func restoreTimes(dirfd int, st *unix.Stat_t) {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	unix.UtimesNanoAt(unix.AT_FDCWD, procFd(dirfd), ts, 0)
}

// createPlan runs the two policies every create-type function starts with
// (MERGERFS.md §4.1): func.getattr on the parent gives the clone source,
// the function's create policy on the parent gives the targets.
func (s *state) createPlan(f policy.Func, rel string) (src int, targets []int, e unix.Errno) {
	parent := parentRel(rel)
	srcs, e := s.search(policy.FuncGetattr, parent)
	if e != 0 {
		return -1, nil, e
	}
	targets, e = s.create(f, parent)
	if e != 0 {
		return -1, nil, e
	}
	return srcs[0], targets, 0
}

// createEach runs mk on every target of f's create policy for rel (clonepath
// first, the entry itself as the caller) and reports success if any branch
// succeeded, otherwise the first error. An EROFS from a filesystem that turned
// read-only after the statvfs cache was filled refreshes the cache and runs the
// whole operation once more, so the policy passes over that branch.
func (p *Pool) createEach(c *Cred, f policy.Func, rel string, first bool, mk func(b *branch, a at) unix.Errno) (int, unix.Errno) {
	if rel == "" {
		return -1, unix.EEXIST
	}
	if rel == ControlFile {
		return -1, unix.EEXIST
	}
	// The name must be new in the union, not only on the branches the policy
	// picks: a copy elsewhere would otherwise be shadowed or duplicated.
	if _, e := p.state().getattrAs(c, rel); e == 0 {
		return -1, unix.EEXIST
	} else if e != unix.ENOENT {
		return -1, e
	}
	return p.createNew(c, f, rel, first, mk)
}

// createNew is createEach after the name was found absent from the union.
func (p *Pool) createNew(c *Cred, f policy.Func, rel string, first bool, mk func(b *branch, a at) unix.Errno) (int, unix.Errno) {
	if rel == "" || rel == ControlFile {
		return -1, unix.EEXIST
	}
	for attempt := 0; ; attempt++ {
		s := p.state()
		got, e := s.createOnce(c, f, rel, first, mk)
		if e == unix.EROFS && attempt == 0 {
			for _, b := range s.branches {
				b.invalidateSpace()
			}
			continue
		}
		return got, e
	}
}

func (s *state) createOnce(c *Cred, f policy.Func, rel string, first bool, mk func(b *branch, a at) unix.Errno) (int, unix.Errno) {
	src, targets, e := s.createPlan(f, rel)
	if e != 0 {
		return -1, e
	}
	if first {
		targets = targets[:1]
	}
	parent := parentRel(rel)
	var firstErr unix.Errno
	got := -1
	for _, t := range targets {
		b := s.branches[t]
		if _, e := b.root(); e != 0 { // revalidate: never create in an empty mount point
			if firstErr == 0 {
				firstErr = e
			}
			continue
		}
		made, e := s.clonepathMade(src, t, parent)
		if e != 0 {
			if firstErr == 0 {
				firstErr = e
			}
			continue
		}
		e = asCaller(c, func() unix.Errno {
			a, e := b.openParent(rel)
			if e != 0 {
				return e
			}
			defer a.close()
			return mk(b, a)
		})
		if e != 0 {
			// A failed create leaves nothing behind, not even the parents
			// cloned for it.
			s.unclone(t, made)
			if firstErr == 0 {
				firstErr = e
			}
			continue
		}
		if got < 0 {
			got = t
		}
		s.touchParentOn(src, t, parent)
	}
	if got < 0 {
		return -1, firstErr
	}
	return got, 0
}

// createMode applies the caller's umask unless the parent directory has a
// default ACL (then the kernel derives the mode from the ACL).
func createMode(c *Cred, a at, mode uint32) uint32 {
	if c == nil || c.Umask == 0 {
		return mode
	}
	if hasDefaultACL(a.dir) {
		return mode
	}
	return mode &^ (c.Umask & 0o777)
}

func hasDefaultACL(dirfd int) bool {
	n, err := unix.Getxattr(procFd(dirfd), "system.posix_acl_default", nil)
	return err == nil && n > 0
}

// Mkdir creates directory rel on every branch func.mkdir picks.
// Errnos: EEXIST, ENOENT (parent missing everywhere), EROFS, ENOSPC, EACCES.
func (p *Pool) Mkdir(ctx context.Context, c *Cred, rel string, mode uint32) unix.Errno {
	_, e := p.createEach(c, policy.FuncMkdir, rel, false, func(b *branch, a at) unix.Errno {
		return errnoOf(unix.Mkdirat(a.dir, a.name, createMode(c, a, mode)))
	})
	return e
}

// Mknod creates a fifo, socket or device node on every branch func.mknod picks.
func (p *Pool) Mknod(ctx context.Context, c *Cred, rel string, mode uint32, dev uint64) unix.Errno {
	_, e := p.createEach(c, policy.FuncMknod, rel, false, func(b *branch, a at) unix.Errno {
		m := createMode(c, a, mode&0o7777) | mode&unix.S_IFMT
		return errnoOf(unix.Mknodat(a.dir, a.name, m, int(dev)))
	})
	return e
}

// Symlink creates rel as a symlink to target on every branch func.symlink picks.
func (p *Pool) Symlink(ctx context.Context, c *Cred, target, rel string) unix.Errno {
	_, e := p.createEach(c, policy.FuncSymlink, rel, false, func(b *branch, a at) unix.Errno {
		return errnoOf(unix.Symlinkat(target, a.dir, a.name))
	})
	return e
}

// Create creates and opens regular file rel on the first branch func.create
// picks (for `all`, the first eligible one). flags are open(2) flags; O_CREAT
// is implied. If rel already exists in the union, it is opened as open(2)
// would (EEXIST with O_EXCL). The returned file holds the branch fd.
func (p *Pool) Create(ctx context.Context, c *Cred, rel string, flags int, mode uint32) (*File, unix.Errno) {
	if rel == ControlFile {
		return nil, unix.EEXIST
	}
	// One lookup decides: an existing name is opened (or EEXIST), an absent
	// one created where the policy says.
	switch _, e := p.state().getattrAs(c, rel); e {
	case 0:
		if flags&unix.O_EXCL != 0 {
			return nil, unix.EEXIST
		}
		return p.Open(ctx, c, rel, flags&^unix.O_CREAT)
	case unix.ENOENT:
	default:
		return nil, e
	}
	return p.CreateAbsent(ctx, c, rel, flags, mode)
}

// CreateAbsent is Create for a front end that has itself just found rel
// absent from the union, so the lookup Create begins with would be the same
// one again: FUSE's CREATE follows the kernel's negative LOOKUP of the name
// under the directory's lock, and the `mfs run` supervisor looked the name up
// for the same call. It goes straight to the create policy. A name that
// appeared on a branch in between, which only something bypassing the union
// can do, is opened there if it is the branch the policy picks (EEXIST with
// O_EXCL), and otherwise shadowed by the new file, as mergerfs would.
func (p *Pool) CreateAbsent(ctx context.Context, c *Cred, rel string, flags int, mode uint32) (*File, unix.Errno) {
	if rel == ControlFile {
		return nil, unix.EEXIST
	}
	var fd int
	got, e := p.createNew(c, policy.FuncCreate, rel, true, func(b *branch, a at) unix.Errno {
		var err error
		fd, err = unix.Openat(a.dir, a.name, flags|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, createMode(c, a, mode))
		return errnoOf(err)
	})
	if e != 0 {
		return nil, e
	}
	return p.newFile(fd, got, rel, flags), 0
}

// touchVisibleParent keeps the union's directory times right: when an entry was
// created or removed on branch t but the copy of the parent that getattr shows
// lives on another writable branch, that copy's mtime is set to now as the
// kernel would have set it on a plain directory.
func (s *state) touchVisibleParent(t int, parent string) {
	idx, e := s.search(policy.FuncGetattr, parent)
	if e != 0 {
		return
	}
	s.touchParentOn(idx[0], t, parent)
}

// touchParentOn is touchVisibleParent when the visible branch v is known.
func (s *state) touchParentOn(v, t int, parent string) {
	if v == t {
		return
	}
	vb := s.branches[v]
	if vb.mode == policy.RO {
		return
	}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}
	// Below a directory a lookup just walked, one utimensat from the root
	// (as branch.lookup does); it runs on most creates and removes.
	if parent != "" && vb.knownBelow(parent) {
		if root, e := vb.rootFast(); e == 0 && unix.UtimesNanoAt(root, parent, ts, unix.AT_SYMLINK_NOFOLLOW) == nil {
			return
		}
	}
	fd, e := vb.openPath(parent, unix.O_PATH|unix.O_DIRECTORY, 0)
	if e != 0 {
		return
	}
	defer unix.Close(fd)
	unix.UtimesNanoAt(unix.AT_FDCWD, procFd(fd), ts, 0)
}
