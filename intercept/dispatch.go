package intercept

import (
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// dispatch decodes the arguments of one trapped syscall and runs its
// handler. Arguments follow the x86_64 and i386 syscall ABIs (which agree on
// the order for every row here); architecture-specific layouts are handled
// by the handlers that read or write structures.
func (t *task) dispatch() reply {
	n := t.n
	a := &n.Args
	switch n.Arch {
	case auditArchX64:
		t.op = t.s.prog.x64.lookup(n.Nr)
	case auditArchX86:
		t.i386 = true
		t.op = t.s.prog.i386.lookup(n.Nr)
	default:
		return fail(unix.ENOSYS) // the filter already refuses other ABIs
	}
	if t.op != opGetxattr && t.op != opLgetxattr {
		t.w.found.ok = false // anything else may change what it describes
	}
	fdcwd := unix.AT_FDCWD
	switch t.op {
	case opOpen:
		return t.open(fdcwd, t.argPtr(0), t.argInt(1), uint32(t.argInt(2)), 0)
	case opOpenat:
		return t.open(t.argInt(0), t.argPtr(1), t.argInt(2), uint32(t.argInt(3)), 0)
	case opCreat:
		return t.open(fdcwd, t.argPtr(0), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(t.argInt(1)), 0)
	case opOpenat2:
		return t.openat2(t.argInt(0), t.argPtr(1), t.argPtr(2), t.argLong(3))
	case opStat:
		return t.stat(fdcwd, t.argPtr(0), t.argPtr(1), 0, layoutStat)
	case opLstat:
		return t.stat(fdcwd, t.argPtr(0), t.argPtr(1), unix.AT_SYMLINK_NOFOLLOW, layoutStat)
	case opNewfstatat:
		return t.stat(t.argInt(0), t.argPtr(1), t.argPtr(2), t.argInt(3), layoutStat)
	case opStat64:
		return t.stat(fdcwd, t.argPtr(0), t.argPtr(1), 0, layoutStat64)
	case opLstat64:
		return t.stat(fdcwd, t.argPtr(0), t.argPtr(1), unix.AT_SYMLINK_NOFOLLOW, layoutStat64)
	case opFstatat64:
		return t.stat(t.argInt(0), t.argPtr(1), t.argPtr(2), t.argInt(3), layoutStat64)
	case opStatx:
		return t.statx(t.argInt(0), t.argPtr(1), t.argInt(2), uint32(t.argInt(3)), t.argPtr(4))
	case opAccess:
		return t.access(fdcwd, t.argPtr(0), uint32(t.argInt(1)), 0)
	case opFaccessat:
		return t.access(t.argInt(0), t.argPtr(1), uint32(t.argInt(2)), 0)
	case opFaccessat2:
		return t.access(t.argInt(0), t.argPtr(1), uint32(t.argInt(2)), t.argInt(3))
	case opReadlink:
		return t.readlink(fdcwd, t.argPtr(0), t.argPtr(1), t.argInt(2))
	case opReadlinkat:
		return t.readlink(t.argInt(0), t.argPtr(1), t.argPtr(2), t.argInt(3))
	case opGetdents64:
		return t.getdents(t.argInt(0), t.argPtr(1), uint32(a[2]), true)
	case opGetdents:
		if t.i386 {
			return t.legacyFd(t.argInt(0))
		}
		return t.getdents(t.argInt(0), t.argPtr(1), uint32(a[2]), false)
	case opChdir:
		return t.chdir(t.argPtr(0))
	case opFchdir:
		// An injected branch dir fd works natively and the reverse map does
		// the rest; the kernel cwd is right again.
		t.clearVcwd()
		return cont()
	case opGetcwd:
		return t.getcwd(t.argPtr(0), t.argLong(1))
	case opMkdir:
		return t.mkdir(fdcwd, t.argPtr(0), uint32(t.argInt(1)))
	case opMkdirat:
		return t.mkdir(t.argInt(0), t.argPtr(1), uint32(t.argInt(2)))
	case opMknod:
		return t.mknod(fdcwd, t.argPtr(0), uint32(t.argInt(1)), uint64(uint32(a[2])))
	case opMknodat:
		return t.mknod(t.argInt(0), t.argPtr(1), uint32(t.argInt(2)), uint64(uint32(a[3])))
	case opSymlink:
		return t.symlink(t.argPtr(0), fdcwd, t.argPtr(1))
	case opSymlinkat:
		return t.symlink(t.argPtr(0), t.argInt(1), t.argPtr(2))
	case opUnlink:
		return t.unlink(fdcwd, t.argPtr(0), 0)
	case opRmdir:
		return t.unlink(fdcwd, t.argPtr(0), unix.AT_REMOVEDIR)
	case opUnlinkat:
		return t.unlink(t.argInt(0), t.argPtr(1), t.argInt(2))
	case opRename:
		return t.rename(fdcwd, t.argPtr(0), fdcwd, t.argPtr(1), 0)
	case opRenameat:
		return t.rename(t.argInt(0), t.argPtr(1), t.argInt(2), t.argPtr(3), 0)
	case opRenameat2:
		return t.rename(t.argInt(0), t.argPtr(1), t.argInt(2), t.argPtr(3), uint(uint32(a[4])))
	case opLink:
		return t.link(fdcwd, t.argPtr(0), fdcwd, t.argPtr(1), 0)
	case opLinkat:
		return t.link(t.argInt(0), t.argPtr(1), t.argInt(2), t.argPtr(3), t.argInt(4))
	case opChmod:
		return t.chmod(fdcwd, t.argPtr(0), uint32(t.argInt(1)), 0)
	case opFchmodat:
		return t.chmod(t.argInt(0), t.argPtr(1), uint32(t.argInt(2)), 0)
	case opFchmodat2:
		return t.chmod(t.argInt(0), t.argPtr(1), uint32(t.argInt(2)), t.argInt(3))
	case opChown:
		return t.chown(fdcwd, t.argPtr(0), t.argInt(1), t.argInt(2), 0)
	case opLchown:
		return t.chown(fdcwd, t.argPtr(0), t.argInt(1), t.argInt(2), unix.AT_SYMLINK_NOFOLLOW)
	case opFchownat:
		return t.chown(t.argInt(0), t.argPtr(1), t.argInt(2), t.argInt(3), t.argInt(4))
	case opUtime:
		return t.utimes(fdcwd, t.argPtr(0), t.argPtr(1), timesUtimbuf, 0)
	case opUtimes:
		return t.utimes(fdcwd, t.argPtr(0), t.argPtr(1), timesTimeval, 0)
	case opFutimesat:
		return t.utimes(t.argInt(0), t.argPtr(1), t.argPtr(2), timesTimeval, 0)
	case opUtimensat:
		kind := timesTimespec
		if t.i386 && t.s.prog.i386.names[n.Nr] == "utimensat" {
			kind = timesTimespec32
		}
		return t.utimes(t.argInt(0), t.argPtr(1), t.argPtr(2), kind, t.argInt(3))
	case opTruncate:
		return t.truncate(t.argPtr(0), t.argLong(1))
	case opSetxattr, opLsetxattr:
		return t.setxattr(t.argPtr(0), t.argPtr(1), t.argPtr(2), t.argLong(3), t.argInt(4), t.op == opSetxattr)
	case opGetxattr, opLgetxattr:
		return t.getxattr(t.argPtr(0), t.argPtr(1), t.argPtr(2), t.argLong(3), t.op == opGetxattr)
	case opListxattr, opLlistxattr:
		return t.listxattr(t.argPtr(0), t.argPtr(1), t.argLong(2), t.op == opListxattr)
	case opRemovexattr, opLremovexattr:
		return t.removexattr(t.argPtr(0), t.argPtr(1), t.op == opRemovexattr)
	case opXattrat:
		return t.refuseAt(t.argInt(0), t.argPtr(1), t.argInt(2)&unix.AT_SYMLINK_NOFOLLOW == 0, unix.ENOSYS)
	case opStatfs:
		if t.i386 {
			return t.refuseAt(fdcwd, t.argPtr(0), true, unix.ENOSYS)
		}
		return t.statfs(t.argPtr(0), t.argPtr(1))
	case opFstatfs:
		if t.i386 {
			return t.legacyFd(t.argInt(0))
		}
		return t.fstatfs(t.argInt(0), t.argPtr(1))
	case opExecve, opExecveat:
		// setuid binaries (as root) and de_thread's tid change. The ids are
		// dropped after the handler too: resolving a path in a union caches
		// the caller's ids, which the exec that follows the reply may change.
		t.s.creds.reset()
		t.s.tgids.reset()
		var r reply
		if t.op == opExecve {
			r = t.execve(fdcwd, t.argPtr(0), t.argPtr(1), 0)
		} else {
			r = t.execve(t.argInt(0), t.argPtr(1), t.argPtr(2), t.argInt(4))
		}
		t.s.creds.reset()
		return r
	case opInotifyAddWatch:
		return t.inotifyAddWatch(t.argInt(0), t.argPtr(1), uint32(a[2]))
	case opFanotifyMark:
		return t.refuseAt(t.argInt(3), t.argPtr(4), true, unix.EOPNOTSUPP)
	case opNameToHandleAt:
		return t.refuseAt(t.argInt(0), t.argPtr(1), t.argInt(4)&unix.AT_SYMLINK_FOLLOW != 0, unix.EOPNOTSUPP)
	case opRefuse0:
		return t.refuseAt(fdcwd, t.argPtr(0), true, unix.EPERM)
	case opRefuse1:
		return t.refuseAt(fdcwd, t.argPtr(1), true, unix.EPERM)
	case opRefuseAt:
		return t.refuseAt(t.argInt(0), t.argPtr(1), true, unix.EPERM)
	case opMoveMount:
		// move_mount(from_dfd, from_path, to_dfd, to_path, flags)
		if r := t.refuseAt(t.argInt(2), t.argPtr(3), true, unix.EPERM); r.kind != replyContinue {
			return r
		}
		return t.refuseAt(t.argInt(0), t.argPtr(1), true, unix.EPERM)
	case opOldStat:
		return t.refuseAt(fdcwd, t.argPtr(0), true, unix.ENOSYS)
	case opLegacyFd:
		return t.legacyFd(t.argInt(0))
	case opProcChange:
		t.s.creds.reset()
		t.s.tgids.reset()
		return cont()
	case opUmask:
		t.s.umask.changing(t.tid, &t.s.creds)
		return cont()
	}
	return cont()
}

// path reads a path argument: PATH_MAX bytes at most, then ID_VALID. A path
// that cannot be read is the kernel's to report (EFAULT, ENAMETOOLONG), so
// the answer is CONTINUE; a task that is gone gets nothing.
//
// ID_VALID guards what is done with the bytes (an emulation, a write into
// the task). A path that is plainly outside every union (absolute, without
// "..", not under a target or /proc) is answered CONTINUE, which acts on
// nothing (the kernel reads the string again; a reply to a task that is
// gone fails harmlessly), so the check is left to locate, which makes it
// before anything else is decided from memory read since (t.unchecked).
func (t *task) pathArg(addr uint64) (string, reply, bool) {
	p, r, ok := t.pathRead(addr)
	if !ok || t.s.plainlyOutside(p) {
		return p, r, ok
	}
	if !t.valid() {
		return "", gone(), false
	}
	return p, reply{}, true
}

// pathRead is pathArg without the ID_VALID: for a handler that reads more
// of the task's memory before it locates the path, so that one check (the
// one locate makes, t.unchecked) covers every read.
func (t *task) pathRead(addr uint64) (string, reply, bool) {
	p, e := t.readString(addr, unix.PathMax-1)
	switch e {
	case 0:
		return p, reply{}, true
	case unix.ESRCH:
		return "", gone(), false
	case unix.EPERM:
		t.s.warn("eperm", "mfs run: cannot read the memory of a workload process (non-dumpable?); its paths bypass the union", "pid", t.tid)
	}
	return "", cont(), false
}

// refuseAt answers a path syscall the union cannot honour: CONTINUE
// outside, errno e inside.
func (t *task) refuseAt(dirfd int, addr uint64, follow bool, e unix.Errno) reply {
	if addr == 0 {
		return cont()
	}
	l, r, ok := t.pathLocate(dirfd, addr, follow)
	if !ok {
		return r
	}
	if l.where == whereOutside {
		return cont()
	}
	return fail(e)
}

// pathLocate reads the path argument at addr and locates it relative to
// dirfd: the first step of every path handler that needs no more of the
// string than where it leads.
func (t *task) pathLocate(dirfd int, addr uint64, follow bool) (loc, reply, bool) {
	p, r, ok := t.pathArg(addr)
	if !ok {
		return loc{}, r, false
	}
	return t.locate(dirfd, p, follow)
}

// legacyFd refuses an fd syscall with a 32-bit layout on a union fd.
func (t *task) legacyFd(fd int) reply {
	if _, _, ok := t.unionFd(fd); ok {
		return fail(unix.ENOSYS)
	}
	return cont()
}

// unionFd maps a task fd to the union directory or file it was opened as
// (its kernel path lies in a branch).
func (t *task) unionFd(fd int) (*unionInfo, string, bool) {
	if fd < 0 {
		return nil, "", false
	}
	p, e := t.readlinkProc("fd/" + itoa(fd))
	if e != 0 || !isAbs(p) {
		return nil, "", false
	}
	ui, _, rel, ok := t.s.mapBranch(p)
	return ui, rel, ok
}

// unionDirFd is unionFd for getdents, which also needs the branch copy of
// a union directory removed behind the union's back (the branch directory
// itself deleted, or just this copy, while the union directory lives on in
// other branches): the kernel's path then ends in " (deleted)". dirFd has
// both readings of such a path; getdents picks by the link count.
func (t *task) unionDirFd(fd int) (d dirFd, ok bool) {
	if fd < 0 {
		return d, false
	}
	p, e := t.readlinkProc("fd/" + itoa(fd))
	if e != 0 || !isAbs(p) {
		return d, false
	}
	d.ui, _, d.rel, d.ok = t.s.mapBranch(p)
	if q, cut := strings.CutSuffix(p, " (deleted)"); cut {
		d.delUI, _, d.delRel, d.delOK = t.s.mapBranch(q)
	}
	return d, d.ok || d.delOK
}

// dirFd is what unionDirFd read: the path as it is (ok) and, when it ends
// in " (deleted)", without that suffix (delOK).
type dirFd struct {
	ui, delUI   *unionInfo
	rel, delRel string
	ok, delOK   bool
}

func isAbs(p string) bool { return len(p) > 0 && p[0] == '/' }

// hostAs runs fn, a syscall on a host path the resolution reached through a
// union, with the caller's identity. Unprivileged, the supervisor's identity
// is the caller's. As root the receiving thread (locked) takes the caller's
// fsuid, fsgid and groups for the call, as vfs does for branch operations.
func (t *task) hostAs(c *vfs.Cred, fn func() error) unix.Errno {
	if !t.s.root || c == nil || (c.Uid == 0 && c.Gid == 0) {
		return errnoOf(fn())
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if e := setThreadGroups(c.Groups); e != 0 {
		return e
	}
	unix.Setfsgid(int(c.Gid))
	unix.Setfsuid(int(c.Uid))
	err := fn()
	unix.Setfsuid(0)
	unix.Setfsgid(0)
	setThreadGroups(nil)
	return errnoOf(err)
}
