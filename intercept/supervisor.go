package intercept

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// supervisor answers the notifications of one listener.
//
// Threads: one receiving goroutine, locked to its OS thread, loops RECV →
// decide → reply inline (INTERCEPT.md §1: every extra thread blocked in RECV
// and every hand-off to another thread slows each call). Before an operation
// known to block indefinitely (opening a FIFO), the receiver hands RECV over
// to a new receiving goroutine (handOver) and, once it has replied, exits:
// at most one goroutine waits in RECV at any time. Operations that block
// unexpectedly (a hung network branch, a slow disk under create) are caught
// by a watchdog: a receiver busy with one notification for longer than
// stallAfter gets the same hand-over, so one stuck branch call never stalls
// the rest of the workload for longer than that. The hot path pays two
// atomic stores and a clock read for it.
//
// Shared state: unions and resolver are read-only after start; dirs, vcwds
// and creds have their own mutexes; counters are atomic.
type supervisor struct {
	ctx      context.Context
	fd       int
	prog     *program
	unions   []*unionInfo
	resolver vfs.Resolver
	log      *slog.Logger
	verbose  bool
	// profiling: the CPU profiler runs, whose SIGPROF must reach the
	// receivers' threads (they do not block signals then).
	profiling bool
	euid      int
	egid      int
	root      bool

	pid   int // the supervisor's own pid: the top of the workload's process tree
	wg    sync.WaitGroup
	stop  chan struct{} // closed when every receiver has exited
	mu    sync.Mutex    // guards live
	live  map[*worker]struct{}
	epoch time.Time // base of worker.busy
	dirs  dirCache
	vcwds vcwdTable
	creds credCache
	tgids tgidCache
	umask umaskWatch

	// initPid is the (host) pid of the stub when it is init of the
	// workload's PID namespace, else 0: pids the workload names (in /proc
	// paths) are then pids of that namespace, seen through initPid's /proc.
	initPid int
	// userns: the workload runs in a user namespace that maps only the
	// supervisor's own uid and gid; other ids show as the overflow ids
	// (65534) there, and emulated results follow suit.
	userns bool

	warnOnce sync.Map // string → struct{}: one-time warnings
	stats    stats
}

type stats struct {
	notifs    atomic.Uint64
	continued atomic.Uint64
	emulated  atomic.Uint64
	handovers atomic.Uint64
	busyNanos atomic.Int64
	byOp      [numOps]opCounters
}

type opCounters struct {
	n        atomic.Uint64
	emulated atomic.Uint64
	nanos    atomic.Int64
}

// stallAfter is how long one notification may occupy the receiver before
// the watchdog hands RECV to a new receiver.
const stallAfter = 20 * time.Millisecond

// worker is the per-goroutine scratch space of a receiver.
type worker struct {
	s      *supervisor
	n      notif
	buf    [unix.PathMax + 1]byte
	lbuf   [unix.PathMax + 1]byte
	cred   vfs.Cred      // the identity of the notification being handled
	rcred  vfs.Cred      // its real ids (access without AT_EACCESS)
	busy   atomic.Int64  // monotonic ns when the current notification arrived; 0 idle
	id     atomic.Uint64 // id of the notification being handled (for the watchdog)
	handed atomic.Bool   // another receiver owns RECV now
	masked bool          // the thread blocks signals (blockSignals)
	// cancel, while set, unblocks the operation in progress; the watchdog
	// calls it once the task it serves is gone.
	cancel atomic.Pointer[func()]
	// found is what the last stat-family call found in a union (attrOf),
	// kept only until a notification other than getxattr or lgetxattr:
	// `ls -l` reads two attributes of each entry right after its statx,
	// and those reads go straight to that branch (vfs.GetxattrFound).
	found foundObj
	sx    statxWant // the statx(2) being answered (task.sx)
}

// foundObj is a union object a thread's stat-family call just found.
type foundObj struct {
	ok  bool
	tid int
	ui  *unionInfo
	rel string
	a   vfs.Attr
}

func newSupervisor(ctx context.Context, fd int, prog *program, unions []*unionInfo, log *slog.Logger, verbose bool) *supervisor {
	s := &supervisor{
		ctx:     ctx,
		fd:      fd,
		prog:    prog,
		unions:  unions,
		log:     log,
		verbose: verbose,
		pid:     os.Getpid(),
		stop:    make(chan struct{}),
		live:    map[*worker]struct{}{},
		epoch:   time.Now(),
		euid:    os.Geteuid(),
		egid:    os.Getegid(),
	}
	s.root = s.euid == 0
	for _, u := range unions {
		s.resolver.Unions = append(s.resolver.Unions, *u.u)
	}
	// The resolver's Union pointers must be the ones locate compares with.
	for i := range s.unions {
		s.unions[i].u = &s.resolver.Unions[i]
	}
	return s
}

// start launches the first receiver and the watchdog.
func (s *supervisor) start() {
	s.wg.Add(1)
	go s.receive()
	go s.watchdog()
}

// wait returns when every receiver has seen the listener hang up.
func (s *supervisor) wait() {
	s.wg.Wait()
	close(s.stop)
}

func (s *supervisor) now() int64 { return int64(time.Since(s.epoch)) + 1 }

// watchdog hands RECV over from a receiver stuck on one notification.
func (s *supervisor) watchdog() {
	tick := time.NewTicker(stallAfter)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		now := s.now()
		s.mu.Lock()
		for w := range s.live {
			b := w.busy.Load()
			if b == 0 || now-b <= int64(stallAfter) {
				continue
			}
			if w.handed.CompareAndSwap(false, true) {
				s.stats.handovers.Add(1)
				s.wg.Add(1)
				go s.receive()
			}
			if c := w.cancel.Load(); c != nil && !notifIDValid(s.fd, w.id.Load()) && w.cancel.CompareAndSwap(c, nil) {
				go (*c)()
			}
		}
		s.mu.Unlock()
	}
}

func (s *supervisor) receive() {
	defer s.wg.Done()
	runtime.LockOSThread()
	// Unlock on return; a handler that left the thread in a state it could
	// not restore (vfs drops such threads) keeps its own lock count, and the
	// runtime then ends the thread with the goroutine.
	defer runtime.UnlockOSThread()
	w := &worker{s: s}
	if !s.profiling {
		if old, e := blockSignals(); e == 0 {
			w.masked = true
			defer restoreSignals(&old) // before the unlock
		}
	}
	s.mu.Lock()
	s.live[w] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.live, w)
		s.mu.Unlock()
	}()
	yielded := s.now()
	for {
		switch e := notifRecv(s.fd, &w.n); e {
		case 0:
		case unix.EINTR:
			continue
		case unix.ENOENT:
			// The task was interrupted before we received, or (6.x) the last
			// filtered task is gone: POLLHUP tells which.
			if s.hungUp() {
				return
			}
			continue
		default:
			if e != unix.EBADF {
				s.log.Error("mfs run: seccomp receive failed", "err", e)
			}
			return
		}
		done := w.handle()
		if w.handed.Load() {
			return // another receiver owns RECV now
		}
		if done-yielded >= yieldEvery {
			runtime.Gosched()
			yielded = s.now()
		}
	}
}

// yieldEvery is how often a receiver passes through the Go scheduler.
// Answering inline, it never blocks there: it only enters and leaves
// syscalls. The runtime's sysmon treats a goroutine that has not been
// rescheduled for 10 ms as hogging its P and, whenever it finds it in a
// syscall (RECV, a branch call), takes the P away and hands it to another
// thread, every 20 µs tick from then on; the receiver must win a P back
// after each of them (futex wake-ups and extra context switches). Pinned to
// one CPU that cost 1.2-1.5 µs per notification, a third of a round trip. A
// Gosched resets the clock; on a locked thread it costs two thread
// switches, negligible every 2 ms.
const yieldEvery = int64(2 * time.Millisecond)

func (s *supervisor) hungUp() bool {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
	}
}

// handOver starts a new receiver before an operation that may block, so
// other processes of the workload keep being served. The current goroutine
// still answers its own notification, then exits.
func (t *task) handOver() {
	if !t.w.handed.CompareAndSwap(false, true) {
		return
	}
	t.s.stats.handovers.Add(1)
	t.s.wg.Add(1)
	go t.s.receive()
}

// handle answers one notification: exactly one response, even after a panic
// (EIO), and none when the task is gone. It returns the time it finished.
func (w *worker) handle() int64 {
	s := w.s
	start := s.now()
	w.id.Store(w.n.ID)
	w.busy.Store(start)
	s.stats.notifs.Add(1)
	t := task{w: w, s: s, n: &w.n, tid: int(w.n.Pid), branch: -1, now: start}
	if s.umask.pending.Load() != 0 {
		s.umask.settled(t.tid, &s.creds)
	}
	var r reply
	func() {
		defer func() {
			if p := recover(); p != nil {
				if r.kind == replyFD {
					unix.Close(r.fd)
				}
				s.log.Error("mfs run: panic while emulating a syscall", "pid", t.tid,
					"syscall", s.prog.nrName(w.n.Arch, w.n.Nr), "panic", fmt.Sprint(p),
					"stack", string(stackTrace()))
				r = fail(unix.EIO)
			}
		}()
		r = t.dispatch()
	}()
	if r.kind == replyContinue {
		s.stats.continued.Add(1)
	} else if r.kind != replyGone {
		s.stats.emulated.Add(1)
	}
	w.send(&t, r)
	w.busy.Store(0)
	done := s.now()
	d := done - start
	s.stats.busyNanos.Add(d)
	if t.op < numOps {
		c := &s.stats.byOp[t.op]
		c.n.Add(1)
		c.nanos.Add(d)
		if r.kind != replyContinue && r.kind != replyGone {
			c.emulated.Add(1)
		}
	}
	if s.verbose && r.kind != replyContinue {
		s.log.Debug("mfs run", "pid", t.tid, "syscall", s.prog.nrName(w.n.Arch, w.n.Nr),
			"path", t.tracePath(), "branch", t.branch, "result", r.String())
	}
	return done
}

func stackTrace() []byte {
	b := make([]byte, 16<<10)
	return b[:runtime.Stack(b, false)]
}

// send delivers r. ADDFD|SEND injects the fd and completes the syscall in
// one step (no fd leaks into a task interrupted in between; notifAddFD
// blocks signals for it); ENOENT from the kernel means the task is gone and
// nothing is owed.
func (w *worker) send(t *task, r reply) {
	s := w.s
	id := w.n.ID
	switch r.kind {
	case replyGone:
		return
	case replyFD:
		a := notifAddfd{ID: id, Flags: unix.SECCOMP_ADDFD_FLAG_SEND, Srcfd: uint32(r.fd), NewfdFlags: r.flags}
		_, e := notifAddFD(s.fd, &a, w.masked)
		unix.Close(r.fd)
		switch e {
		case 0, unix.ENOENT:
			return
		case unix.EBADF, unix.EMFILE:
			r = fail(unix.EMFILE) // the task is at RLIMIT_NOFILE
		default:
			r = fail(e)
		}
	}
	resp := r.resp(id)
	if e := notifSend(s.fd, &resp); e != 0 && e != unix.ENOENT {
		s.log.Error("mfs run: seccomp reply failed", "pid", t.tid, "err", e)
	}
}

// warn logs msg once per key.
func (s *supervisor) warn(key, msg string, args ...any) {
	if _, loaded := s.warnOnce.LoadOrStore(key, struct{}{}); !loaded {
		s.log.Warn(msg, args...)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// overflowID is the id a user namespace shows for ids it does not map
// (kernel.overflowuid and overflowgid, 65534 unless changed).
const overflowID = 65534

// shownUid and shownGid translate an id for a workload in a user namespace
// that maps only the supervisor's own uid and gid, as the kernel does for
// its native calls (fstat on an injected fd).
func (s *supervisor) shownUid(id uint32) uint32 {
	if int(id) == s.euid {
		return id
	}
	return overflowID
}

func (s *supervisor) shownGid(id uint32) uint32 {
	if int(id) == s.egid {
		return id
	}
	return overflowID
}

// mappedUid and mappedGid report whether a chown argument has a mapping in
// the workload's user namespace (-1 leaves the id alone).
func (s *supervisor) mappedUid(id int) bool { return id == -1 || id == s.euid }
func (s *supervisor) mappedGid(id int) bool { return id == -1 || id == s.egid }
