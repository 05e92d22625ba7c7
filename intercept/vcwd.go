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
// The table is keyed by thread-group id and validated with the process start
// time (pids are reused). It is empty unless some process needed it, and
// then only cwd-dependent calls pay the lookup (two small /proc reads).
// Limits: syscalls the filter does not trap (bind/connect of AF_UNIX paths)
// resolve relative paths from the stale kernel cwd; a child whose parent
// dropped its virtual cwd before the child's first lookup does not inherit.
type vcwdTable struct {
	n  atomic.Int32
	mu sync.Mutex
	m  map[int]vcwd
}

type vcwd struct {
	path   string // absolute path in the task's view
	start  uint64 // start time of the process (field 22 of /proc/PID/stat)
	anchor string // kernel cwd when it was set
}

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

// tgid returns the thread-group id of the task's thread.
func (t *task) tgid() int {
	if t.tgidVal != 0 {
		return t.tgidVal
	}
	b, err := os.ReadFile(t.procPath("status"))
	if err == nil {
		if _, rest, ok := strings.Cut(string(b), "\nTgid:"); ok {
			line, _, _ := strings.Cut(rest, "\n")
			if id, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
				t.tgidVal = id
				return id
			}
		}
	}
	t.tgidVal = t.tid
	return t.tid
}

// vcwd returns the task's virtual cwd, if it (or an ancestor it inherits
// from) has one.
func (t *task) vcwd() (string, bool) {
	tab := &t.s.vcwds
	if tab.n.Load() == 0 {
		return "", false
	}
	pid := t.tgid()
	kcwd, e := t.readlinkProc("cwd")
	if e != 0 {
		return "", false
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	// Walk up from the process to the nearest ancestor with an entry.
	var chain []int
	for p, depth := pid, 0; p > 1 && p != t.s.pid && depth < 64; depth++ {
		ppid, start, ok := procStat(p)
		if !ok {
			return "", false
		}
		if v, found := tab.m[p]; found {
			if v.start != start {
				tab.deleteLocked(p) // a reused pid
			} else {
				if v.anchor != kcwd {
					return "", false
				}
				for _, c := range chain { // inherit down the chain
					_, cs, ok := procStat(c)
					if ok {
						tab.m[c] = vcwd{path: v.path, start: cs, anchor: v.anchor}
						tab.n.Store(int32(len(tab.m)))
					}
				}
				return v.path, true
			}
		}
		chain = append(chain, p)
		p = ppid
	}
	return "", false
}

// setVcwd records path as the process's virtual cwd.
func (t *task) setVcwd(path string) {
	kcwd, e := t.readlinkProc("cwd")
	if e != 0 {
		return
	}
	pid := t.tgid()
	_, start, ok := procStat(pid)
	if !ok {
		return
	}
	tab := &t.s.vcwds
	tab.mu.Lock()
	defer tab.mu.Unlock()
	if tab.m == nil {
		tab.m = map[int]vcwd{}
	}
	tab.sweepLocked()
	tab.m[pid] = vcwd{path: path, start: start, anchor: kcwd}
	tab.n.Store(int32(len(tab.m)))
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

// deleteLocked removes one entry. Preconditions: tab.mu held.
func (tab *vcwdTable) deleteLocked(pid int) {
	delete(tab.m, pid)
	tab.n.Store(int32(len(tab.m)))
}

// sweepLocked drops entries of processes that are gone.
// Preconditions: tab.mu held.
func (tab *vcwdTable) sweepLocked() {
	for pid, v := range tab.m {
		if _, start, ok := procStat(pid); !ok || start != v.start {
			delete(tab.m, pid)
		}
	}
	tab.n.Store(int32(len(tab.m)))
}

// cwdDir is the directory relative AT_FDCWD paths start from: the virtual
// cwd, or the kernel's.
func (t *task) cwdDir() (string, bool, unix.Errno) {
	if v, ok := t.vcwd(); ok {
		return v, true, 0
	}
	p, e := t.readlinkProc("cwd")
	return p, false, e
}
