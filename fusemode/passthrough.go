package fusemode

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// Kernel FUSE passthrough (passthrough.io=ro|wo|rw): the branch fd of an open
// is registered with the kernel as a backing file (FUSE_DEV_IOC_BACKING_OPEN)
// and the open is answered with FOPEN_PASSTHROUGH and its backing id. The
// kernel then reads, writes, splices and mmaps the branch file itself; READ
// and WRITE never reach the daemon.
//
// The kernel's rules, all per FUSE inode (fs/fuse/iomode.c):
//
//   - one backing file per inode: a second open with another backing id
//     fails (EBUSY, shown to the caller as EIO);
//   - while an inode has a backing file, every open of it must be
//     FOPEN_PASSTHROUGH, whatever its access mode (EIO otherwise);
//   - a passthrough open of an inode that has caching opens (page cache in
//     use) fails (ETXTBSY → EIO), and FOPEN_KEEP_CACHE may not accompany
//     FOPEN_PASSTHROUGH.
//
// So each node keeps one shared backing id with a count of the handles
// using it (backingTable), registered by the first passthrough open and
// unregistered when the last of them is released (RELEASE arrives after
// the kernel dropped its own reference). Decisions are taken per node under
// one mutex, against counts that include opens not yet answered:
//
//   - node already passthrough → this open too, sharing the id, even if
//     the mode does not cover it (mergerfs does the same: "if a file has been
//     opened and passthrough enabled ... mergerfs must also enable
//     passthrough for the second open");
//   - node open without passthrough → this open stays normal I/O, even if
//     the mode covers it; passthrough starts with the next open after all
//     handles of the node are closed;
//   - otherwise the mode decides: ro covers O_RDONLY opens, wo O_WRONLY,
//     rw all three access modes.
//
// A registration the kernel refuses (a branch on a stacked filesystem deeper
// than passthrough.max-stack-depth: ELOOP; a file without read_iter/
// write_iter: EINVAL) falls back to normal I/O for that open and is logged
// once per branch and errno. Conditions that hold for the whole mount (not
// root, a kernel without passthrough) fail Mount instead.

// backing is the passthrough state of one node.
type backing struct {
	id       int32  // kernel backing id while pt > 0
	dev, ino uint64 // the branch file registered
	pt       int    // handles served with passthrough (answered or not)
	plain    int    // handles served by the daemon
	warned   bool   // a mismatching branch file was logged for this node
}

type backingTable struct {
	mu     sync.Mutex
	m      map[*node]*backing
	warned map[backingFailure]bool
}

type backingFailure struct {
	branch int
	errno  unix.Errno
}

func newBackingTable() *backingTable {
	return &backingTable{m: map[*node]*backing{}, warned: map[backingFailure]bool{}}
}

// passthroughOn reports whether passthrough.io asks for passthrough.
func passthroughOn(m config.PassthroughIO) bool {
	return m != "" && m != config.PassthroughOff
}

// covers reports whether passthrough mode m applies to an open with the
// kernel's open flags.
func covers(m config.PassthroughIO, kflags uint32) bool {
	switch kflags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return m == config.PassthroughRO || m == config.PassthroughRW
	case unix.O_WRONLY:
		return m == config.PassthroughWO || m == config.PassthroughRW
	}
	return m == config.PassthroughRW
}

// passthrough decides whether the new handle of n (file f, the kernel's
// open flags kflags) is served by kernel passthrough, registering f's fd as
// the node's backing file if needed. It returns the backing id (0: normal
// I/O). Every call must be paired with endPassthrough(n, id != 0) once the
// handle is released.
func (r *rawFS) passthrough(n *node, f *vfs.File, kflags uint32) int32 {
	t := r.backings
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[n]
	if b == nil {
		b = &backing{}
		t.m[n] = b
	}
	switch {
	case b.pt > 0:
		b.pt++
		r.checkSameBacking(n, b, f)
		return b.id
	case b.plain > 0 || !covers(r.ptMode, kflags):
		b.plain++
		return 0
	}
	var st unix.Stat_t
	if err := unix.Fstat(f.Fd(), &st); err != nil {
		b.plain++
		return 0
	}
	id, errno := r.srv.RegisterBackingFd(&fuse.BackingMap{Fd: int32(f.Fd())})
	r.stats.backingOpens.Add(1)
	if errno != 0 || id <= 0 {
		r.backingRefused(f, unix.Errno(errno))
		b.plain++
		return 0
	}
	b.id, b.dev, b.ino, b.pt = id, st.Dev, st.Ino, 1
	return id
}

// checkSameBacking logs (once per node) an open that reached another branch
// file than the one the node's passthrough reads and writes: the search
// policy picked another copy while the node was open. The kernel insists on
// the node's backing file, so reads and writes keep going there.
// Preconditions: t.mu held.
func (r *rawFS) checkSameBacking(n *node, b *backing, f *vfs.File) {
	var st unix.Stat_t
	if b.warned || unix.Fstat(f.Fd(), &st) != nil || st.Dev == b.dev && st.Ino == b.ino {
		return
	}
	b.warned = true
	r.log.Warn("fusemode: passthrough: a second open of a file reached another branch copy; "+
		"reads and writes go to the copy opened first", "path", f.Rel(), "branch", f.Branch())
}

// backingRefused logs, once per branch and errno, a backing file the kernel
// would not take. Preconditions: t.mu held.
func (r *rawFS) backingRefused(f *vfs.File, e unix.Errno) {
	k := backingFailure{f.Branch(), e}
	if r.backings.warned[k] {
		return
	}
	r.backings.warned[k] = true
	why := e.Error()
	switch e {
	case unix.ELOOP:
		why = fmt.Sprintf("the branch is on a stacked filesystem (overlayfs, a FUSE mount using passthrough) deeper than "+
			"passthrough.max-stack-depth=%d allows; try passthrough.max-stack-depth=2", r.options().PassthroughMaxStackDepth)
	case unix.EPERM:
		why = "the kernel refused the backing file (needs CAP_SYS_ADMIN and a passthrough-enabled mount)"
	case unix.EINVAL:
		why = "the branch filesystem does not support passthrough I/O on this file"
	}
	r.log.Warn("fusemode: passthrough refused; using normal I/O for files of this branch that meet the same refusal",
		"branch", f.Branch(), "path", f.Rel(), "errno", e, "why", why)
}

// endPassthrough drops the count a handle held: the backing id goes when the
// last passthrough handle of the node is released.
func (r *rawFS) endPassthrough(n *node, pt bool) {
	t := r.backings
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[n]
	if b == nil {
		return
	}
	if !pt {
		b.plain--
	} else if b.pt--; b.pt == 0 {
		if errno := r.srv.UnregisterBackingFd(b.id); errno != 0 {
			r.log.Warn("fusemode: passthrough: unregistering a backing file", "id", b.id, "errno", unix.Errno(errno))
		}
		b.id, b.warned = 0, false
	}
	if b.pt <= 0 && b.plain <= 0 {
		delete(t.m, n)
	}
}

// backingOf returns the backing id and passthrough handle count of n, for tests.
func (r *rawFS) backingOf(n *node) (int32, int) {
	r.backings.mu.Lock()
	defer r.backings.mu.Unlock()
	if b := r.backings.m[n]; b != nil {
		return b.id, b.pt
	}
	return 0, 0
}

// passthroughMountCheck says why a process without CAP_SYS_ADMIN (sysAdmin
// false) cannot use passthrough at all: registering a backing file needs it.
func passthroughMountCheck(o *config.Options, sysAdmin bool) error {
	if !passthroughOn(o.PassthroughIO) {
		return nil
	}
	if !sysAdmin {
		return fmt.Errorf("passthrough.io=%s: kernel FUSE passthrough needs root (CAP_SYS_ADMIN) to register "+
			"branch files as backing files (FUSE_DEV_IOC_BACKING_OPEN); run mfs as root or use passthrough.io=off",
			o.PassthroughIO)
	}
	return nil
}

// passthroughKernelCheck says why the kernel that sent INIT in will not do
// passthrough: it did not offer FUSE_PASSTHROUGH (Linux < 6.9, or built
// without CONFIG_FUSE_PASSTHROUGH).
func passthroughKernelCheck(o *config.Options, in *fuse.InitIn) error {
	if !passthroughOn(o.PassthroughIO) {
		return nil
	}
	if in.Flags64()&fuse.CAP_PASSTHROUGH != 0 {
		return nil
	}
	var u unix.Utsname
	unix.Uname(&u)
	return fmt.Errorf("passthrough.io=%s: the kernel does not offer FUSE passthrough (FUSE protocol %d.%d, "+
		"Linux %s); it needs Linux 6.9 or later built with CONFIG_FUSE_PASSTHROUGH; use passthrough.io=off",
		o.PassthroughIO, in.Major, in.Minor, unix.ByteSliceToString(u.Release[:]))
}

// hasCapSysAdmin reads the effective capability set from /proc/self/status.
func hasCapSysAdmin() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("CapEff:")); ok {
			caps, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_ADMIN) != 0
		}
	}
	return os.Geteuid() == 0
}
