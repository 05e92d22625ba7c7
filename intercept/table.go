package intercept

// op is what the supervisor does with one trapped syscall, independent of
// its number on an architecture. The filter traps exactly the syscalls named
// in trapTable (plus the numeric rows of fixedTraps), and the supervisor maps
// (arch, nr) back to an op through tables built from the same rows, so the
// two can never disagree.
type op uint8

const (
	opNone op = iota
	opOpen
	opOpenat
	opCreat
	opOpenat2
	opStat
	opLstat
	opNewfstatat
	opStatx
	opAccess
	opFaccessat
	opFaccessat2
	opReadlink
	opReadlinkat
	opGetdents64
	opGetdents
	opChdir
	opFchdir
	opGetcwd
	opMkdir
	opMkdirat
	opMknod
	opMknodat
	opSymlink
	opSymlinkat
	opUnlink
	opRmdir
	opUnlinkat
	opRename
	opRenameat
	opRenameat2
	opLink
	opLinkat
	opChmod
	opFchmodat
	opFchmodat2
	opChown
	opLchown
	opFchownat
	opUtime
	opUtimes
	opFutimesat
	opUtimensat
	opTruncate
	opSetxattr
	opLsetxattr
	opGetxattr
	opLgetxattr
	opListxattr
	opLlistxattr
	opRemovexattr
	opLremovexattr
	opXattrat // setxattrat..removexattrat (6.13): dirfd, path, at_flags
	opStatfs
	opFstatfs
	opExecve
	opExecveat
	opInotifyAddWatch
	opFanotifyMark
	opNameToHandleAt
	opRefuse0  // a path in arg 0 that a union cannot honour (chroot, swapon, acct, ...)
	opRefuse1  // a path in arg 1 (mount's target, pivot_root's put_old, quotactl's special)
	opRefuseAt // dirfd + path in args 0, 1 (open_tree, fspick, mount_setattr, file_getattr)
	opMoveMount
	// i386 only: layouts that differ from x86_64.
	opStat64
	opLstat64
	opFstatat64
	opOldStat  // i386 path rows not emulated (oldstat, stat, statfs64, truncate64, ...): ENOSYS in a union
	opLegacyFd // i386 fd rows not emulated (readdir(2), fstatfs64): ENOSYS on a union fd
	// opProcChange: clone, fork, exec-independent id changes: CONTINUE, and
	// the per-thread identity cache is dropped (a new thread may reuse a
	// tid; a thread's ids are about to change).
	opProcChange
	// opUmask: umask(2): CONTINUE; the cached umasks are not trusted until
	// the calling thread traps again, its umask then set (supervisor.umask).
	opUmask
	numOps
)

var opNames = [numOps]string{
	opNone: "none", opOpen: "open", opOpenat: "openat", opCreat: "creat", opOpenat2: "openat2",
	opStat: "stat", opLstat: "lstat", opNewfstatat: "newfstatat", opStatx: "statx",
	opAccess: "access", opFaccessat: "faccessat", opFaccessat2: "faccessat2",
	opReadlink: "readlink", opReadlinkat: "readlinkat", opGetdents64: "getdents64", opGetdents: "getdents",
	opChdir: "chdir", opFchdir: "fchdir", opGetcwd: "getcwd",
	opMkdir: "mkdir", opMkdirat: "mkdirat", opMknod: "mknod", opMknodat: "mknodat",
	opSymlink: "symlink", opSymlinkat: "symlinkat", opUnlink: "unlink", opRmdir: "rmdir", opUnlinkat: "unlinkat",
	opRename: "rename", opRenameat: "renameat", opRenameat2: "renameat2", opLink: "link", opLinkat: "linkat",
	opChmod: "chmod", opFchmodat: "fchmodat", opFchmodat2: "fchmodat2", opChown: "chown", opLchown: "lchown",
	opFchownat: "fchownat", opUtime: "utime", opUtimes: "utimes", opFutimesat: "futimesat", opUtimensat: "utimensat",
	opTruncate: "truncate", opSetxattr: "setxattr", opLsetxattr: "lsetxattr", opGetxattr: "getxattr",
	opLgetxattr: "lgetxattr", opListxattr: "listxattr", opLlistxattr: "llistxattr", opRemovexattr: "removexattr",
	opLremovexattr: "lremovexattr", opXattrat: "xattrat", opStatfs: "statfs", opFstatfs: "fstatfs",
	opExecve: "execve", opExecveat: "execveat", opInotifyAddWatch: "inotify_add_watch",
	opFanotifyMark: "fanotify_mark", opNameToHandleAt: "name_to_handle_at",
	opRefuse0: "refuse", opRefuse1: "refuse", opRefuseAt: "refuse", opMoveMount: "move_mount",
	opStat64: "stat64", opLstat64: "lstat64", opFstatat64: "fstatat64", opOldStat: "legacy", opLegacyFd: "legacyfd",
	opProcChange: "procchange", opUmask: "umask",
}

func (o op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op?"
}

// trap is one filter row: a syscall name (resolved per architecture by
// libseccomp) and the op that answers it.
type trap struct {
	name string
	op   op
}

// commonTraps are trapped on x86_64 and, by the same name, on i386.
var commonTraps = []trap{
	{"open", opOpen}, {"openat", opOpenat}, {"creat", opCreat}, {"openat2", opOpenat2},
	{"statx", opStatx},
	{"access", opAccess}, {"faccessat", opFaccessat}, {"faccessat2", opFaccessat2},
	{"readlink", opReadlink}, {"readlinkat", opReadlinkat},
	{"getdents64", opGetdents64}, {"getdents", opGetdents},
	{"chdir", opChdir}, {"fchdir", opFchdir}, {"getcwd", opGetcwd},
	{"mkdir", opMkdir}, {"mkdirat", opMkdirat}, {"mknod", opMknod}, {"mknodat", opMknodat},
	{"symlink", opSymlink}, {"symlinkat", opSymlinkat},
	{"unlink", opUnlink}, {"rmdir", opRmdir}, {"unlinkat", opUnlinkat},
	{"rename", opRename}, {"renameat", opRenameat}, {"renameat2", opRenameat2},
	{"link", opLink}, {"linkat", opLinkat},
	{"chmod", opChmod}, {"fchmodat", opFchmodat}, {"fchmodat2", opFchmodat2},
	{"fchownat", opFchownat},
	{"utime", opUtime}, {"utimes", opUtimes}, {"futimesat", opFutimesat}, {"utimensat", opUtimensat},
	{"truncate", opTruncate},
	{"setxattr", opSetxattr}, {"lsetxattr", opLsetxattr}, {"getxattr", opGetxattr},
	{"lgetxattr", opLgetxattr}, {"listxattr", opListxattr}, {"llistxattr", opLlistxattr},
	{"removexattr", opRemovexattr}, {"lremovexattr", opLremovexattr},
	{"statfs", opStatfs}, {"fstatfs", opFstatfs},
	{"execve", opExecve}, {"execveat", opExecveat},
	{"inotify_add_watch", opInotifyAddWatch}, {"fanotify_mark", opFanotifyMark},
	{"name_to_handle_at", opNameToHandleAt},
	{"chroot", opRefuse0}, {"swapon", opRefuse0}, {"swapoff", opRefuse0}, {"acct", opRefuse0},
	{"uselib", opRefuse0}, {"umount2", opRefuse0},
	{"mount", opRefuse1}, {"pivot_root", opRefuse1}, {"quotactl", opRefuse1},
	{"open_tree", opRefuseAt}, {"fspick", opRefuseAt}, {"mount_setattr", opRefuseAt},
	{"move_mount", opMoveMount},
	{"clone", opProcChange}, {"clone3", opProcChange}, {"fork", opProcChange}, {"vfork", opProcChange},
	{"setuid", opProcChange}, {"setgid", opProcChange}, {"setreuid", opProcChange}, {"setregid", opProcChange},
	{"setresuid", opProcChange}, {"setresgid", opProcChange}, {"setfsuid", opProcChange}, {"setfsgid", opProcChange},
	{"setgroups", opProcChange}, {"capset", opProcChange},
	{"umask", opUmask},
}

// nativeTraps are the x86_64-only names (same op, x86_64 layouts).
var nativeTraps = []trap{
	{"stat", opStat}, {"lstat", opLstat}, {"newfstatat", opNewfstatat},
	{"chown", opChown}, {"lchown", opLchown},
}

// i386Traps are the i386-only names. i386's stat/lstat/chown are the 16-bit
// legacy forms; the 32-bit-id and 64-bit-size forms have their own numbers.
var i386Traps = []trap{
	{"stat64", opStat64}, {"lstat64", opLstat64}, {"fstatat64", opFstatat64},
	{"stat", opOldStat}, {"lstat", opOldStat}, {"oldstat", opOldStat}, {"oldlstat", opOldStat},
	{"chown", opOldStat}, {"lchown", opOldStat}, {"chown32", opChown}, {"lchown32", opLchown},
	{"truncate64", opOldStat}, {"statfs64", opOldStat}, {"fstatfs64", opLegacyFd},
	{"readdir", opLegacyFd}, {"utimensat_time64", opUtimensat},
	{"setuid32", opProcChange}, {"setgid32", opProcChange}, {"setreuid32", opProcChange},
	{"setregid32", opProcChange}, {"setresuid32", opProcChange}, {"setresgid32", opProcChange},
	{"setfsuid32", opProcChange}, {"setfsgid32", opProcChange}, {"setgroups32", opProcChange},
}

// fixedTraps are syscalls newer than the libseccomp on the build machine may
// know (2.5.4 has none of them). Numbers from 424 on are the same on every
// architecture, so they are trapped by number for x86_64 and i386 in a short
// hand-written prefix of the program.
var fixedTraps = []struct {
	nr   int32
	name string
	op   op
}{
	{463, "setxattrat", opXattrat}, {464, "getxattrat", opXattrat},
	{465, "listxattrat", opXattrat}, {466, "removexattrat", opXattrat},
	{467, "open_tree_attr", opRefuseAt}, {468, "file_getattr", opRefuseAt}, {469, "file_setattr", opRefuseAt},
}
