package intercept

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// --- open, openat, creat, openat2 -------------------------------------------

// noFIFOHandOver disables the hand-over before FIFO opens (tests use it to
// exercise the watchdog).
var noFIFOHandOver = false

// open answers the open family. Inside a union the file is opened (or
// created by the create policy) on its branch by vfs and the branch fd is
// injected with ADDFD|SEND, O_CLOEXEC carried over as the only fd flag the
// kernel accepts there; every other flag (O_APPEND, O_NONBLOCK, O_PATH,
// O_DIRECTORY, O_TRUNC ...) is on the open file description vfs opened.
func (t *task) open(dirfd int, addr uint64, flags int, mode uint32, resolve uint64) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	creat := flags&unix.O_CREAT != 0
	// O_CREAT|O_EXCL never follows a trailing symlink (it fails with EEXIST).
	follow := flags&unix.O_NOFOLLOW == 0 && !(creat && flags&unix.O_EXCL != 0)
	l, r, ok := t.locate(dirfd, p, false)
	if !ok {
		return r
	}
	if l.where == whereUnion && resolve == 0 && !l.dir &&
		flags&(unix.O_CREAT|unix.O_PATH) == 0 && flags&unix.O_TMPFILE != unix.O_TMPFILE {
		if r, ok := t.openFast(l, flags); ok {
			return r
		}
	}
	l, a, ae, r, ok := t.attrOf(l, dirfd, p, follow)
	if !ok {
		return r
	}
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		if resolve != 0 {
			return fail(unix.ENOSYS)
		}
		return t.openHost(l, flags, mode)
	}
	if resolve != 0 {
		// RESOLVE_* inside a union: not emulated; ENOSYS makes callers fall
		// back to openat.
		return fail(unix.ENOSYS)
	}
	if flags&unix.O_PATH != 0 && ae == 0 {
		return t.openPath(dirfd, p, l, a, flags)
	}
	return t.openUnion(l, a, ae, flags, mode)
}

// openFast opens an existing union object with one vfs call, no Getattr
// first, when the open itself cannot block or act on anything but a
// directory: O_DIRECTORY (opendir; the kernel refuses any other type before
// opening it) or O_NONBLOCK asked for by the task. Any other open must know
// the type first: even a non-blocking open of a FIFO completes a writer's
// blocked open, and a device's open may act. The checks of openUnion are
// the kernel's then; every failure but ENOENT (a final symlink to follow
// among them: vfs opens with O_NOFOLLOW) takes the full path, which yields
// the errno Linux would. ok=false: take the full path.
func (t *task) openFast(l loc, flags int) (reply, bool) {
	if flags&(unix.O_DIRECTORY|unix.O_NONBLOCK) == 0 {
		return reply{}, false
	}
	f, e := l.ui.u.Pool.Open(t.s.ctx, t.creds(false, false), l.rel, flags&^unix.O_CLOEXEC)
	switch e {
	case 0:
	case unix.ENOENT:
		return fail(e), true
	default:
		return reply{}, false
	}
	t.branch = f.Branch()
	return injectFD(f.Fd(), flags&unix.O_CLOEXEC != 0), true
}

// openPath answers an O_PATH open inside a union. ADDFD cannot inject an
// O_PATH file (the kernel's fget() refuses them), so: when the task's own
// string already leads the kernel to the branch object (a name relative to
// an injected directory fd, as tar and fts use), CONTINUE and the kernel
// makes the O_PATH fd itself; otherwise a directory is injected opened
// O_RDONLY|O_DIRECTORY and a regular file O_RDONLY (so read permission is
// needed and F_GETFL shows no O_PATH); other types get EOPNOTSUPP.
func (t *task) openPath(dirfd int, p string, l loc, a vfs.Attr, flags int) reply {
	roots := l.ui.branches()
	if a.Branch >= 0 && a.Branch < len(roots) {
		bp := roots[a.Branch]
		if l.rel != "" {
			bp += "/" + l.rel
		}
		if t.kernelLandsFollow(dirfd, p, []string{bp}, flags&unix.O_NOFOLLOW == 0) {
			return cont()
		}
	}
	var fl int
	switch a.Stat.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		fl = unix.O_RDONLY | unix.O_DIRECTORY
	case unix.S_IFREG:
		if flags&unix.O_DIRECTORY != 0 {
			return fail(unix.ENOTDIR)
		}
		fl = unix.O_RDONLY | unix.O_NONBLOCK
	default:
		t.s.warn("opath", "mfs run: O_PATH open of a symlink, FIFO or device inside a union is not supported (EOPNOTSUPP)", "path", t.tracePath())
		return fail(unix.EOPNOTSUPP)
	}
	f, e := l.ui.u.Pool.Open(t.s.ctx, t.creds(false, false), l.rel, fl)
	if e != 0 {
		return fail(e)
	}
	t.branch = f.Branch()
	return injectFD(f.Fd(), flags&unix.O_CLOEXEC != 0)
}

// openUnion opens union object l whose attributes (or Getattr errno e)
// locateAttr fetched.
func (t *task) openUnion(l loc, a vfs.Attr, e unix.Errno, flags int, mode uint32) reply {
	pool := l.ui.u.Pool
	ctx := t.s.ctx
	creat := flags&unix.O_CREAT != 0
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		// vfs.Open passes no mode, so an O_TMPFILE would get mode 0 (reported).
		return fail(unix.EOPNOTSUPP)
	}
	c := t.creds(creat, false)
	switch {
	case e == unix.ENOENT && creat:
		if l.dir {
			return fail(unix.EISDIR)
		}
		// locateAttr just looked the name up for this call.
		f, e := pool.CreateAbsent(ctx, c, l.rel, flags&^(unix.O_CREAT|unix.O_CLOEXEC), mode&0o7777)
		if e != 0 {
			return fail(e)
		}
		t.branch = f.Branch()
		return injectFD(f.Fd(), flags&unix.O_CLOEXEC != 0)
	case e != 0:
		return fail(e)
	}
	isDir := a.Stat.Mode&unix.S_IFMT == unix.S_IFDIR
	if creat {
		if flags&unix.O_EXCL != 0 {
			return fail(unix.EEXIST)
		}
		if isDir {
			return fail(unix.EISDIR)
		}
	}
	if (l.dir || flags&unix.O_DIRECTORY != 0) && !isDir && a.Stat.Mode&unix.S_IFMT != unix.S_IFLNK {
		return fail(unix.ENOTDIR)
	}
	if a.Stat.Mode&unix.S_IFMT == unix.S_IFIFO && flags&(unix.O_NONBLOCK|unix.O_PATH) == 0 {
		if !noFIFOHandOver {
			t.handOver() // a FIFO open waits for its peer, whose open we must serve
		}
		if kick := fifoKick(l, a, flags); kick != nil {
			t.w.cancel.Store(&kick)
			defer t.w.cancel.Store(nil)
		}
	}
	fl := flags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC)
	if l.dir {
		fl |= unix.O_DIRECTORY
	}
	f, e := pool.OpenFound(ctx, c, l.rel, a, fl)
	if e != 0 {
		return fail(e)
	}
	t.branch = f.Branch()
	return injectFD(f.Fd(), flags&unix.O_CLOEXEC != 0)
}

// fifoKick returns a function that completes a blocked open of FIFO l by
// opening its other end without blocking (and closing it at once): used when
// the task that asked for the open is gone, so the receiver is not stuck in
// the kernel forever.
func fifoKick(l loc, a vfs.Attr, flags int) func() {
	roots := l.ui.branches()
	if a.Branch < 0 || a.Branch >= len(roots) {
		return nil
	}
	p := roots[a.Branch] + "/" + l.rel
	other := unix.O_WRONLY
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		other = unix.O_RDONLY
	}
	return func() {
		if fd, err := unix.Open(p, other|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0); err == nil {
			unix.Close(fd)
		}
	}
}

// openHost opens a host path reached through a union.
func (t *task) openHost(l loc, flags int, mode uint32) reply {
	c := t.creds(flags&unix.O_CREAT != 0, false)
	t.handOver() // rare, and the host object may be a FIFO
	if flags&unix.O_PATH != 0 {
		// ADDFD cannot inject O_PATH files: see openPath.
		flags = flags&^(unix.O_PATH|unix.O_ACCMODE) | unix.O_RDONLY | unix.O_NONBLOCK
	}
	var fd int
	e := t.hostAs(c, func() error {
		var err error
		fd, err = unix.Openat(unix.AT_FDCWD, l.hostPath(), flags|unix.O_CLOEXEC, mode&^c.Umask)
		return err
	})
	if e != 0 {
		return fail(e)
	}
	return injectFD(fd, flags&unix.O_CLOEXEC != 0)
}

// openat2 reads struct open_how (flags, mode, resolve: 24 bytes; larger
// structs must be zero beyond what we know, as the kernel requires).
func (t *task) openat2(dirfd int, addr, howAddr uint64, size int64) reply {
	if size < 24 || size > pageSize {
		return cont() // EINVAL / E2BIG from the kernel
	}
	b, e := t.readBytes(howAddr, int(size))
	if e != 0 {
		return cont()
	}
	for _, x := range b[24:] {
		if x != 0 {
			return cont()
		}
	}
	flags := binary.LittleEndian.Uint64(b[0:])
	mode := binary.LittleEndian.Uint64(b[8:])
	res := binary.LittleEndian.Uint64(b[16:])
	if flags>>32 != 0 || mode>>32 != 0 {
		return cont()
	}
	return t.open(dirfd, addr, int(flags), uint32(mode), res)
}

// --- stat family --------------------------------------------------------------

type statLayout uint8

const (
	layoutStat   statLayout = iota // struct stat (x86_64)
	layoutStat64                   // struct stat64 (i386)
)

func (t *task) stat(dirfd int, addr, buf uint64, flags int, layout statLayout) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	if p == "" {
		return cont() // AT_EMPTY_PATH (fstat of the fd) or ENOENT
	}
	l, a, ae, r, ok := t.locateAttr(dirfd, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return r
	}
	var st unix.Stat_t
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		e := t.hostAs(t.creds(false, false), func() error {
			return unix.Fstatat(unix.AT_FDCWD, l.hostPath(), &st, flags&unix.AT_SYMLINK_NOFOLLOW)
		})
		if e != 0 {
			return fail(e)
		}
	default:
		if ae != 0 {
			return fail(ae)
		}
		t.branch = a.Branch
		st = a.Stat
	}
	if t.s.userns {
		st.Uid, st.Gid = t.s.shownUid(st.Uid), t.s.shownGid(st.Gid)
	}
	var out []byte
	if layout == layoutStat64 {
		out = stat64Bytes(&st)
	} else {
		out = statBytes(&st)
	}
	if e := t.write(buf, out); e != 0 {
		return fail(unix.EFAULT)
	}
	return value(0)
}

// stat64Bytes lays out i386's struct stat64 (96 bytes, 4-byte aligned long
// longs): dev, pad, 32-bit ino, mode, nlink, uid, gid, rdev, pad, size,
// blksize, blocks, then the three times and the 64-bit ino.
func stat64Bytes(st *unix.Stat_t) []byte {
	b := make([]byte, 96)
	le := binary.LittleEndian
	le.PutUint64(b[0:], st.Dev)
	le.PutUint32(b[12:], uint32(st.Ino))
	le.PutUint32(b[16:], st.Mode)
	le.PutUint32(b[20:], uint32(st.Nlink))
	le.PutUint32(b[24:], st.Uid)
	le.PutUint32(b[28:], st.Gid)
	le.PutUint64(b[32:], st.Rdev)
	le.PutUint64(b[44:], uint64(st.Size))
	le.PutUint32(b[52:], uint32(st.Blksize))
	le.PutUint64(b[56:], uint64(st.Blocks))
	le.PutUint32(b[64:], uint32(st.Atim.Sec))
	le.PutUint32(b[68:], uint32(st.Atim.Nsec))
	le.PutUint32(b[72:], uint32(st.Mtim.Sec))
	le.PutUint32(b[76:], uint32(st.Mtim.Nsec))
	le.PutUint32(b[80:], uint32(st.Ctim.Sec))
	le.PutUint32(b[84:], uint32(st.Ctim.Nsec))
	le.PutUint64(b[88:], st.Ino)
	return b
}

// statx answers statx (same layout on both ABIs). Inside a union the branch
// object is statx'ed directly (birth time, mount id and attributes
// included), by the search itself (GetattrStatx) or, when that did not
// produce it, after; when vfs reports attributes that differ from the
// branch object (follow-symlinks, symlinkify, the synthetic root and
// control file), the vfs attributes are converted instead.
func (t *task) statx(dirfd int, addr uint64, flags int, mask uint32, buf uint64) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	if p == "" {
		return cont()
	}
	sx := &t.w.sx
	*sx = statxWant{flags: flags, mask: mask}
	t.sx = sx
	l, a, ae, r, ok := t.locateAttr(dirfd, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	t.sx = nil
	if !ok {
		return r
	}
	var stx unix.Statx_t
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		e := t.hostAs(t.creds(false, false), func() error {
			return unix.Statx(unix.AT_FDCWD, l.hostPath(), flags&^unix.AT_EMPTY_PATH, int(mask), &stx)
		})
		if e != 0 {
			return fail(e)
		}
	default:
		if ae != 0 {
			return fail(ae)
		}
		t.branch = a.Branch
		if sx.filled {
			stx = sx.stx
		} else if !t.branchStatx(l, a, t.creds(false, false), flags, mask, &stx) {
			statxFromStat(&a.Stat, &stx)
		}
	}
	if t.s.userns {
		stx.Uid, stx.Gid = t.s.shownUid(stx.Uid), t.s.shownGid(stx.Gid)
	}
	if e := t.write(buf, statxBytes(&stx)); e != 0 {
		return fail(unix.EFAULT)
	}
	return value(0)
}

// branchStatx fills stx from the branch object Getattr reported (birth time
// and the other statx-only fields). false: it failed or is no longer that
// object, and the caller converts a's attributes instead.
func (t *task) branchStatx(l loc, a vfs.Attr, c *vfs.Cred, flags int, mask uint32, stx *unix.Statx_t) bool {
	if l.ui.u.Pool.StatxOn(t.s.ctx, c, l.rel, a.Branch, flags, mask, stx) != 0 {
		return false
	}
	return stx.Ino == a.Stat.Ino && uint32(stx.Mode) == a.Stat.Mode && int64(stx.Size) == a.Stat.Size
}

func statxFromStat(st *unix.Stat_t, stx *unix.Statx_t) {
	*stx = unix.Statx_t{
		Mask:       unix.STATX_BASIC_STATS,
		Blksize:    uint32(st.Blksize),
		Nlink:      uint32(st.Nlink),
		Uid:        st.Uid,
		Gid:        st.Gid,
		Mode:       uint16(st.Mode),
		Ino:        st.Ino,
		Size:       uint64(st.Size),
		Blocks:     uint64(st.Blocks),
		Atime:      unix.StatxTimestamp{Sec: st.Atim.Sec, Nsec: uint32(st.Atim.Nsec)},
		Ctime:      unix.StatxTimestamp{Sec: st.Ctim.Sec, Nsec: uint32(st.Ctim.Nsec)},
		Mtime:      unix.StatxTimestamp{Sec: st.Mtim.Sec, Nsec: uint32(st.Mtim.Nsec)},
		Rdev_major: unix.Major(st.Rdev),
		Rdev_minor: unix.Minor(st.Rdev),
		Dev_major:  unix.Major(st.Dev),
		Dev_minor:  unix.Minor(st.Dev),
	}
}

// --- access -------------------------------------------------------------------

// access checks with the real ids (plain access) or the effective ones
// (AT_EACCESS), as the kernel does.
func (t *task) access(dirfd int, addr uint64, mode uint32, flags int) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	if p == "" {
		return cont()
	}
	l, _, ae, r, ok := t.locateAttr(dirfd, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return r
	}
	if l.where == whereUnion && ae != 0 {
		return fail(ae)
	}
	c := t.creds(false, flags&unix.AT_EACCESS == 0)
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		return result(t.hostAs(c, func() error {
			return unix.Faccessat2(unix.AT_FDCWD, l.hostPath(), mode, unix.AT_EACCESS|flags&unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	return result(l.ui.u.Pool.Access(t.s.ctx, c, l.rel, mode))
}

// --- readlink -----------------------------------------------------------------

func (t *task) readlink(dirfd int, addr, buf uint64, size int) reply {
	if size <= 0 {
		return cont() // EINVAL
	}
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	if p == "" {
		return cont()
	}
	if strings.HasPrefix(p, "/proc/") {
		if r, ok := t.readlinkMagic(p, buf, size); ok {
			return r
		}
	}
	l, r, ok := t.locate(dirfd, p, false)
	if !ok {
		return r
	}
	var target string
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		b := t.w.lbuf[:]
		var n int
		e := t.hostAs(t.creds(false, false), func() error {
			var err error
			n, err = unix.Readlink(l.hostPath(), b)
			return err
		})
		if e != 0 {
			return fail(e)
		}
		target = string(b[:n])
	default:
		var e unix.Errno
		target, e = l.ui.u.Pool.Readlink(t.s.ctx, t.creds(false, false), l.rel)
		if e != 0 {
			return fail(e)
		}
	}
	return t.writeTruncated(buf, size, target)
}

// writeTruncated stores s as readlink does: at most size bytes, no NUL.
func (t *task) writeTruncated(buf uint64, size int, s string) reply {
	if len(s) > size {
		s = s[:size]
	}
	if e := t.write(buf, []byte(s)); e != 0 {
		return fail(unix.EFAULT)
	}
	return value(int64(len(s)))
}

// readlinkMagic answers readlink of /proc/{self,thread-self,N}/{cwd,exe,root,
// fd/K} when the link points into a branch: the union path is returned, so
// programs that find themselves or their files through /proc see the union.
func (t *task) readlinkMagic(p string, buf uint64, size int) (reply, bool) {
	rest := strings.TrimPrefix(p, "/proc/")
	who, tail, ok := strings.Cut(rest, "/")
	if !ok {
		return reply{}, false
	}
	// proc is where the supervisor reads the link: its own /proc for the
	// task itself (host tid), else the /proc the task sees, which in a PID
	// namespace of the workload's own is reached through init's root.
	proc := "/proc/"
	self := false
	switch {
	case who == "self" || who == "thread-self":
		who, self = itoa(t.tid), true
	case strings.Trim(who, "0123456789") != "" || who == "":
		return reply{}, false
	case t.s.initPid != 0:
		proc = "/proc/" + itoa(t.s.initPid) + "/root/proc/"
		self = who == itoa(t.nsTgid())
	default:
		self = who == itoa(t.tgid())
	}
	if tid, tt, ok := strings.Cut(tail, "/"); ok && tid == "task" {
		// /proc/N/task/M/...: M names the thread, in the task's namespace
		if m, rest2, ok := strings.Cut(tt, "/"); ok && strings.Trim(m, "0123456789") == "" && m != "" {
			if t.s.initPid != 0 {
				proc = "/proc/" + itoa(t.s.initPid) + "/root/proc/"
			}
			who, tail = m, rest2
		}
	}
	switch {
	case tail == "cwd", tail == "exe", tail == "root":
	case strings.HasPrefix(tail, "fd/") && strings.Trim(tail[3:], "0123456789") == "" && len(tail) > 3:
	default:
		return reply{}, false
	}
	b := t.w.lbuf[:]
	n, err := unix.Readlink(proc+who+"/"+tail, b)
	if err != nil {
		return reply{}, false
	}
	if tail == "cwd" && t.s.vcwds.n.Load() != 0 {
		// A process with a virtual cwd, this one or another.
		v, ok := "", false
		if self {
			v, ok = t.vcwd()
		} else if pid := t.hostPid(proc, who); pid > 0 {
			v, ok = t.s.vcwdOf(pid, string(b[:n]))
		}
		if ok {
			t.path = p
			return t.writeTruncated(buf, size, v), true
		}
	}
	mapped, ok := t.s.mapUnionPath(string(b[:n]))
	if !ok {
		return reply{}, false
	}
	t.path = p
	return t.writeTruncated(buf, size, mapped), true
}

// hostPid returns the pid, in the supervisor's namespace, of process who
// of the /proc at proc: who itself in the supervisor's /proc, else the
// workload process whose innermost NSpid is who (rare: readlink of another
// process's cwd while virtual cwds exist).
func (t *task) hostPid(proc, who string) int {
	n, _ := strconv.Atoi(who)
	if proc == "/proc/" {
		return n
	}
	for _, pid := range append([]int{t.s.initPid}, descendants(t.s.initPid)...) {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/status")
		if err != nil {
			continue
		}
		if _, rest, ok := strings.Cut(string(b), "\nNSpid:"); ok {
			line, _, _ := strings.Cut(rest, "\n")
			if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == who {
				return pid
			}
		}
	}
	return 0
}

// --- getcwd ---------------------------------------------------------------------

// getcwd reports the union path while the kernel cwd is a branch directory.
func (t *task) getcwd(buf uint64, size int64) reply {
	cwd, virtual, e := t.cwdDir()
	if e != 0 {
		return cont()
	}
	v, ok := t.s.mapUnionPath(cwd)
	if !ok && !virtual {
		return cont()
	}
	t.path = v
	if int64(len(v))+1 > size {
		return fail(unix.ERANGE)
	}
	if e := t.write(buf, append([]byte(v), 0)); e != 0 {
		return fail(unix.EFAULT)
	}
	return value(int64(len(v) + 1))
}

// --- statfs ---------------------------------------------------------------------

func (t *task) statfs(addr, buf uint64) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	// vfs.Statfs answers for any path (a mount's kernel looks the name up
	// first); the lookup happens here.
	l, _, ae, r, ok := t.locateAttr(unix.AT_FDCWD, p, true)
	if !ok {
		return r
	}
	if l.where == whereUnion && ae != 0 {
		return fail(ae)
	}
	var st unix.Statfs_t
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		if e := t.hostAs(t.creds(false, false), func() error { return unix.Statfs(l.hostPath(), &st) }); e != 0 {
			return fail(e)
		}
	default:
		var e unix.Errno
		st, e = l.ui.u.Pool.Statfs(t.s.ctx, t.creds(false, false), l.rel)
		if e != 0 {
			return fail(e)
		}
	}
	if e := t.write(buf, statfsBytes(&st)); e != 0 {
		return fail(unix.EFAULT)
	}
	return value(0)
}

// fstatfs pools the statfs of a union fd (a branch file or directory).
func (t *task) fstatfs(fd int, buf uint64) reply {
	ui, rel, ok := t.unionFd(fd)
	if !ok {
		return cont()
	}
	st, e := ui.u.Pool.Statfs(t.s.ctx, t.creds(false, false), rel)
	if e != 0 {
		return fail(e)
	}
	if e := t.write(buf, statfsBytes(&st)); e != 0 {
		return fail(unix.EFAULT)
	}
	return value(0)
}
