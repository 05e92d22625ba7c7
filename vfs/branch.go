package vfs

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/policy"
)

// branch is one configured branch at run time: its root directory fd, through
// which every access goes (openat family, never string concatenation), and its
// cached statvfs figures.
type branch struct {
	path    string
	mode    policy.Mode
	minfree uint64 // effective minfreespace (own or global)
	ownMin  bool

	// follow is set when follow-symlinks is not "never": getattr then shows
	// a symlink as its target, so paths through it must resolve, as they do
	// in mergerfs, through the branch path string (the kernel follows the
	// link; an absolute target may leave the branch, which is what the user
	// asked for by putting such a link in a branch).
	follow atomic.Bool

	mu     sync.Mutex // guards fd, dev, expire and the statvfs cache
	fd     int        // O_PATH|O_DIRECTORY fd of the root, -1 when unavailable
	dev    uint64     // st_dev of the root when fd was opened
	ino    uint64     // and its st_ino
	oldFds []int      // replaced root fds, closed by close()
	// fresh is fd+1 while the last revalidation of fd is younger than
	// revalidateEvery, else 0: lookups read it with one atomic load, no lock
	// and no clock. expire clears it when that time is up.
	fresh   atomic.Int64
	expire  *time.Timer
	space   policy.Space
	spaceOK bool
	spaceAt time.Time
	bsize   int64

	real realDirs // directories recently walked without meeting a symlink
}

func newBranch(path string, mode policy.Mode, minfree uint64, own bool) *branch {
	b := &branch{path: path, mode: mode, minfree: minfree, ownMin: own, fd: -1}
	b.reopen()
	return b
}

// reopen (re)opens the branch root. A branch that does not exist (yet) keeps
// fd -1 and reports ENOENT until it appears.
func (b *branch) reopen() {
	fd, err := unix.Open(b.path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return
	}
	if b.fd >= 0 {
		// Callers that read the number through rootFast may still be using
		// it: closing it now could let the number be reused under them.
		// Replaced roots are closed with the branch.
		b.oldFds = append(b.oldFds, b.fd)
	}
	b.fd, b.dev, b.ino = fd, st.Dev, st.Ino
}

// root returns the branch root fd, revalidating it against the path: if a disk
// was mounted on (or unmounted from) the branch path since the fd was opened,
// st_dev differs, and if the directory was removed and made again, st_ino
// does; either way the root is reopened, so files never land in an empty
// mount-point directory (nor fail with ENOENT in a removed one) and a
// vanished branch reports errors.
func (b *branch) root() (int, unix.Errno) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var st unix.Stat_t
	if err := fstatat(unix.AT_FDCWD, b.path, &st, 0); err != nil {
		return -1, errnoOf(err)
	}
	if b.fd < 0 || st.Dev != b.dev || st.Ino != b.ino {
		b.reopen()
		if b.fd < 0 {
			b.fresh.Store(0)
			return -1, unix.ENOENT
		}
	}
	// Creates revalidate every time: arm the timer only when it is not
	// pending (fresh was 0), not on each of them. fresh then expires
	// revalidateEvery after the check that armed it, the first since the
	// last expiry, which costs at most one more revalidation per period.
	if b.fresh.Swap(int64(b.fd)+1) == 0 {
		if b.expire == nil {
			b.expire = time.AfterFunc(revalidateEvery, func() { b.fresh.Store(0) })
		} else {
			b.expire.Reset(revalidateEvery)
		}
	}
	return b.fd, 0
}

// revalidateEvery bounds how long lookups keep using a root fd without
// checking the path still leads to it (a disk unmounted, lazily or not, or
// mounted over the branch path).
const revalidateEvery = time.Second

// rootFast returns the root fd, revalidating it at most once per
// revalidateEvery; creates always revalidate (root).
func (b *branch) rootFast() (int, unix.Errno) {
	if f := b.fresh.Load(); f > 0 {
		return int(f - 1), 0
	}
	return b.root()
}

func (b *branch) close() {
	b.mu.Lock()
	b.fresh.Store(0)
	if b.expire != nil {
		b.expire.Stop()
	}
	if b.fd >= 0 {
		unix.Close(b.fd)
		b.fd = -1
	}
	for _, fd := range b.oldFds {
		unix.Close(fd)
	}
	b.oldFds = nil
	b.mu.Unlock()
}

// statfs returns the branch's statvfs figures, cached for ttl (cache.statfs).
func (b *branch) statfs(ttl time.Duration) (policy.Space, error) {
	b.mu.Lock()
	if ttl > 0 && b.spaceOK && time.Since(b.spaceAt) < ttl {
		s := b.space
		b.mu.Unlock()
		return s, nil
	}
	b.mu.Unlock()
	var st unix.Statfs_t
	if err := statfs(b.path, &st); err != nil {
		b.mu.Lock()
		b.spaceOK = false
		b.mu.Unlock()
		return policy.Space{}, err
	}
	fr := uint64(st.Frsize)
	if fr == 0 {
		fr = uint64(st.Bsize)
	}
	s := policy.Space{
		Avail:    st.Bavail * fr,
		Used:     (st.Blocks - min(st.Bavail, st.Blocks)) * fr,
		ReadOnly: st.Flags&unix.ST_RDONLY != 0,
	}
	b.mu.Lock()
	b.space, b.spaceOK, b.spaceAt = s, true, time.Now()
	b.mu.Unlock()
	return s, nil
}

// beneath is how every path below a branch root is resolved: inside the
// branch, without following symlinks (the union namespace resolves those).
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// splitRel splits a relative union path into its parent and last component.
func splitRel(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// parentRel returns the parent of a relative path ("" for top-level names).
func parentRel(rel string) string {
	d, _ := splitRel(rel)
	return d
}

// at is an open parent directory inside a branch plus the last component:
// the (dirfd, name) pair every *at syscall acts on.
type at struct {
	dir   int
	name  string
	owned bool // dir must be closed
}

func (a at) close() {
	if a.owned {
		unix.Close(a.dir)
	}
}

// openParent opens rel's parent directory inside branch b. For the root
// itself ("") the pair is (root, ".").
func (b *branch) openParent(rel string) (at, unix.Errno) {
	root, e := b.rootFast()
	if e != 0 {
		return at{}, e
	}
	if rel == "" {
		return at{dir: root, name: "."}, 0
	}
	dir, name := splitRel(rel)
	if dir == "" {
		return at{dir: root, name: name}, 0
	}
	fd, err := openBeneath(root, dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err == unix.ELOOP && b.follow.Load() {
		fd, err = unix.Open(b.hostPath(dir), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return at{}, walkErrno(err)
	}
	return at{dir: fd, name: name, owned: true}, 0
}

// hostPath is rel as a path string below the branch, for follow-symlinks.
func (b *branch) hostPath(rel string) string {
	if rel == "" {
		return b.path
	}
	return strings.TrimSuffix(b.path, "/") + "/" + rel
}

// openFlags are the open(2) flags openat2 accepts. openat ignores unknown
// bits but openat2 refuses them (EINVAL); FUSE forwards kernel-internal ones
// such as __FMODE_EXEC (0x20) on an execve, so they are dropped here.
const openFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_SYNC | unix.O_DIRECT | unix.O_LARGEFILE |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_PATH | unix.O_TMPFILE |
	unix.O_ASYNC

// twoParents opens the parents of two paths on b and runs op on the pairs as
// the caller (link, rename).
func (b *branch) twoParents(c *Cred, oldRel, newRel string, op func(oa, na at) error) unix.Errno {
	return asCaller(c, func() unix.Errno {
		oa, e := b.openParent(oldRel)
		if e != 0 {
			return e
		}
		defer oa.close()
		na, e := b.openParent(newRel)
		if e != 0 {
			return e
		}
		defer na.close()
		return errnoOf(op(oa, na))
	})
}

// openPath opens rel inside branch b with flags (O_NOFOLLOW is always added so a
// trailing symlink is never followed out of the branch).
func (b *branch) openPath(rel string, flags int, mode uint32) (int, unix.Errno) {
	flags &= openFlags
	root, e := b.rootFast()
	if e != 0 {
		return -1, e
	}
	p := rel
	if p == "" {
		p = "."
	}
	fd, err := openBeneath(root, p, flags|unix.O_NOFOLLOW, mode)
	if (err == unix.ELOOP || err == unix.ENOTDIR) && b.follow.Load() && flags&unix.O_PATH == 0 {
		// follow-symlinks: the object getattr showed is the link's target.
		fd, err = unix.Open(b.hostPath(rel), flags|unix.O_CLOEXEC, mode)
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) && flags&unix.O_PATH == 0 {
			// The last component is a symlink (O_NOFOLLOW) or an intermediate one is
			// (RESOLVE_NO_SYMLINKS): tell them apart as Linux would for O_NOFOLLOW.
			if _, e2 := b.lstat(rel); e2 == 0 {
				return -1, unix.ELOOP
			}
		}
		return -1, walkErrno(err)
	}
	return fd, 0
}

// lstat stats rel inside branch b without following a trailing symlink
// (lookup).
func (b *branch) lstat(rel string) (unix.Stat_t, unix.Errno) {
	var st unix.Stat_t
	e := b.lookup(rel, func(dirfd int, path string) error {
		if path == "" {
			return unix.Fstat(dirfd, &st)
		}
		return fstatat(dirfd, path, &st, unix.AT_SYMLINK_NOFOLLOW)
	})
	return st, e
}

// lookup runs stat on rel inside branch b: stat(dirfd, path) must not
// follow a trailing symlink, and with path "" acts on dirfd itself (fstatat
// and fstat, or statx). A top-level name, or one in a remembered real
// directory, is one call on the root fd. Otherwise a plain call goes first:
// when it finds nothing (ENOENT, the common case while a search policy walks
// the branches) the confined walk could not find anything either — a
// symlink on the way, which the walk refuses, counts as a miss too
// (walkErrno) — and it costs 0.2 µs less than an openat2 (RESOLVE_*) that
// fails. Anything else is opened O_PATH in one confined openat2 and stat'ed
// through that fd, and its directory remembered as real.
func (b *branch) lookup(rel string, stat func(dirfd int, path string) error) unix.Errno {
	root, e := b.rootFast()
	if e != 0 {
		return e
	}
	if rel == "" {
		return errnoOf(stat(root, ""))
	}
	if b.knownBelow(rel) {
		return errnoOf(stat(root, rel))
	}
	if len(rel) <= chunkMax && stat(root, rel) == unix.ENOENT {
		return unix.ENOENT
	}
	fd, err := openBeneath(root, rel, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err == unix.ELOOP && b.follow.Load() {
		return errnoOf(stat(unix.AT_FDCWD, b.hostPath(rel)))
	}
	if err != nil {
		return walkErrno(err)
	}
	err = stat(fd, "")
	unix.Close(fd)
	if err == nil {
		b.real.learn(rel[:strings.LastIndexByte(rel, '/')])
	}
	return errnoOf(err)
}

// chunkMax bounds the path handed to one openat2. Paths below a branch may be
// longer than PATH_MAX (a FUSE mount only ever sends names; the branch
// prefix never counts because every walk starts at the branch root fd):
// longer ones are walked a chunk of whole components at a time.
const chunkMax = 2048

// openBeneath opens path below dirfd with openat2 confined to dirfd
// (beneath), in chunks when path is long. flags apply to the last chunk.
func openBeneath(dirfd int, path string, flags int, mode uint32) (int, error) {
	how := func(f int) unix.OpenHow {
		return unix.OpenHow{Flags: uint64(f | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: beneath}
	}
	if len(path) <= chunkMax {
		return openat2(dirfd, path, how(flags))
	}
	cur, owned := dirfd, false
	for len(path) > chunkMax {
		cut := strings.LastIndexByte(path[:chunkMax], '/')
		if cut <= 0 {
			if owned {
				unix.Close(cur)
			}
			return -1, unix.ENAMETOOLONG // one component longer than NAME_MAX
		}
		next, err := openat2(cur, path[:cut], how(unix.O_PATH|unix.O_DIRECTORY))
		if owned {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur, owned, path = next, true, path[cut+1:]
	}
	fd, err := openat2(cur, path, how(flags))
	if owned {
		unix.Close(cur)
	}
	return fd, err
}

// walkErrno maps errors of a confined walk: ELOOP from RESOLVE_NO_SYMLINKS means
// a component is a symlink on this branch, which the union does not traverse
// here, so the path does not exist on the branch as a directory chain. EXDEV
// means an attempt to leave the branch.
func walkErrno(err error) unix.Errno {
	e := errnoOf(err)
	switch e {
	case unix.ELOOP, unix.EXDEV:
		return unix.ENOENT
	}
	return e
}

// errnoOf extracts the errno of err (EIO for anything else).
func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(unix.Errno); ok { // what x/sys returns: no reflection on the hot path
		return e
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// invalidateSpace drops the cached statvfs figures.
func (b *branch) invalidateSpace() {
	b.mu.Lock()
	b.spaceOK = false
	b.mu.Unlock()
}

// procFd names an open fd (O_PATH ones included) for the path-taking calls
// that have no fd form (chmod of an O_PATH fd, xattrs): the magic link refers
// to the opened file itself, so nothing is resolved again by name.
func procFd(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}
