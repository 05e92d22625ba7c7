package intercept

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// pidfdThread is PIDFD_THREAD (6.9): a pidfd for one thread, not only a
// thread-group leader.
const pidfdThread = unix.O_EXCL

// taskFd duplicates the task's fd into the supervisor with pidfd_getfd: the
// copy shares the open file description (offset, flags, the inotify
// instance), which is what getdents and inotify emulation work on.
func (t *task) taskFd(fd int) (int, reply, bool) {
	pidfd, err := unix.PidfdOpen(t.tid, pidfdThread)
	if err == unix.EINVAL {
		pidfd, err = unix.PidfdOpen(t.tid, 0)
	}
	if err != nil {
		if err == unix.ESRCH {
			return -1, gone(), false
		}
		return -1, fail(errnoOf(err)), false
	}
	defer unix.Close(pidfd)
	if !t.valid() { // the pidfd must name the trapped task, not a reused pid
		return -1, gone(), false
	}
	dup, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, fail(errnoOf(err)), false
	}
	return dup, reply{}, true
}

// --- merged getdents ------------------------------------------------------------

// A union directory is an injected fd of one branch copy. getdents on it is
// answered from vfs's merged listing. The cursor is kept in the open file
// description's own f_pos (lseek on a pidfd_getfd copy), so dup, fork,
// rewinddir, telldir and seekdir work without a per-fd table. Cookies are
// stateless: "." is 1, ".." 2, every other name a 40-bit hash of itself
// (ext4 htree style, below 2^40 so any filesystem accepts it as an offset;
// below 2^31 for i386 tasks),
// the listing sorted by cookie, and a call resumes at the first cookie
// greater than f_pos. A snapshot of the listing is cached per open file
// description (identified with kcmp(KCMP_FILE) against a held copy) so a
// long listing is read once; it is dropped at end of directory and refreshed
// at offset 0. A cache miss re-lists and resumes correctly, so eviction only
// costs time; under concurrent changes each name is still reported at most
// once per pass.

type dirEnt struct {
	name string
	ino  uint64
	off  uint64
	typ  uint8
}

type dirSnap struct {
	fd   int // supervisor's copy of the task's open file description
	ents []dirEnt
	bits uint // cookie width the entries were made for
	used uint64
}

type dirCache struct {
	mu    sync.Mutex
	snaps []*dirSnap
	tick  uint64
}

const maxDirSnaps = 64

// find returns the snapshot of the open file description fd refers to.
// Preconditions: c.mu held.
func (c *dirCache) findLocked(fd int) *dirSnap {
	for _, s := range c.snaps {
		if kcmpFile(fd, s.fd) {
			c.tick++
			s.used = c.tick
			return s
		}
	}
	return nil
}

// addLocked stores s, evicting the least recently used snapshot when full.
// Preconditions: c.mu held.
func (c *dirCache) addLocked(s *dirSnap) {
	if len(c.snaps) >= maxDirSnaps {
		lru := 0
		for i, x := range c.snaps {
			if x.used < c.snaps[lru].used {
				lru = i
			}
		}
		c.dropLocked(c.snaps[lru])
	}
	c.tick++
	s.used = c.tick
	c.snaps = append(c.snaps, s)
}

// dropLocked forgets s and closes its copy. Preconditions: c.mu held.
func (c *dirCache) dropLocked(s *dirSnap) {
	for i, x := range c.snaps {
		if x == s {
			c.snaps = append(c.snaps[:i], c.snaps[i+1:]...)
			break
		}
	}
	unix.Close(s.fd)
}

// closeAll releases every held copy.
func (c *dirCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.snaps {
		unix.Close(s.fd)
	}
	c.snaps = nil
}

// cookie is the stateless offset of a name, below 2^bits: 40 for 64-bit
// tasks, 31 for i386 ones (a 32-bit lseek on an ext4 htree directory stops
// at 2^31-1, and a 32-bit telldir returns a long).
func cookie(name string, bits uint) uint64 {
	switch name {
	case ".":
		return 1
	case "..":
		return 2
	}
	// FNV-1a 64 written out: hash/fnv allocates per call, and a listing
	// hashes every name.
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return h%(1<<bits-3) + 3
}

// snapEntries orders a merged listing by cookie; names whose hashes collide
// take the next free values in name order, so offsets stay strictly
// increasing.
func snapEntries(ds []vfs.Dirent, bits uint) []dirEnt {
	// Sorted as keys cookie<<24|index: plain integers, so the sort moves 8
	// bytes, compares without a callback and needs no write barriers
	// (sorting the entries themselves, which hold their names, was a third
	// of the supervisor's CPU in a listing loop). Cookies are below 2^40, so
	// 24 bits are left for the index; a bigger directory sorts pairs.
	const idxBits = 24
	if len(ds) >= 1<<idxBits || bits > 64-idxBits {
		return snapEntriesLarge(ds, bits)
	}
	keys := make([]uint64, len(ds))
	for i := range ds {
		keys[i] = cookie(ds[i].Name, bits)<<idxBits | uint64(i)
	}
	slices.Sort(keys)
	// Equal cookies (a hash collision) sorted by index; they go by name.
	for j := 0; j < len(keys); {
		k := j + 1
		for k < len(keys) && keys[k]>>idxBits == keys[j]>>idxBits {
			k++
		}
		if k-j > 1 {
			slices.SortFunc(keys[j:k], func(a, b uint64) int {
				return strings.Compare(ds[a&(1<<idxBits-1)].Name, ds[b&(1<<idxBits-1)].Name)
			})
		}
		j = k
	}
	out := make([]dirEnt, len(keys))
	for j, k := range keys {
		out[j] = snapEntry(&ds[k&(1<<idxBits-1)], k>>idxBits)
	}
	bumpCookies(out)
	return out
}

// snapEntriesLarge is snapEntries for a directory of 2^24 entries or more.
func snapEntriesLarge(ds []vfs.Dirent, bits uint) []dirEnt {
	out := make([]dirEnt, len(ds))
	for i := range ds {
		out[i] = snapEntry(&ds[i], cookie(ds[i].Name, bits))
	}
	slices.SortFunc(out, func(a, b dirEnt) int {
		if c := cmp.Compare(a.off, b.off); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	bumpCookies(out)
	return out
}

func snapEntry(d *vfs.Dirent, off uint64) dirEnt {
	ino := d.RealIno
	if ino == 0 {
		ino = d.Ino
	}
	return dirEnt{name: d.Name, ino: ino, typ: d.Type, off: off}
}

// bumpCookies gives colliding cookies the next free values, so offsets
// strictly increase.
func bumpCookies(out []dirEnt) {
	for i := 1; i < len(out); i++ {
		if out[i].off <= out[i-1].off {
			out[i].off = out[i-1].off + 1
		}
	}
}

func align8(n int) int { return (n + 7) &^ 7 }

// putDirent appends one record in the linux_dirent64 (is64) or the old
// x86_64 linux_dirent layout; false when it does not fit in max bytes.
func putDirent(b []byte, max int, d *dirEnt, is64 bool) ([]byte, bool) {
	var reclen int
	if is64 {
		reclen = align8(19 + len(d.name) + 1)
	} else {
		reclen = align8(18 + len(d.name) + 2)
	}
	if len(b)+reclen > max {
		return b, false
	}
	start := len(b)
	b = append(b, make([]byte, reclen)...)
	r := b[start:]
	le := binary.LittleEndian
	le.PutUint64(r[0:], d.ino)
	le.PutUint64(r[8:], d.off)
	le.PutUint16(r[16:], uint16(reclen))
	if is64 {
		r[18] = d.typ
		copy(r[19:], d.name)
	} else {
		copy(r[18:], d.name)
		r[reclen-1] = d.typ
	}
	return b, true
}

func (t *task) getdents(fd int, buf uint64, count uint32, is64 bool) reply {
	df, ok := t.unionDirFd(fd)
	if !ok {
		return cont()
	}
	dup, r, ok := t.taskFd(fd)
	if !ok {
		return r
	}
	var st unix.Stat_t
	if unix.Fstat(dup, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(dup)
		return cont() // ENOTDIR from the kernel
	}
	// A removed directory has no links: its path names the union directory
	// it was a copy of, which may live on in other branches.
	deleted := st.Nlink == 0 && df.delOK
	ui, rel := df.ui, df.rel
	if deleted {
		ui, rel = df.delUI, df.delRel
	} else if !df.ok {
		unix.Close(dup)
		return cont()
	}
	pos, err := unix.Seek(dup, 0, unix.SEEK_CUR)
	if err != nil {
		unix.Close(dup)
		return fail(errnoOf(err))
	}
	t.traceUI, t.traceRel = ui, rel
	c := &t.s.dirs
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := c.findLocked(dup)
	fresh := snap == nil
	if fresh {
		snap = &dirSnap{fd: dup}
	} else {
		unix.Close(dup)
	}
	bits := uint(40)
	if t.i386 {
		bits = 31
	}
	if fresh || pos == 0 || snap.bits != bits {
		ds, e := ui.u.Pool.Readdir(t.s.ctx, t.creds(false, false), rel)
		if e != 0 {
			if fresh {
				unix.Close(dup)
			} else {
				c.dropLocked(snap)
			}
			if deleted && e == unix.ENOENT {
				// Gone from the union too: the kernel lists the removed
				// directory (nothing), as before the removal was seen.
				return cont()
			}
			return fail(e)
		}
		snap.ents, snap.bits = snapEntries(ds, bits), bits
		if fresh {
			c.addLocked(snap)
		}
	}
	ents := snap.ents
	// The first entry past pos (offsets strictly increase).
	i, found := slices.BinarySearchFunc(ents, uint64(pos), func(e dirEnt, p uint64) int { return cmp.Compare(e.off, p) })
	if found {
		i++
	}
	if i == len(ents) {
		c.dropLocked(snap)
		return value(0)
	}
	max := int(min(count, 256<<10))
	out := make([]byte, 0, min(max, 64<<10))
	var last uint64
	for ; i < len(ents); i++ {
		var fit bool
		if out, fit = putDirent(out, max, &ents[i], is64); !fit {
			break
		}
		last = ents[i].off
	}
	if len(out) == 0 {
		return fail(unix.EINVAL) // buffer too small for one record
	}
	if e := t.write(buf, out); e != 0 {
		return fail(unix.EFAULT)
	}
	if _, err := unix.Seek(snap.fd, int64(last), unix.SEEK_SET); err != nil {
		return fail(errnoOf(err))
	}
	return value(int64(len(out)))
}

// --- chdir ------------------------------------------------------------------------

// chdir into or inside a union (see vcwd.go): CONTINUE when the task's own
// string leads the kernel to a branch copy of the directory (any copy will
// do: the reverse map shows it as the union path, and relative paths from it
// are resolved in the union), else a virtual cwd.
func (t *task) chdir(addr uint64) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	if p == "" {
		return cont()
	}
	l, a, ae, r, ok := t.locateAttr(unix.AT_FDCWD, p, true)
	if !ok {
		return r
	}
	var cands []string
	var vpath string
	c := t.creds(false, false)
	switch l.where {
	case whereOutside:
		t.clearVcwd()
		return cont()
	case whereHost:
		var st unix.Stat_t
		e := t.hostAs(c, func() error {
			if err := unix.Stat(l.host, &st); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return unix.ENOTDIR
			}
			return unix.Faccessat2(unix.AT_FDCWD, l.host, unix.X_OK, unix.AT_EACCESS)
		})
		if e != 0 {
			return fail(e)
		}
		cands, vpath = []string{l.host}, l.host
	default:
		pool := l.ui.u.Pool
		if ae != 0 {
			return fail(ae)
		}
		if a.Stat.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fail(unix.ENOTDIR)
		}
		if e := pool.Access(t.s.ctx, c, l.rel, unix.X_OK); e != 0 {
			return fail(e)
		}
		t.branch = a.Branch
		cands = t.dirCopies(l, a.Branch)
		vpath = l.ui.target
		if l.rel != "" {
			vpath += "/" + l.rel
		}
	}
	if t.kernelLands(unix.AT_FDCWD, p, cands) {
		t.clearVcwd()
		return cont()
	}
	t.setVcwd(vpath)
	return value(0)
}

// kernelLands reports whether the kernel, resolving the task's own string,
// reaches one of cands.
func (t *task) kernelLands(dirfd int, p string, cands []string) bool {
	return t.kernelLandsFollow(dirfd, p, cands, true)
}

func (t *task) kernelLandsFollow(dirfd int, p string, cands []string, follow bool) bool {
	flags := 0
	if !follow {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	var kst unix.Stat_t
	if unix.Fstatat(unix.AT_FDCWD, t.kernelPath(dirfd, p), &kst, flags) != nil {
		return false
	}
	for _, cnd := range cands {
		var st unix.Stat_t
		if unix.Fstatat(unix.AT_FDCWD, cnd, &st, flags) == nil && st.Dev == kst.Dev && st.Ino == kst.Ino {
			return true
		}
	}
	return false
}

// dirCopies lists the branch directories holding union directory l, the
// one getattr picked first.
func (t *task) dirCopies(l loc, first int) []string {
	roots := l.ui.branches()
	var out []string
	add := func(i int) {
		d := roots[i]
		if l.rel != "" {
			d += "/" + l.rel
		}
		var st unix.Stat_t
		if unix.Stat(d, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			out = append(out, d)
		}
	}
	if first >= 0 && first < len(roots) {
		add(first)
	}
	for i := range roots {
		if i != first {
			add(i)
		}
	}
	return out
}

// redirect makes the kernel's resolution of an execve path string land on
// the branch file target, then answers CONTINUE; the pointer register cannot
// change, so only the bytes of the string can, and never beyond its length.
// In order:
//
//  1. the string already leads there;
//  2. the branch path fits in the string and keeps its basename: rewritten
//     in place;
//  3. a shell script (#! naming sh, or the calling shell itself) exec'd by
//     a shell: ENOEXEC, on which the shell runs the script itself (bash) or
//     through /bin/sh (dash, busybox, glibc's execvp), opening it by the
//     string it was given, which the union resolves: $0 stays as typed
//     ("./configure", "/pool/x/configure"), so scripts that find their
//     sources from $0 work;
//  4. "/dev/fd/N/base" fits, N an injected fd of the branch directory dir
//     that holds base (base resolves to target): it keeps the basename the
//     task used, which matters because argv[0] is often this very string and
//     multi-call binaries (busybox) pick their applet from it;
//  5. "/dev/fd/N" fits, N an injected read-only fd of the file itself: the
//     last resort for a short relative name under a virtual cwd
//     ("./configure" from `cd /pool/x`, where the kernel's cwd is elsewhere);
//     argv[0] changes with it when it is the same string (dash, execvp);
//  6. otherwise ENAMETOOLONG.
//
// Injected fds are close-on-exec, except for scripts, whose interpreter
// opens the script by the rewritten name after the exec. The image that
// owns the string is replaced by the exec, so the rewrite is invisible
// except to a vfork parent sharing the memory.
func (t *task) redirect(dirfd int, addr uint64, p, target, dir, base string, script bool) reply {
	if t.kernelLands(dirfd, p, []string{target}) {
		return cont()
	}
	if len(target) <= len(p) && lastComponent(target) == lastComponent(p) {
		if e := t.writeForce(addr, append([]byte(target), 0)); e != 0 {
			return fail(unix.EFAULT)
		}
		return cont()
	}
	if script && t.shellRunsItself(target) {
		return fail(unix.ENOEXEC)
	}
	if len(p) >= len("/dev/fd/1/")+len(base) {
		if r, ok := t.redirectFd(addr, p, dir, "/"+base, unix.O_RDONLY|unix.O_DIRECTORY, script); ok {
			return r
		}
	}
	if len(p) >= len("/dev/fd/1") {
		if r, ok := t.redirectFd(addr, p, target, "", unix.O_RDONLY, script); ok {
			return r
		}
	}
	t.s.warn("execve-short", "mfs run: a path into a union is too short to redirect for execve; the call fails with ENAMETOOLONG (run the program by a name of 9 bytes or more, such as $PWD/NAME)", "path", p)
	return fail(unix.ENAMETOOLONG)
}

// redirectFd injects an fd of path (opened with flags) and rewrites the
// string to "/dev/fd/N"+suffix when that fits. ok=false: it does not (the
// fd stays in the task, close-on-exec unless script).
func (t *task) redirectFd(addr uint64, p, path, suffix string, flags int, script bool) (reply, bool) {
	// ADDFD needs a real file: fget() refuses O_PATH descriptors.
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(errnoOf(err)), true
	}
	var fl uint32 = unix.O_CLOEXEC
	if script {
		fl = 0 // the interpreter opens the script by this name after exec
	}
	a := notifAddfd{ID: t.n.ID, Srcfd: uint32(fd), NewfdFlags: fl}
	n, e := notifAddFD(t.s.fd, &a, t.w.masked)
	unix.Close(fd)
	if e != 0 {
		if e == unix.ENOENT {
			return gone(), true
		}
		return fail(unix.EMFILE), true
	}
	s := "/dev/fd/" + itoa(n) + suffix
	if len(s) > len(p) {
		return reply{}, false
	}
	if e := t.writeForce(addr, append([]byte(s), 0)); e != 0 {
		return fail(unix.EFAULT), true
	}
	return cont(), true
}

// shells whose exec falls back to running a script itself, or through
// /bin/sh, when execve fails with ENOEXEC (POSIX requires it of sh and of
// execvp; busybox ash and the others do it too).
var shells = map[string]bool{
	"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true,
	"zsh": true, "yash": true, "posh": true, "busybox": true,
}

// shellRunsItself reports whether the task is a shell and the script at
// target is one it can run in its ENOEXEC fallback: a #! naming sh (any
// POSIX shell runs it), or naming the calling shell itself.
func (t *task) shellRunsItself(target string) bool {
	interp := scriptInterpreter(target)
	if interp == "" {
		return false
	}
	exe, e := t.readlinkProc("exe")
	if e != 0 {
		return false
	}
	caller := lastComponent(exe)
	if !shells[caller] {
		return false
	}
	return interp == "sh" || interp == caller
}

// scriptInterpreter returns the basename of a script's #! interpreter, or
// of the program named after /usr/bin/env; "" when path is no script.
func scriptInterpreter(path string) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var b [256]byte
	n, _ := unix.Read(fd, b[:])
	if n < 3 || b[0] != '#' || b[1] != '!' {
		return ""
	}
	line := string(b[2:n])
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	if lastComponent(f[0]) == "env" && len(f) > 1 && !strings.HasPrefix(f[1], "-") {
		return lastComponent(f[1])
	}
	return lastComponent(f[0])
}

// --- execve -----------------------------------------------------------------------

// execve of a program stored in a union: the kernel must open the file
// itself, so the path string is redirected to the branch file (rules of
// redirect). The ELF interpreter and a "#!" interpreter are then found by
// the kernel in the real namespace.
func (t *task) execve(dirfd int, addr, argv uint64, flags int) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	if p == "" {
		return cont() // fexecve
	}
	l, a, ae, r, ok := t.locateAttr(dirfd, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return r
	}
	var target string
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		target = l.host
	default:
		c := t.creds(false, false)
		pool := l.ui.u.Pool
		if ae != 0 {
			return fail(ae)
		}
		if a.Stat.Mode&unix.S_IFMT != unix.S_IFREG {
			return fail(unix.EACCES)
		}
		if e := pool.Access(t.s.ctx, c, l.rel, unix.X_OK); e != 0 {
			return fail(e)
		}
		roots := l.ui.branches()
		if a.Branch < 0 || a.Branch >= len(roots) {
			return fail(unix.EACCES)
		}
		t.branch = a.Branch
		target = roots[a.Branch] + "/" + l.rel
	}
	dir, base := parentOf(target), lastComponent(target)
	if ld, lb, ok := t.linkInBranch(dirfd, p, target); ok {
		dir, base = ld, lb
	}
	return t.redirect(dirfd, addr, p, target, dir, base, isScript(target))
}

// linkInBranch handles a program reached through a symlink to a plain name
// in the same directory (busybox applet farms): it returns the branch
// directory holding the link and the link's own name, so the rewritten path
// still ends in the name the task used.
func (t *task) linkInBranch(dirfd int, p, target string) (dir, base string, ok bool) {
	l, _, ok := t.locate(dirfd, p, false)
	if !ok || l.where != whereUnion || l.rel == "" {
		return "", "", false
	}
	c := t.creds(false, false)
	pool := l.ui.u.Pool
	a, e := pool.Getattr(t.s.ctx, c, l.rel)
	if e != 0 || a.Stat.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", "", false
	}
	to, e := pool.Readlink(t.s.ctx, c, l.rel)
	roots := l.ui.branches()
	if e != 0 || to == "" || to[0] == '/' || containsSlash(to) || a.Branch < 0 || a.Branch >= len(roots) {
		return "", "", false
	}
	d := parentOf(roots[a.Branch] + "/" + l.rel)
	var st, tst unix.Stat_t
	if unix.Stat(d+"/"+to, &st) != nil || unix.Stat(target, &tst) != nil || st.Dev != tst.Dev || st.Ino != tst.Ino {
		return "", "", false
	}
	return d, lastComponent(l.rel), true
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

func isScript(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var b [2]byte
	n, _ := unix.Read(fd, b[:])
	return n == 2 && b[0] == '#' && b[1] == '!'
}

// --- inotify ----------------------------------------------------------------------

// inotifyAddWatch adds the watch on the branch copy getattr picks, through a
// copy of the task's inotify fd (best effort: one branch per watch).
func (t *task) inotifyAddWatch(fd int, addr uint64, mask uint32) reply {
	l, r, ok := t.pathLocate(unix.AT_FDCWD, addr, mask&unix.IN_DONT_FOLLOW == 0)
	if !ok {
		return r
	}
	var target string
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		target = l.hostPath()
	default:
		a, e := l.ui.u.Pool.Getattr(t.s.ctx, t.creds(false, false), l.rel)
		if e != 0 {
			return fail(e)
		}
		roots := l.ui.branches()
		if a.Branch < 0 || a.Branch >= len(roots) {
			return fail(unix.EOPNOTSUPP)
		}
		target = roots[a.Branch]
		if l.rel != "" {
			target += "/" + l.rel
		}
	}
	dup, r, ok := t.taskFd(fd)
	if !ok {
		return r
	}
	defer unix.Close(dup)
	wd, err := unix.InotifyAddWatch(dup, target, mask)
	if err != nil {
		return fail(errnoOf(err))
	}
	return value(int64(wd))
}
