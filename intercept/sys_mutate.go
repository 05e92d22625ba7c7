package intercept

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// Each handler here is a thin call into vfs for union paths, the same
// syscall on the host path for whereHost, and CONTINUE otherwise.

func (t *task) mkdir(dirfd int, addr uint64, mode uint32) reply {
	l, r, ok := t.pathLocate(dirfd, addr, false)
	if !ok {
		return r
	}
	c := t.creds(true, false)
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		return result(t.hostAs(c, func() error { return unix.Mkdir(l.hostPath(), mode&0o7777&^c.Umask) }))
	}
	return result(l.ui.u.Pool.Mkdir(t.s.ctx, c, l.rel, mode&0o7777))
}

func (t *task) mknod(dirfd int, addr uint64, mode uint32, dev uint64) reply {
	l, r, ok := t.pathLocate(dirfd, addr, false)
	if !ok {
		return r
	}
	c := t.creds(true, false)
	if mode&unix.S_IFMT == 0 {
		mode |= unix.S_IFREG
	}
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		return result(t.hostAs(c, func() error {
			return unix.Mknod(l.hostPath(), mode&unix.S_IFMT|mode&0o7777&^c.Umask, int(dev))
		}))
	}
	return result(l.ui.u.Pool.Mknod(t.s.ctx, c, l.rel, mode, dev))
}

func (t *task) symlink(targetAddr uint64, dirfd int, addr uint64) reply {
	target, e := t.readString(targetAddr, unix.PathMax-1)
	if e != 0 {
		if e == unix.ESRCH {
			return gone()
		}
		return cont()
	}
	l, r, ok := t.pathLocate(dirfd, addr, false)
	if !ok {
		return r
	}
	c := t.creds(true, false)
	switch l.where {
	case whereOutside:
		return cont()
	case whereHost:
		return result(t.hostAs(c, func() error { return unix.Symlink(target, l.hostPath()) }))
	}
	return result(l.ui.u.Pool.Symlink(t.s.ctx, c, target, l.rel))
}

// unlink covers unlink, rmdir and unlinkat. "." and ".." as the last
// component are refused before resolution, as the kernel does.
func (t *task) unlink(dirfd int, addr uint64, flags int) reply {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return r
	}
	rmdir := flags&unix.AT_REMOVEDIR != 0
	if rmdir {
		// A union directory may go (an unlink never removes one).
		t.s.forgetKnown(p)
	}
	l, r, ok := t.locate(dirfd, p, false)
	if !ok {
		return r
	}
	if l.where == whereOutside {
		return cont()
	}
	switch lastComponent(p) {
	case ".":
		if rmdir {
			return fail(unix.EINVAL)
		}
		return fail(unix.EISDIR)
	case "..":
		if rmdir {
			return fail(unix.ENOTEMPTY)
		}
		return fail(unix.EISDIR)
	}
	c := t.creds(false, false)
	if l.where == whereHost {
		return result(t.hostAs(c, func() error {
			if rmdir {
				return unix.Rmdir(l.hostPath())
			}
			return unix.Unlink(l.hostPath())
		}))
	}
	pool := l.ui.u.Pool
	if rmdir {
		if l.rel == "" {
			return fail(unix.EBUSY)
		}
		return result(pool.Rmdir(t.s.ctx, c, l.rel))
	}
	if l.rel == "" {
		return fail(unix.EISDIR)
	}
	if l.dir {
		// "file/" names a directory: unlink of a directory is EISDIR, of
		// anything else ENOTDIR (the resolver already checked the type).
		return fail(unix.EISDIR)
	}
	return result(pool.Unlink(t.s.ctx, c, l.rel))
}

// twoPaths reads and locates the two paths of rename and link.
func (t *task) twoPaths(od int, oaddr uint64, nd int, naddr uint64, followOld bool) (ol, nl loc, op, np string, r reply, ok bool) {
	op, e := t.readString(oaddr, unix.PathMax-1)
	if e != 0 {
		if e == unix.ESRCH {
			return ol, nl, "", "", gone(), false
		}
		return ol, nl, "", "", cont(), false
	}
	np, r, ok = t.pathArg(naddr)
	if !ok {
		return
	}
	if op == "" || np == "" {
		return ol, nl, op, np, cont(), false
	}
	ol, r, ok = t.locate(od, op, followOld)
	if !ok {
		return
	}
	nl, r, ok = t.locate(nd, np, false)
	return
}

func (t *task) rename(od int, oaddr uint64, nd int, naddr uint64, flags uint) reply {
	ol, nl, op, np, r, ok := t.twoPaths(od, oaddr, nd, naddr, false)
	if !ok {
		return r
	}
	t.s.forgetKnown(op) // a union directory may move away, or be replaced
	t.s.forgetKnown(np)
	if ol.where == whereOutside && nl.where == whereOutside {
		return cont()
	}
	switch lastComponent(op) {
	case ".", "..", "":
		return fail(unix.EBUSY)
	}
	switch lastComponent(np) {
	case ".", "..", "":
		if flags&unix.RENAME_NOREPLACE != 0 {
			return fail(unix.EEXIST)
		}
		return fail(unix.EBUSY)
	}
	c := t.creds(false, false)
	if ol.where == whereUnion && nl.where == whereUnion {
		if ol.ui != nl.ui {
			return fail(unix.EXDEV)
		}
		t.traceUI, t.traceRel = nl.ui, nl.rel
		return result(ol.ui.u.Pool.Rename(t.s.ctx, c, ol.rel, nl.rel, flags))
	}
	if ol.where == whereUnion || nl.where == whereUnion {
		return fail(unix.EXDEV) // different filesystems as far as the task can tell
	}
	// host ↔ host, one of them reached through a union
	from, to := t.hostOr(ol, od, op), t.hostOr(nl, nd, np)
	return result(t.hostAs(c, func() error {
		return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, flags)
	}))
}

// hostOr returns the path the supervisor uses for one side of a two-path
// call: the resolved host path, or the raw path through the task's cwd/fd.
func (t *task) hostOr(l loc, dirfd int, raw string) string {
	if l.where == whereHost {
		return l.hostPath()
	}
	return t.kernelPath(dirfd, raw)
}

func (t *task) link(od int, oaddr uint64, nd int, naddr uint64, flags int) reply {
	if flags&unix.AT_EMPTY_PATH != 0 {
		// linkat(fd, "", ...): the source is an fd. Into a union only the
		// same branch could take it; not emulated.
		return t.refuseAt(nd, naddr, false, unix.EXDEV)
	}
	ol, nl, op, np, r, ok := t.twoPaths(od, oaddr, nd, naddr, flags&unix.AT_SYMLINK_FOLLOW != 0)
	if !ok {
		return r
	}
	if ol.where == whereOutside && nl.where == whereOutside {
		return cont()
	}
	c := t.creds(false, false)
	if ol.where == whereUnion && nl.where == whereUnion {
		if ol.ui != nl.ui {
			return fail(unix.EXDEV)
		}
		if nl.dir {
			return fail(unix.ENOENT)
		}
		return result(ol.ui.u.Pool.Link(t.s.ctx, c, ol.rel, nl.rel))
	}
	if ol.where == whereUnion || nl.where == whereUnion {
		return fail(unix.EXDEV)
	}
	from, to := t.hostOr(ol, od, op), t.hostOr(nl, nd, np)
	return result(t.hostAs(c, func() error {
		return unix.Linkat(unix.AT_FDCWD, from, unix.AT_FDCWD, to, 0)
	}))
}

// attrTarget is the common front of chmod, chown, utimes and truncate.
func (t *task) attrTarget(dirfd int, addr uint64, follow bool) (loc, *vfs.Cred, reply, bool) {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return loc{}, nil, r, false
	}
	if p == "" {
		return loc{}, nil, cont(), false // AT_EMPTY_PATH: acts on the fd itself
	}
	l, r, ok := t.locate(dirfd, p, follow)
	if !ok {
		return loc{}, nil, r, false
	}
	if l.where == whereOutside {
		return loc{}, nil, cont(), false
	}
	return l, t.creds(false, false), reply{}, true
}

func (t *task) chmod(dirfd int, addr uint64, mode uint32, flags int) reply {
	l, c, r, ok := t.attrTarget(dirfd, addr, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return r
	}
	mode &= 0o7777
	if l.where == whereHost {
		return result(t.hostAs(c, func() error {
			return unix.Fchmodat(unix.AT_FDCWD, l.hostPath(), mode, flags&unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	return result(l.ui.u.Pool.Chmod(t.s.ctx, c, l.rel, mode))
}

func (t *task) chown(dirfd int, addr uint64, uid, gid, flags int) reply {
	l, c, r, ok := t.attrTarget(dirfd, addr, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return r
	}
	if t.s.userns && (!t.s.mappedUid(uid) || !t.s.mappedGid(gid)) {
		return fail(unix.EINVAL) // an id without a mapping in the workload's user namespace
	}
	if l.where == whereHost {
		return result(t.hostAs(c, func() error {
			return unix.Fchownat(unix.AT_FDCWD, l.hostPath(), uid, gid, flags&unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	return result(l.ui.u.Pool.Chown(t.s.ctx, c, l.rel, uid, gid))
}

type timesLayout uint8

const (
	timesTimespec   timesLayout = iota // struct timespec[2], 64-bit
	timesTimespec32                    // i386 struct old_timespec32[2]
	timesTimeval                       // struct timeval[2] (64-bit, or 32-bit on i386)
	timesUtimbuf                       // struct utimbuf {actime, modtime}
)

// readTimes decodes the times argument of the utime family; NULL means now.
func (t *task) readTimes(addr uint64, layout timesLayout) ([2]unix.Timespec, unix.Errno) {
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	if addr == 0 {
		return [2]unix.Timespec{now, now}, 0
	}
	word := 8
	if t.i386 || layout == timesTimespec32 {
		word = 4
	}
	if layout == timesTimespec {
		word = 8
	}
	n := 4 * word
	if layout == timesUtimbuf {
		n = 2 * word
	}
	b, e := t.readBytes(addr, n)
	if e != 0 {
		return [2]unix.Timespec{}, e
	}
	get := func(i int) int64 {
		if word == 4 {
			return int64(int32(binary.LittleEndian.Uint32(b[i*4:])))
		}
		return int64(binary.LittleEndian.Uint64(b[i*8:]))
	}
	var ts [2]unix.Timespec
	switch layout {
	case timesUtimbuf:
		ts[0] = unix.Timespec{Sec: get(0)}
		ts[1] = unix.Timespec{Sec: get(1)}
	case timesTimeval:
		ts[0] = unix.Timespec{Sec: get(0), Nsec: get(1) * 1000}
		ts[1] = unix.Timespec{Sec: get(2), Nsec: get(3) * 1000}
	default:
		ts[0] = unix.Timespec{Sec: get(0), Nsec: get(1)}
		ts[1] = unix.Timespec{Sec: get(2), Nsec: get(3)}
	}
	return ts, 0
}

func (t *task) utimes(dirfd int, addr, timesAddr uint64, layout timesLayout, flags int) reply {
	l, c, r, ok := t.attrTarget(dirfd, addr, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return r
	}
	ts, e := t.readTimes(timesAddr, layout)
	if e != 0 {
		return fail(unix.EFAULT)
	}
	if !t.valid() {
		return gone()
	}
	if l.where == whereHost {
		return result(t.hostAs(c, func() error {
			return unix.UtimesNanoAt(unix.AT_FDCWD, l.hostPath(), ts[:], flags&unix.AT_SYMLINK_NOFOLLOW)
		}))
	}
	return result(l.ui.u.Pool.Utimens(t.s.ctx, c, l.rel, ts[0], ts[1]))
}

func (t *task) truncate(addr uint64, size int64) reply {
	l, c, r, ok := t.attrTarget(unix.AT_FDCWD, addr, true)
	if !ok {
		return r
	}
	if l.where == whereHost {
		return result(t.hostAs(c, func() error { return unix.Truncate(l.hostPath(), size) }))
	}
	return result(l.ui.u.Pool.Truncate(t.s.ctx, c, l.rel, size))
}

// --- xattrs -------------------------------------------------------------------

const xattrSizeMax = 64 << 10

// xattrName reads an attribute name (XATTR_NAME_MAX = 255).
func (t *task) xattrName(addr uint64) (string, reply, bool) {
	name, e := t.readString(addr, 255)
	switch e {
	case 0:
		return name, reply{}, true
	case unix.ESRCH:
		return "", gone(), false
	case unix.ENAMETOOLONG:
		return "", fail(unix.ERANGE), false
	}
	return "", cont(), false
}

func (t *task) setxattr(addr, nameAddr, valAddr uint64, size int64, flags int, follow bool) reply {
	l, c, r, ok := t.attrTarget(unix.AT_FDCWD, addr, follow)
	if !ok {
		return r
	}
	name, r, ok := t.xattrName(nameAddr)
	if !ok {
		return r
	}
	if size < 0 || size > xattrSizeMax {
		return fail(unix.E2BIG)
	}
	var val []byte
	if size > 0 {
		var e unix.Errno
		if val, e = t.readBytes(valAddr, int(size)); e != 0 {
			return fail(unix.EFAULT)
		}
	}
	if !t.valid() {
		return gone()
	}
	if l.where == whereHost {
		return result(t.hostAs(c, func() error {
			if follow {
				return unix.Setxattr(l.hostPath(), name, val, flags)
			}
			return unix.Lsetxattr(l.hostPath(), name, val, flags)
		}))
	}
	e := l.ui.u.Pool.Setxattr(t.s.ctx, c, l.rel, name, val, flags)
	if e == 0 && l.rel == vfs.ControlFile {
		t.s.refreshBranches()
	}
	return result(e)
}

func (t *task) getxattr(addr, nameAddr, valAddr uint64, size int64, follow bool) reply {
	// A union path is looked at as it is first (lgetxattr): when the object
	// is no symlink, following changes nothing, and resolving the whole
	// path with follow (a lookup more) is needed only for links. ls -l
	// calls getxattr once per entry for its ACL. Path and name are read
	// together (or the name right after the path), before the path is
	// located, so the ID_VALID locate makes covers both reads.
	p, name, ok := t.readPair(addr, nameAddr, 255)
	if !ok {
		var r reply
		if p, r, ok = t.pathRead(addr); !ok {
			return r
		}
		if p != "" && !t.s.plainlyOutside(p) {
			if name, r, ok = t.xattrName(nameAddr); !ok {
				return r
			}
		}
	}
	if p == "" || t.s.plainlyOutside(p) {
		return cont() // AT_EMPTY_PATH acts on the fd itself
	}
	l, r, ok := t.locate(unix.AT_FDCWD, p, false)
	if ok && follow && l.where == whereHost {
		l, r, ok = t.locate(unix.AT_FDCWD, p, true)
	}
	if !ok {
		return r
	}
	if l.where == whereOutside {
		return cont()
	}
	c := t.creds(false, false)
	size = min(max(size, 0), xattrSizeMax)
	buf := make([]byte, size)
	n, typ, e := t.xattrAt(l, c, name, buf, follow)
	if follow && l.where == whereUnion && (typ == unix.S_IFLNK || typ == 0 && e == 0) {
		if l, r, ok = t.locate(unix.AT_FDCWD, p, true); !ok {
			return r
		}
		if l.where == whereOutside {
			return cont()
		}
		n, _, e = t.xattrAt(l, c, name, buf, true)
	}
	if e != 0 {
		return fail(e)
	}
	if size > 0 {
		if e := t.write(valAddr, buf[:n]); e != 0 {
			return fail(unix.EFAULT)
		}
	}
	return value(int64(n))
}

// xattrAt reads attribute name of l: on the host with getxattr or
// lgetxattr, in a union with vfs, which also reports the type of the object
// it read (0 on the host).
func (t *task) xattrAt(l loc, c *vfs.Cred, name string, buf []byte, follow bool) (int, uint32, unix.Errno) {
	if l.where == whereUnion {
		if f := &t.w.found; f.ok && f.tid == t.tid && f.ui == l.ui && f.rel == l.rel {
			return l.ui.u.Pool.GetxattrFound(t.s.ctx, c, l.rel, name, buf, f.a)
		}
		return l.ui.u.Pool.GetxattrTyped(t.s.ctx, c, l.rel, name, buf)
	}
	var n int
	e := t.hostAs(c, func() error {
		var err error
		if follow {
			n, err = unix.Getxattr(l.hostPath(), name, buf)
		} else {
			n, err = unix.Lgetxattr(l.hostPath(), name, buf)
		}
		return err
	})
	return n, 0, e
}

func (t *task) listxattr(addr, listAddr uint64, size int64, follow bool) reply {
	l, c, r, ok := t.attrTarget(unix.AT_FDCWD, addr, follow)
	if !ok {
		return r
	}
	size = min(max(size, 0), xattrSizeMax)
	buf := make([]byte, size)
	var n int
	var e unix.Errno
	if l.where == whereHost {
		e = t.hostAs(c, func() error {
			var err error
			if follow {
				n, err = unix.Listxattr(l.hostPath(), buf)
			} else {
				n, err = unix.Llistxattr(l.hostPath(), buf)
			}
			return err
		})
	} else {
		n, e = l.ui.u.Pool.Listxattr(t.s.ctx, c, l.rel, buf)
	}
	if e != 0 {
		return fail(e)
	}
	if size > 0 {
		if e := t.write(listAddr, buf[:n]); e != 0 {
			return fail(unix.EFAULT)
		}
	}
	return value(int64(n))
}

func (t *task) removexattr(addr, nameAddr uint64, follow bool) reply {
	l, c, r, ok := t.attrTarget(unix.AT_FDCWD, addr, follow)
	if !ok {
		return r
	}
	name, r, ok := t.xattrName(nameAddr)
	if !ok {
		return r
	}
	if !t.valid() {
		return gone()
	}
	if l.where == whereHost {
		return result(t.hostAs(c, func() error {
			if follow {
				return unix.Removexattr(l.hostPath(), name)
			}
			return unix.Lremovexattr(l.hostPath(), name)
		}))
	}
	return result(l.ui.u.Pool.Removexattr(t.s.ctx, c, l.rel, name))
}
