package intercept

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The user-notification structures of <linux/seccomp.h>; x/sys has the
// constants but not the types. Sizes are checked against the kernel's
// SECCOMP_GET_NOTIF_SIZES once per process (checkNotifSizes).

// notif is struct seccomp_notif (80 bytes) with struct seccomp_data inlined.
type notif struct {
	ID    uint64
	Pid   uint32 // thread id of the trapped task
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// notifResp is struct seccomp_notif_resp (24 bytes).
type notifResp struct {
	ID    uint64
	Val   int64
	Error int32 // negative errno, or 0
	Flags uint32
}

// notifAddfd is struct seccomp_notif_addfd (24 bytes).
type notifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

// notifSizes is struct seccomp_notif_sizes.
type notifSizes struct {
	Notif uint16
	Resp  uint16
	Data  uint16
}

const (
	sizeofNotif = unsafe.Sizeof(notif{})
	sizeofResp  = unsafe.Sizeof(notifResp{})
	sizeofData  = 64
)

// ioctl is the entry point of the notification ioctls that may block. It
// uses the blocking Syscall (not RawSyscall) so a call parked in the kernel
// does not hold a P, and retries EINTR (Go's own signals, SIGURG preemption among them,
// interrupt blocking syscalls).
func ioctl(fd int, req uint, arg unsafe.Pointer) (uintptr, unix.Errno) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if e != unix.EINTR {
			return r, e
		}
	}
}

func notifRecv(fd int, n *notif) unix.Errno {
	*n = notif{} // the kernel rejects a non-zeroed buffer (5.5+)
	// Not through ioctl(): EINTR and ENOENT are handled by the receive loop.
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.SECCOMP_IOCTL_NOTIF_RECV), uintptr(unsafe.Pointer(n)))
	return e
}

// rawIoctl is ioctl for the requests that never wait for anything but the
// listener's own lock (SEND, ID_VALID; SEND may hand the CPU to the task it
// wakes, but its thread stays runnable): RawSyscall skips the runtime's
// system-call bookkeeping, a tenth of a microsecond each time, measurable on
// a round trip of a few (with SEND and ID_VALID raw, pinned, `mfs run` of a
// C loop: lstat of a union file 7.2 → 6.6 µs, stat outside 4.8 → 4.3 µs,
// medians of 7). Not for RECV, ADDFD (which waits for the task) or memory
// reads (which may fault in a page from a slow file system): a raw call that
// blocks holds its P, and a stop-the-world waits for it.
func rawIoctl(fd int, req uint, arg unsafe.Pointer) unix.Errno {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if e != unix.EINTR { // the listener's mutex is taken interruptibly
			return e
		}
	}
}

func notifSend(fd int, r *notifResp) unix.Errno {
	return rawIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(r))
}

// notifAddFD injects a.Srcfd into the task of notification a.ID.
//
// No signal may reach the calling thread during the ioctl. With
// SECCOMP_ADDFD_FLAG_SEND the kernel marks the notification replied (value
// 0) before it waits, interruptibly, for the task to install the fd; a
// signal that ends that wait withdraws the queued fd but not the reply, so
// the task's open returns 0 with nothing installed (and the restarted ioctl
// finds the notification replied or gone). The task then takes its fd 0,
// often a pipe or socket, for the file it opened: rsync's receiver closed
// its input from the sender that way. Go's own signals reach the receiving
// thread all the time (SIGURG preemption of a busy receiver, SIGCHLD, ...);
// blocked, they stay pending until the ioctl has returned. SIGKILL cannot
// be blocked and ends the supervisor anyway; a stop of the process (SIGSTOP,
// job control, a cgroup freeze) still ends the wait (doc.go, Limits).
// masked says the thread already blocks them (a receiver's thread, see
// blockSignals); otherwise every signal is blocked for the call.
func notifAddFD(fd int, a *notifAddfd, masked bool) (int, unix.Errno) {
	if masked {
		r, e := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(a))
		return int(r), e
	}
	runtime.LockOSThread() // the signal mask is the thread's
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &allSignals, &old); err != nil {
		return 0, errnoOf(err)
	}
	r, e := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(a))
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return int(r), e
}

// blockSignals blocks, on the calling (locked) thread, every signal but
// the faults the Go runtime turns into panics (a blocked SIGSEGV raised by
// the thread itself would kill the process instead). A receiver's thread
// runs with this mask, so an fd injection needs no mask changes of its own
// (two rt_sigprocmask calls per emulated open, 0.3 µs pinned). Nothing is
// lost: process-directed signals go to other threads, and thread-directed
// ones (SIGURG preemption requests) wait until the receiver's next function
// call notices the request anyway. Not while the CPU profiler runs: its
// SIGPROF is thread-directed. It returns the previous mask, which
// restoreSignals puts back.
func blockSignals() (old unix.Sigset_t, e unix.Errno) {
	set := allSignals
	const bits = 8 * uint(unsafe.Sizeof(set.Val[0]))
	for _, sig := range []unix.Signal{unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS} {
		n := uint(sig) - 1
		set.Val[n/bits] &^= 1 << (n % bits)
	}
	return old, errnoOf(unix.PthreadSigmask(unix.SIG_SETMASK, &set, &old))
}

// restoreSignals puts back the mask blockSignals replaced.
func restoreSignals(old *unix.Sigset_t) { unix.PthreadSigmask(unix.SIG_SETMASK, old, nil) }

// allSignals is a full signal set (the kernel leaves SIGKILL and SIGSTOP
// out of any mask itself).
var allSignals = func() (s unix.Sigset_t) {
	for i := range s.Val {
		s.Val[i] = ^s.Val[i] // every bit, whatever the word size
	}
	return s
}()

// notifIDValid reports whether the notification id is still pending: the
// task has not been killed or interrupted, so memory read from it belongs to
// the trapped syscall.
func notifIDValid(fd int, id uint64) bool {
	return rawIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == 0
}

// notifSetFlags passes the flags by value, not by pointer.
func notifSetFlags(fd int, flags uint64) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS), uintptr(flags))
	return e
}

// checkNotifSizes compares our struct layouts with the running kernel's.
func checkNotifSizes() error {
	var s notifSizes
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_NOTIF_SIZES, 0, uintptr(unsafe.Pointer(&s)))
	if e != 0 {
		return e
	}
	if uintptr(s.Notif) < sizeofNotif || uintptr(s.Resp) < sizeofResp || s.Data != sizeofData {
		return errSizes{s}
	}
	return nil
}

// seccompInstall installs prog on the calling thread (all threads with TSYNC)
// and returns the listener fd when flags has NEW_LISTENER.
func seccompInstall(prog []unix.SockFilter, flags uint) (int, unix.Errno) {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fp)))
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

const kcmpFileType = 0 // KCMP_FILE

// kcmpFile reports whether two fds of this process share one open file
// description.
func kcmpFile(fd1, fd2 int) bool {
	pid := uintptr(unix.Getpid())
	r, _, e := unix.RawSyscall6(unix.SYS_KCMP, pid, pid, kcmpFileType, uintptr(fd1), uintptr(fd2), 0)
	return e == 0 && r == 0
}

// bytesOf views a fixed-size kernel structure as the bytes written into the
// workload's memory.
func statBytes(st *unix.Stat_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

func statxBytes(st *unix.Statx_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

func statfsBytes(st *unix.Statfs_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

// filterBytes and filterProg convert the BPF program for the socket hand-over.
func filterProg(b []byte) []unix.SockFilter {
	n := len(b) / int(unsafe.Sizeof(unix.SockFilter{}))
	if n == 0 {
		return nil
	}
	out := make([]unix.SockFilter, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(b)), b)
	return out
}

func filterBytes(p []unix.SockFilter) []byte {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&p[0])), len(p)*int(unsafe.Sizeof(p[0])))
}

// setThreadGroups sets the supplementary groups of the calling thread only
// (the raw syscall; syscall.Setgroups changes every thread).
func setThreadGroups(groups []uint32) unix.Errno {
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0)
	return e
}

// isChildSubreaper reports PR_GET_CHILD_SUBREAPER for this process.
func isChildSubreaper() bool {
	var v int32
	_, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0, 0)
	return e == 0 && v != 0
}

// actionAvailable asks the kernel whether a seccomp return action exists
// (SECCOMP_GET_ACTION_AVAIL).
func actionAvailable(action uint32) bool {
	const getActionAvail = 2
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, getActionAvail, 0, uintptr(unsafe.Pointer(&action)))
	return e == 0
}
