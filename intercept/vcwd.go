package intercept

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Virtual working directories.
//
// No syscall changes another process's cwd, so chdir must run in the task.
// When the task's own path string already leads the kernel to a branch copy
// of the union directory (or to the host directory meant), chdir is
// CONTINUEd and the kernel cwd, mapped back through the branch table, is the
// union path. Otherwise (the target does not exist on disk, so the string
// cannot lead there, and a seccomp supervisor cannot change the pointer
// register) the supervisor records a virtual cwd for the process and answers
// 0, as proot does for its tracees. The task's string is never rewritten:
// it may be an interned constant or a shell's own record of $PWD.
//
// While a process has a virtual cwd, every syscall that depends on its cwd
// (relative paths with AT_FDCWD, getcwd, readlink of /proc/self/cwd) is
// emulated from it, never CONTINUEd. A child inherits the virtual cwd of its
// nearest ancestor that has one, provided its kernel cwd is still the one
// the ancestor had when the virtual cwd was set (so a child that changed
// directory natively is left alone). A chdir that the kernel can perform
// itself, and every fchdir, clear it.
//
// The table is keyed by thread-group id; each entry holds a pidfd of the
// process it was made for, so it is valid exactly while that process lives
// (a pid is reused only after its owner has exited, and the pidfd then
// polls readable): one poll, no /proc read. It is empty unless some process
// needed it, and then only cwd-dependent calls pay the lookup: a readlink of
// the kernel cwd and, when that is the anchor of some entry (the only case in
// which there is something to inherit), a walk up the process's ancestors
// to the nearest entry (one /proc/PID/stat read per ancestor without one;
// the entry the process inherits is then its own).
// Limits: syscalls the filter does not trap (bind/connect of AF_UNIX paths)
// resolve relative paths from the stale kernel cwd; a child whose parent
// dropped its virtual cwd before the child's first lookup does not inherit.
type vcwdTable struct {
	n       atomic.Int32
	mu      sync.Mutex
	m       map[int]*vcwd
	anchors map[string]int // anchor → number of entries with it
}

type vcwd struct {
	path   string // absolute path in the task's view
	anchor string // kernel cwd when it was set
	pidfd  int    // the process the entry belongs to
}

// vcwdMax bounds the table; beyond it, entries of exited processes are
// swept before one is added.
const vcwdMax = 512

// procStat returns ppid and start time of pid.
func procStat(pid int) (ppid int, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(f) < 20 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return ppid, start, true
}

// tgid returns the thread-group id of the task's thread. A thread-group
// leader (most notifications come from one) is recognised with a signal-0
// tgkill, which fails unless tid leads the group tid; other threads cost a
// read of /proc/TID/status.
func (t *task) tgid() int {
	if t.tgidVal != 0 {
		return t.tgidVal
	}
	if unix.Tgkill(t.tid, t.tid, 0) == nil {
		t.tgidVal = t.tid
		return t.tid
	}
	if id, ok := t.s.tgids.get(t.tid); ok {
		t.tgidVal = id
		return id
	}
	b, err := os.ReadFile(t.procPath("status"))
	if err == nil {
		if _, rest, ok := strings.Cut(string(b), "\nTgid:"); ok {
			line, _, _ := strings.Cut(rest, "\n")
			if id, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
				t.tgidVal = id
				t.s.tgids.put(t.tid, id)
				return id
			}
		}
	}
	t.tgidVal = t.tid
	return t.tid
}

// tgidCache maps the tids of non-leader threads to their thread group. A
// tid names the same thread until that thread exits and the number is
// given to a new task; a new task of the workload comes from a clone, fork
// or exec (de_thread renumbers) of the workload, all trapped, which drop the
// cache before the kernel runs them. A task that is not the workload's
// never sends a notification, so its tid is never looked up.
type tgidCache struct {
	mu sync.Mutex
	m  map[int]int
}

func (c *tgidCache) get(tid int) (int, bool) {
	c.mu.Lock()
	id, ok := c.m[tid]
	c.mu.Unlock()
	return id, ok
}

func (c *tgidCache) put(tid, tgid int) {
	c.mu.Lock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[int]int{}
	}
	c.m[tid] = tgid
	c.mu.Unlock()
}

func (c *tgidCache) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// nsTgid returns the thread-group id of the task in its own PID namespace
// (the last NStgid field of its status; the host tgid without namespaces).
func (t *task) nsTgid() int {
	b, err := os.ReadFile(t.procPath("status"))
	if err == nil {
		if _, rest, ok := strings.Cut(string(b), "\nNStgid:"); ok {
			line, _, _ := strings.Cut(rest, "\n")
			f := strings.Fields(line)
			if len(f) > 0 {
				if id, err := strconv.Atoi(f[len(f)-1]); err == nil {
					return id
				}
			}
		}
	}
	return t.tgid()
}

// vcwd returns the task's virtual cwd, if it (or an ancestor it inherits
// from) has one.
func (t *task) vcwd() (string, bool) {
	if t.s.vcwds.n.Load() == 0 {
		return "", false
	}
	kcwd, e := t.kernelCwd()
	if e != 0 {
		return "", false
	}
	return t.s.vcwdOf(t.tgid(), kcwd)
}

// vcwdOf returns the virtual cwd of process pid (a host pid) whose kernel
// cwd is kcwd.
func (s *supervisor) vcwdOf(pid int, kcwd string) (string, bool) {
	tab := &s.vcwds
	if tab.n.Load() == 0 {
		return "", false
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	if tab.anchors[kcwd] == 0 {
		return "", false // no entry to find or inherit with this kernel cwd
	}
	// Walk up from the process to the nearest ancestor with an entry.
	var chain []int
	for p, depth := pid, 0; p > 1 && p != s.pid && depth < 64; depth++ {
		if v := tab.m[p]; v != nil {
			if pidfdAlive(v.pidfd) {
				if v.anchor != kcwd {
					return "", false
				}
				for _, c := range chain { // inherit down the chain
					tab.addLocked(c, v.path, v.anchor)
				}
				return v.path, true
			}
			tab.deleteLocked(p) // its process is gone; p is someone else
		}
		ppid, _, ok := procStat(p)
		if !ok {
			return "", false
		}
		chain = append(chain, p)
		p = ppid
	}
	return "", false
}

// pidfdAlive reports whether the process of a pidfd has not exited.
func pidfdAlive(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 0
	}
}

// setVcwd records path as the process's virtual cwd.
func (t *task) setVcwd(path string) {
	kcwd, e := t.kernelCwd()
	if e != 0 {
		return
	}
	pid := t.tgid()
	tab := &t.s.vcwds
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.addLocked(pid, path, kcwd)
}

// clearVcwd forgets the process's virtual cwd (its kernel cwd is right again).
func (t *task) clearVcwd() {
	tab := &t.s.vcwds
	if tab.n.Load() == 0 {
		return
	}
	pid := t.tgid()
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.deleteLocked(pid)
}

// addLocked records (or replaces) the entry of process pid.
// Preconditions: tab.mu held.
func (tab *vcwdTable) addLocked(pid int, path, anchor string) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already
	}
	if tab.m == nil {
		tab.m = map[int]*vcwd{}
		tab.anchors = map[string]int{}
	}
	tab.deleteLocked(pid)
	if len(tab.m) >= vcwdMax {
		tab.sweepLocked()
	}
	tab.m[pid] = &vcwd{path: path, anchor: anchor, pidfd: fd}
	tab.anchors[anchor]++
	tab.n.Store(int32(len(tab.m)))
}

// deleteLocked removes one entry. Preconditions: tab.mu held.
func (tab *vcwdTable) deleteLocked(pid int) {
	v := tab.m[pid]
	if v == nil {
		return
	}
	unix.Close(v.pidfd)
	if tab.anchors[v.anchor]--; tab.anchors[v.anchor] <= 0 {
		delete(tab.anchors, v.anchor)
	}
	delete(tab.m, pid)
	tab.n.Store(int32(len(tab.m)))
}

// sweepLocked drops entries of processes that are gone.
// Preconditions: tab.mu held.
func (tab *vcwdTable) sweepLocked() {
	for pid, v := range tab.m {
		if !pidfdAlive(v.pidfd) {
			tab.deleteLocked(pid)
		}
	}
}

// closeAll releases every entry (the run is over).
func (tab *vcwdTable) closeAll() {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	for pid := range tab.m {
		tab.deleteLocked(pid)
	}
}

// cwdDir is the directory relative AT_FDCWD paths start from: the virtual
// cwd, or the kernel's.
func (t *task) cwdDir() (string, bool, unix.Errno) {
	kcwd, e := t.kernelCwd()
	if e != 0 {
		return "", false, e
	}
	if t.s.vcwds.n.Load() != 0 {
		if v, ok := t.s.vcwdOf(t.tgid(), kcwd); ok {
			return v, true, 0
		}
	}
	return kcwd, false, 0
}
