package intercept

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// task is the view of one trapped syscall: the notification, the thread that
// made it, and lazily computed facts about that thread. It lives for one
// notification on the receiving goroutine.
type task struct {
	w    *worker
	s    *supervisor
	n    *notif
	tid  int
	i386 bool
	op   op

	now int64 // supervisor clock when the notification arrived
	// unchecked: memory was read from the task since the last ID_VALID.
	unchecked bool

	cred      *vfs.Cred
	credUmask bool
	tgidVal   int
	// kcwd is the kernel cwd of the thread (readlink of /proc/TID/cwd),
	// read at most once per notification: kcwdErr, kcwdRead.
	kcwd     string
	kcwdErr  unix.Errno
	kcwdRead bool
	// trace fields for --verbose: a host path or raw string (path), or a
	// union path (traceUI, traceRel), joined only when a trace is written.
	path     string
	traceUI  *unionInfo
	traceRel string
	branch   int
	// sx, set while a statx(2) locates its path, makes attrOf look the
	// path up with statx (vfs.GetattrStatx). It points at the worker's
	// w.sx (scratch space: a task's own would be moved to the heap).
	sx *statxWant
}

// statxWant is what a statx(2) asks for, and the branch object's statx
// when the search itself produced it (filled).
type statxWant struct {
	flags  int
	mask   uint32
	filled bool
	stx    unix.Statx_t
}

// tracePath is the path shown in --verbose traces.
func (t *task) tracePath() string {
	if t.traceUI != nil {
		if t.traceRel == "" {
			return t.traceUI.target
		}
		return t.traceUI.target + "/" + t.traceRel
	}
	return t.path
}

// kernelCwd returns the thread's kernel working directory.
func (t *task) kernelCwd() (string, unix.Errno) {
	if !t.kcwdRead {
		t.kcwd, t.kcwdErr = t.readlinkProc("cwd")
		t.kcwdRead = true
	}
	return t.kcwd, t.kcwdErr
}

// --- arguments --------------------------------------------------------------

// argInt decodes an int-typed argument (fds, flags, modes): the kernel reads
// 32 bits of it on both ABIs, so AT_FDCWD from i386 is -100 too.
func (t *task) argInt(i int) int { return int(int32(t.n.Args[i])) }

// argLong decodes a long (sizes, lengths): 64 bits on x86_64, 32 on i386.
func (t *task) argLong(i int) int64 {
	if t.i386 {
		return int64(int32(t.n.Args[i]))
	}
	return int64(t.n.Args[i])
}

func (t *task) argPtr(i int) uint64 {
	if t.i386 {
		return t.n.Args[i] & 0xffffffff
	}
	return t.n.Args[i]
}

// valid runs NOTIF_ID_VALID: after reading the task's memory, the bytes
// only mean something if the syscall is still pending (no pid reuse, no
// signal that aborted it).
func (t *task) valid() bool {
	if !notifIDValid(t.s.fd, t.n.ID) {
		return false
	}
	t.unchecked = false
	return true
}

// --- memory -----------------------------------------------------------------

const (
	pageSize   = 4096
	firstChunk = 256
)

// readString reads a NUL-terminated string of at most max bytes (the NUL
// excluded) page by page, so an unmapped page after a short string never
// fails the read. Errnos: EFAULT, ENAMETOOLONG, ESRCH, EPERM.
func (t *task) readString(addr uint64, max int) (string, unix.Errno) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	buf := t.w.buf[:0]
	for len(buf) <= max {
		chunk := pageSize - int(addr%pageSize)
		if len(buf) == 0 && chunk > firstChunk {
			chunk = firstChunk // most paths are short: do not copy a page for them
		}
		if room := max + 1 - len(buf); chunk > room {
			chunk = room
		}
		dst := t.w.buf[len(buf) : len(buf)+chunk]
		n, e := t.readInto(addr, dst)
		if e != 0 {
			return "", e
		}
		t.unchecked = true
		if i := bytes.IndexByte(dst[:n], 0); i >= 0 {
			return string(buf[:len(buf)+i]), 0
		}
		if n < chunk {
			return "", unix.EFAULT
		}
		buf = buf[:len(buf)+n]
		addr += uint64(n)
	}
	return "", unix.ENAMETOOLONG
}

// readPair reads two short strings, a path and an attribute name, with
// one process_vm_readv of their first chunks: a getxattr of a union path
// then costs one read of the task's memory, not two. ok is false when
// either string does not end within its chunk or the read fails; the
// caller then reads them one by one (and meets the same errors there).
func (t *task) readPair(a1, a2 uint64, max2 int) (s1, s2 string, ok bool) {
	if a1 == 0 || a2 == 0 {
		return "", "", false
	}
	c1 := min(firstChunk, pageSize-int(a1%pageSize))
	c2 := min(firstChunk, pageSize-int(a2%pageSize), max2+1)
	local := [2]unix.Iovec{{Base: &t.w.buf[0], Len: uint64(c1)}, {Base: &t.w.lbuf[0], Len: uint64(c2)}}
	remote := [2]unix.RemoteIovec{{Base: uintptr(a1), Len: c1}, {Base: uintptr(a2), Len: c2}}
	n, err := unix.ProcessVMReadv(t.tid, local[:], remote[:], 0)
	if err != nil || n != c1+c2 {
		return "", "", false
	}
	t.unchecked = true
	i := bytes.IndexByte(t.w.buf[:c1], 0)
	j := bytes.IndexByte(t.w.lbuf[:c2], 0)
	if i < 0 || j < 0 {
		return "", "", false
	}
	return string(t.w.buf[:i]), string(t.w.lbuf[:j]), true
}

func (t *task) readInto(addr uint64, dst []byte) (int, unix.Errno) {
	if len(dst) == 0 {
		return 0, 0
	}
	local := []unix.Iovec{{Base: &dst[0], Len: uint64(len(dst))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(dst)}}
	n, err := unix.ProcessVMReadv(t.tid, local, remote, 0)
	if err != nil {
		return 0, errnoOf(err)
	}
	return n, 0
}

// readBytes reads exactly n bytes. Errnos: EFAULT, ESRCH, EPERM.
func (t *task) readBytes(addr uint64, n int) ([]byte, unix.Errno) {
	b := make([]byte, n)
	got, e := t.readInto(addr, b)
	if e != 0 {
		return nil, e
	}
	t.unchecked = true
	if got != n {
		return nil, unix.EFAULT
	}
	return b, 0
}

// write copies b into the task's memory with process_vm_writev, which
// honours page protections, so a read-only buffer fails with EFAULT as the
// kernel's own copy_to_user would.
func (t *task) write(addr uint64, b []byte) unix.Errno {
	if len(b) == 0 {
		return 0
	}
	if addr == 0 {
		return unix.EFAULT
	}
	local := []unix.Iovec{{Base: &b[0], Len: uint64(len(b))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	n, err := unix.ProcessVMWritev(t.tid, local, remote, 0)
	if err != nil {
		return errnoOf(err)
	}
	if n != len(b) {
		return unix.EFAULT
	}
	return 0
}

// writeForce writes through /proc/TID/mem, which (FOLL_FORCE) also reaches
// read-only mappings: string literals a path rewrite must change.
func (t *task) writeForce(addr uint64, b []byte) unix.Errno {
	if e := t.write(addr, b); e == 0 {
		return 0
	}
	f, err := os.OpenFile("/proc/"+strconv.Itoa(t.tid)+"/mem", os.O_WRONLY, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer f.Close()
	n, err := f.WriteAt(b, int64(addr))
	if err != nil {
		return errnoOf(err)
	}
	if n != len(b) {
		return unix.EFAULT
	}
	return 0
}

// --- /proc ------------------------------------------------------------------

func (t *task) procPath(rest string) string {
	return "/proc/" + strconv.Itoa(t.tid) + "/" + rest
}

// readlinkProc reads a magic link of the task (cwd, fd/N, exe).
func (t *task) readlinkProc(rest string) (string, unix.Errno) {
	buf := t.w.lbuf[:]
	n, err := unix.Readlink(t.procPath(rest), buf)
	if err != nil {
		return "", errnoOf(err)
	}
	if n >= len(buf) {
		return "", unix.ENAMETOOLONG
	}
	return string(buf[:n]), 0
}

// base returns the directory a relative path of an *at call starts from:
// the thread's cwd for AT_FDCWD, else the path of dirfd. The thread id is
// used, not the tgid: cwd and fd tables can be per thread.
// virtual is set when the base is a virtual cwd (see vcwd.go): the kernel's
// own cwd is stale, so nothing relative to it may be CONTINUEd.
func (t *task) base(dirfd int) (base string, virtual bool, e unix.Errno) {
	if dirfd == unix.AT_FDCWD {
		return t.cwdDir()
	}
	if dirfd < 0 {
		return "", false, unix.EBADF
	}
	p, e := t.readlinkProc("fd/" + strconv.Itoa(dirfd))
	return p, false, e
}

// --- identity ---------------------------------------------------------------

// creds returns the identity emulated operations run with. An unprivileged
// supervisor can only act as itself, which is the workload's identity (the
// workload cannot change ids under no_new_privs), so only the umask is read
// from the task. As root, the ids come from /proc/TID/status: fs ids for
// file operations, real ids (real=true) for access(2) without AT_EACCESS.
// They are cached per thread (credCache); the umask, which any thread of the
// process may change with an untrapped umask(2), is read afresh whenever a
// create needs it.
func (t *task) creds(needUmask, real bool) *vfs.Cred {
	if !real && t.cred != nil && (t.credUmask || !needUmask) {
		return t.cred
	}
	// The Cred structs live in the worker (vfs keeps no reference past a
	// call), so the hot path allocates nothing for them.
	if !t.s.root {
		c := &t.w.cred
		*c = vfs.Cred{Uid: uint32(t.s.euid), Gid: uint32(t.s.egid), Pid: int32(t.tid)}
		if needUmask {
			if ids, ok := t.ids(true); ok {
				c.Umask = ids.umask
			}
		}
		t.cred, t.credUmask = c, needUmask
		return c
	}
	ids, ok := t.ids(needUmask)
	if !ok {
		c := &t.w.cred
		*c = vfs.Cred{Uid: uint32(t.s.euid), Gid: uint32(t.s.egid), Pid: int32(t.tid)}
		return c
	}
	if real {
		c := &t.w.rcred
		*c = vfs.Cred{Uid: ids.ruid, Gid: ids.rgid, Groups: ids.groups, Umask: ids.umask, Pid: int32(t.tid)}
		return c
	}
	c := &t.w.cred
	*c = vfs.Cred{Uid: ids.fsuid, Gid: ids.fsgid, Groups: ids.groups, Umask: ids.umask, Pid: int32(t.tid)}
	t.cred, t.credUmask = c, needUmask
	return c
}

// procIDs are the identity fields of /proc/TID/status.
type procIDs struct {
	ruid, fsuid, rgid, fsgid uint32
	groups                   []uint32
	umask                    uint32
}

func (t *task) readStatus() (procIDs, bool) {
	b, err := os.ReadFile(t.procPath("status"))
	if err != nil {
		return procIDs{}, false
	}
	var ids procIDs
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "Umask":
			m, _ := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			ids.umask = uint32(m)
		case "Uid", "Gid":
			f := strings.Fields(v)
			if len(f) != 4 {
				return procIDs{}, false
			}
			r, _ := strconv.ParseUint(f[0], 10, 32)
			fs, _ := strconv.ParseUint(f[3], 10, 32)
			if k == "Uid" {
				ids.ruid, ids.fsuid = uint32(r), uint32(fs)
			} else {
				ids.rgid, ids.fsgid = uint32(r), uint32(fs)
			}
		case "Groups":
			for _, g := range strings.Fields(v) {
				id, _ := strconv.ParseUint(g, 10, 32)
				ids.groups = append(ids.groups, uint32(id))
			}
		}
	}
	return ids, true
}

// ids returns the thread's ids (and umask) from /proc/TID/status, through
// the cache; with needUmask, not from the cache while a umask(2) call may be
// in flight (umaskWatch). Reading the status file costs 5-15 µs, about a
// quarter of an emulated create when it was read for every one.
func (t *task) ids(needUmask bool) (procIDs, bool) {
	if !needUmask || t.s.umask.pending.Load() == 0 {
		if ids, ok := t.s.creds.get(t.tid); ok {
			return ids, true
		}
	}
	gen := t.s.creds.generation()
	ids, ok := t.readStatus()
	if ok {
		t.s.creds.put(t.tid, ids, gen)
	}
	return ids, ok
}

// credCache holds the ids and umask of each thread seen. A thread's ids
// change only through its own set*id/capset calls or an exec, its umask
// through umask(2) (of any thread sharing it), and a tid can only be reused
// after a clone: all of those are trapped (opProcChange, execve, opUmask)
// and drop the cache before the kernel runs them. An entry read from the
// status file before such a drop is not stored (gen), so none is stale.
type credCache struct {
	mu  sync.Mutex
	m   map[int]procIDs
	gen uint64 // drops so far
}

func (c *credCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *credCache) get(tid int) (procIDs, bool) {
	c.mu.Lock()
	ids, ok := c.m[tid]
	c.mu.Unlock()
	return ids, ok
}

// put stores ids read at generation gen, unless the cache was dropped since.
func (c *credCache) put(tid int, ids procIDs, gen uint64) {
	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		return
	}
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[int]procIDs{}
	}
	c.m[tid] = ids
	c.mu.Unlock()
}

func (c *credCache) reset() {
	c.mu.Lock()
	c.m = nil
	c.gen++
	c.mu.Unlock()
}

// umaskWatch tracks umask(2) calls. The filter traps them, but the new mask
// takes effect only after the supervisor has answered CONTINUE: until the
// calling thread traps again (its umask call has then returned), umasks are
// read from the status file, not the cache, and the cache is dropped once
// more when it does. A thread that never traps again keeps the cache off
// for umasks, which is slower but right.
type umaskWatch struct {
	pending atomic.Int32 // len(tids) (+1 once full), read without the lock on every notification
	mu      sync.Mutex
	tids    map[int]struct{}
	full    bool // more threads changed their umask at once than tids holds: the cache stays off for umasks
}

// changing records that thread tid is about to change its umask.
func (u *umaskWatch) changing(tid int, c *credCache) {
	u.mu.Lock()
	if u.tids == nil {
		u.tids = map[int]struct{}{}
	}
	if _, ok := u.tids[tid]; !ok {
		switch {
		case len(u.tids) < 4096:
			u.tids[tid] = struct{}{}
			u.pending.Add(1)
		case !u.full:
			u.full = true
			u.pending.Add(1)
		}
	}
	u.mu.Unlock()
	c.reset()
}

// settled is called for every notification while umask calls are pending:
// one from tid means tid's umask call has returned.
func (u *umaskWatch) settled(tid int, c *credCache) {
	u.mu.Lock()
	_, ok := u.tids[tid]
	if ok {
		delete(u.tids, tid)
		u.pending.Add(-1)
	}
	u.mu.Unlock()
	if ok {
		c.reset()
	}
}
