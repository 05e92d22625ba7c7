package vfs

import (
	"context"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/fileio"
	"github.com/mfs-union/mfs/vfs/policy"
)

// File is an open file of the union: the branch file's fd plus where it lives.
// Reads and writes go to the fd directly (or, under `mfs run`, the fd is
// injected into the workload and never comes back here).
type File struct {
	pool *Pool
	// mu serialises the calls that replace or close fd (MoveOnENOSPC keeps
	// its number across a move, Close ends it) with Reopen, which must never
	// reach a closed or reused fd number.
	mu     sync.Mutex
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
		f, e = s.openOn(rel, idx[0], flags)
		return e
	})
	return f, e
}

// OpenFound is Open for a rel that Getattr just found on a.Branch: when
// func.open and func.getattr are the same policy it opens on that branch
// without searching again (the object the caller was shown, and one lookup
// per branch probed saved). If rel is gone from there meanwhile, or the
// policies differ, it is Open.
func (p *Pool) OpenFound(ctx context.Context, c *Cred, rel string, a Attr, flags int) (*File, unix.Errno) {
	s := p.state()
	if rel == ControlFile || a.Branch < 0 || a.Branch >= len(s.branches) ||
		s.funcs[policy.FuncOpen] != s.funcs[policy.FuncGetattr] {
		return p.Open(ctx, c, rel, flags)
	}
	var f *File
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		f, e = s.openOn(rel, a.Branch, flags)
		return e
	})
	if e == unix.ENOENT {
		return p.Open(ctx, c, rel, flags)
	}
	return f, e
}

// openOn opens rel on branch i, which a search picked. Runs as the caller.
func (s *state) openOn(rel string, i int, flags int) (*File, unix.Errno) {
	p := s.pool
	if p.pins.on.Load() && flags&(unix.O_WRONLY|unix.O_RDWR) == 0 {
		if fd, j, ok := s.pinnedOpen(rel, i, flags&^unix.O_CREAT); ok {
			return p.newFile(fd, j, rel, flags), 0
		}
	}
	b := s.branches[i]
	if s.opts.LinkCOW && flags&(unix.O_WRONLY|unix.O_RDWR) != 0 {
		s.breakLink(b, rel)
	}
	fd, e := b.openPath(rel, flags&^unix.O_CREAT, 0)
	if e == unix.EACCES && flags&(unix.O_WRONLY|unix.O_RDWR) != 0 && s.nfsOpenHack(rel) {
		fd, e = s.openReadOnlyEmpty(b, rel, flags)
	}
	if e != 0 {
		return nil, e
	}
	return p.newFile(fd, i, rel, flags), 0
}

// Close closes the branch fd.
func (f *File) Close() unix.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
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

// Write writes buf at off like WriteAt and, when the branch is full (ENOSPC
// or EDQUOT) and moveonenospc is on, moves the file to a branch with room
// (MoveOnENOSPC) and writes the rest there. A short write before the error
// counts: the bytes already written were copied with the file.
func (f *File) Write(ctx context.Context, c *Cred, buf []byte, off int64) (int, unix.Errno) {
	done := 0
	for moves := 0; ; {
		n, e := f.WriteAt(buf[done:], off+int64(done))
		if n > 0 {
			done += n
		}
		if e == 0 && done == len(buf) {
			return done, 0
		}
		if e == 0 { // short write without an error: go on
			continue
		}
		if (e != unix.ENOSPC && e != unix.EDQUOT) || moves > 0 {
			return done, e
		}
		moves++
		if f.MoveOnENOSPC(ctx, c, e) != 0 {
			return done, e
		}
	}
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

// breakLink implements link-cow: a regular file with more than one link that
// is opened for writing is first replaced by a private copy (temp file renamed
// over it), so the write does not show through the other names. Failures leave
// the file as it was and the open goes ahead.
func (s *state) breakLink(b *branch, rel string) {
	st, e := b.lstat(rel)
	if e != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink < 2 {
		return
	}
	a, e := b.openParent(rel)
	if e != 0 {
		return
	}
	defer a.close()
	if err := fileio.CopyFileAt(a.dir, a.name, a.dir, a.name, fileio.CopyOptions{Verify: true}); err != nil {
		s.pool.log.Warn("link-cow: copy failed, writing through the link", "path", rel, "err", err)
	}
}

// nfsOpenHack says whether the nfsopenhack option applies to rel.
func (s *state) nfsOpenHack(rel string) bool {
	switch s.opts.NFSOpenHack {
	case config.NFSOpenHackAll:
		return true
	case config.NFSOpenHackGit:
		return strings.Contains("/"+rel, "/.git/")
	}
	return false
}

// openReadOnlyEmpty is nfsopenhack: an empty file without write permission
// (git creates its lock and object files that way, and NFS refuses to open
// them for writing) is made writable for the owner, opened and given its mode back.
func (s *state) openReadOnlyEmpty(b *branch, rel string, flags int) (int, unix.Errno) {
	st, e := b.lstat(rel)
	if e != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 || st.Mode&0o222 != 0 {
		return -1, unix.EACCES
	}
	a, e := b.openParent(rel)
	if e != 0 {
		return -1, unix.EACCES
	}
	defer a.close()
	mode := st.Mode & 0o7777
	if fchmodatNoFollow(a.dir, a.name, mode|0o200) != 0 {
		return -1, unix.EACCES
	}
	fd, e := b.openPath(rel, flags&^unix.O_CREAT, 0)
	fchmodatNoFollow(a.dir, a.name, mode)
	return fd, e
}

// exclude is a policy.Env that makes one branch ineligible for creating.
type exclude struct {
	*probe
	skip int
}

func (x *exclude) Mode(i int) policy.Mode {
	if i == x.skip {
		return policy.RO
	}
	return x.probe.Mode(i)
}

// MoveOnENOSPC handles a write that failed with ENOSPC or EDQUOT (the
// moveonenospc option): the moveonenospc create policy, run on the file's
// path with the file's own branch excluded, picks a branch with room for the
// file; the parent is cloned there, the data and metadata are copied to a
// temp file that is renamed into place, the new copy is opened with the same
// flags (minus O_CREAT, O_TRUNC, O_EXCL) over the same fd number, and the old
// copy is removed. The caller then retries the write. On any failure the
// original error is returned and nothing is left behind on the target.
func (f *File) MoveOnENOSPC(ctx context.Context, c *Cred, orig unix.Errno) unix.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.pool.state()
	if s.move == nil || f.branch < 0 || f.branch >= len(s.branches) {
		return orig
	}
	var st unix.Stat_t
	if unix.Fstat(f.fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return orig
	}
	x := &exclude{probe: &probe{state: s}, skip: f.branch}
	idx, e := s.move.Create(x, f.rel, nil)
	if e != 0 || len(idx) == 0 {
		return orig
	}
	to := idx[0]
	if sp, err := s.branches[to].statfs(0); err != nil || sp.Avail < uint64(st.Size) {
		return orig
	}
	if s.clonepath(f.branch, to, parentRel(f.rel)) != 0 {
		return orig
	}
	from := s.branches[f.branch]
	fa, e := from.openParent(f.rel)
	if e != 0 {
		return orig
	}
	defer fa.close()
	ta, e := s.branches[to].openParent(f.rel)
	if e != 0 {
		return orig
	}
	defer ta.close()
	if err := fileio.CopyFileAt(fa.dir, fa.name, ta.dir, ta.name, fileio.CopyOptions{Verify: true}); err != nil {
		f.pool.log.Warn("moveonenospc: copy failed", "path", f.rel, "to", s.branches[to].path, "err", err)
		return orig
	}
	flags := f.flags &^ (unix.O_CREAT | unix.O_TRUNC | unix.O_EXCL)
	nfd, err := unix.Openat(ta.dir, ta.name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Unlinkat(ta.dir, ta.name, 0)
		return orig
	}
	if err := unix.Dup3(nfd, f.fd, unix.O_CLOEXEC); err != nil {
		unix.Close(nfd)
		unix.Unlinkat(ta.dir, ta.name, 0)
		return orig
	}
	unix.Close(nfd)
	unix.Unlinkat(fa.dir, fa.name, 0)
	f.branch = to
	return 0
}

// Fsyncdir flushes directory rel on every branch that holds it, so entries
// created or removed there reach the disk (fsync(2) on a directory).
func (p *Pool) Fsyncdir(ctx context.Context, c *Cred, rel string) unix.Errno {
	s := p.state()
	var first unix.Errno
	found := false
	for _, b := range s.branches {
		fd, e := b.openPath(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if e != 0 {
			continue
		}
		found = true
		if err := unix.Fsync(fd); err != nil && first == 0 {
			first = errnoOf(err)
		}
		unix.Close(fd)
	}
	if !found {
		return unix.ENOENT
	}
	return first
}

// Reopen opens the branch file f refers to again (the same inode, even if it
// was renamed or unlinked meanwhile), with flags minus O_CREAT and O_EXCL, as
// the caller so the branch's permission checks apply. mergerfs ≥2.41 serves
// every open of a file that is already open this way, so all opens of a node
// reach one branch file (which FUSE passthrough requires). link-cow and
// nfsopenhack do not apply: either would give a different inode.
func (f *File) Reopen(ctx context.Context, c *Cred, flags int) (*File, unix.Errno) {
	flags &^= unix.O_CREAT | unix.O_EXCL
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fd < 0 {
		return nil, unix.EBADF
	}
	var nf *File
	e := asCaller(c, func() unix.Errno {
		// O_NOFOLLOW would stop at the /proc magic link itself (ELOOP); the
		// file it names is the branch file opened without following.
		fd, err := unix.Open(procFd(f.fd), (flags&openFlags&^unix.O_NOFOLLOW)|unix.O_CLOEXEC, 0)
		if err != nil {
			return errnoOf(err)
		}
		nf = f.pool.newFile(fd, f.branch, f.rel, flags)
		return 0
	})
	return nf, e
}

// Fgetxattr, Flistxattr, Fsetxattr and Fremovexattr act on the open file
// (unlinked-but-open included), with the xattr and security-capability
// options applied as for the path calls.
func (f *File) Fgetxattr(ctx context.Context, c *Cred, name string, buf []byte) (int, unix.Errno) {
	if e := f.pool.state().xattrGate(name); e != 0 {
		return 0, e
	}
	var n int
	e := asCaller(c, func() unix.Errno {
		var err error
		n, err = unix.Fgetxattr(f.fd, name, buf)
		return errnoOf(err)
	})
	return n, e
}

func (f *File) Flistxattr(ctx context.Context, c *Cred, buf []byte) (int, unix.Errno) {
	switch f.pool.state().opts.XAttr {
	case config.XAttrNoAttr:
		return 0, 0
	case config.XAttrNoSys:
		return 0, unix.ENOSYS
	}
	var n int
	e := asCaller(c, func() unix.Errno {
		var err error
		n, err = unix.Flistxattr(f.fd, buf)
		return errnoOf(err)
	})
	return n, e
}

func (f *File) Fsetxattr(ctx context.Context, c *Cred, name string, value []byte, flags int) unix.Errno {
	if e := f.pool.state().xattrGate(name); e != 0 {
		return e
	}
	return asCaller(c, func() unix.Errno { return errnoOf(unix.Fsetxattr(f.fd, name, value, flags)) })
}

func (f *File) Fremovexattr(ctx context.Context, c *Cred, name string) unix.Errno {
	if e := f.pool.state().xattrGate(name); e != 0 {
		return e
	}
	return asCaller(c, func() unix.Errno { return errnoOf(unix.Fremovexattr(f.fd, name)) })
}
