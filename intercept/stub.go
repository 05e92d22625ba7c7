package intercept

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// StubArg is os.Args[1] of the re-executed mfs binary that becomes the
// workload: cmd/mfs calls StubMain first thing when it sees it.
const StubArg = "__mfs-run-stub"

// Exit codes of `mfs run` when CMD never ran (those of env(1) and timeout(1)).
const (
	ExitSetup      = 125 // mfs run itself failed (seccomp unavailable, bad union, ...)
	ExitCannotExec = 126 // CMD found but not executable
	ExitNotFound   = 127 // CMD not found
)

// codeNamespace is the code of a stub error report that says the new PID
// and mount namespaces could not be set up (mounting /proc failed): the
// supervisor then starts the workload again without them.
const codeNamespace = 0xfe

// stubFd is the stub's end of the socketpair (ExtraFiles[0] → fd 3).
const stubFd = 3

// Handshake messages on the SOCK_SEQPACKET pair (one message per record):
//
//	supervisor → stub   the BPF program (struct sock_filter[])
//	stub → supervisor   'L' flags:u32 + SCM_RIGHTS(listener)   or   'E' code:u8 text
//	supervisor → stub   'A' (go on) or 'X' (abort)
//	stub → supervisor   'E' code text   only if CMD cannot be found or executed
const (
	msgListener = 'L'
	msgError    = 'E'
	msgAck      = 'A'
	msgAbort    = 'X'
)

// stubMode is what the supervisor asks of the stub (os.Args[3]).
type stubMode struct {
	// init: the stub is pid 1 of a new PID namespace (and is in a new mount
	// namespace): it mounts a /proc of that namespace, starts CMD as its
	// child, reaps the namespace and exits with CMD's status once nothing
	// else runs in it. Its parent-death signal is SIGKILL, so the kernel
	// ends the whole namespace when the supervisor dies.
	init bool
	// nnp: set no_new_privs before installing the filter (unprivileged).
	nnp bool
}

func (m stubMode) String() string {
	s := ""
	if m.init {
		s += "p"
	}
	if m.nnp {
		s += "n"
	}
	if s == "" {
		s = "-"
	}
	return s
}

func parseStubMode(s string) (stubMode, bool) {
	var m stubMode
	if s == "-" {
		return m, true
	}
	for _, c := range s {
		switch c {
		case 'p':
			m.init = true
		case 'n':
			m.nnp = true
		default:
			return m, false
		}
	}
	return m, s != ""
}

// StubMain is the hidden entry point: args is os.Args of the re-executed
// binary: [argv0, StubArg, umask, mode, "--", CMD, ARGS...]. It installs the
// filter, hands the listener to the supervisor and, once acknowledged,
// resolves CMD through PATH (already under the union, so CMD may live in
// it) and execs it, or, as init of a PID namespace, starts it and waits for
// the namespace to empty. It returns an exit code only when CMD could not
// be started (the reason goes to the supervisor, which reports it) or, as
// init, CMD's status.
func StubMain(args []string) int {
	// First thing: the kernel sends SIGKILL when the thread that started us
	// (a supervisor thread kept alive for the run) exits with the
	// supervisor. As init of a PID namespace, the kernel then kills every
	// process of the namespace; otherwise only CMD (the signal survives
	// exec). A supervisor that died before this line is seen below: the
	// handshake reads EOF.
	unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if len(args) < 6 || args[1] != StubArg || args[4] != "--" {
		fmt.Fprintln(os.Stderr, "mfs: the run stub is internal to `mfs run`")
		return ExitSetup
	}
	umask, err := strconv.ParseUint(args[2], 8, 32)
	mode, ok := parseStubMode(args[3])
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "mfs: run stub: bad arguments")
		return ExitSetup
	}
	code, err := stub(args[5:], int(umask), mode)
	if err != nil {
		stubReport(code, err.Error())
	}
	if mode.init {
		// pid 1 ends the namespace by exiting. exit_group directly: under
		// the race detector os.Exit would first sleep atexit_sleep_ms.
		exitGroup(code)
	}
	return code
}

func stubReport(code int, text string) {
	msg := append([]byte{msgError, byte(code)}, text...)
	if _, err := unix.Write(stubFd, msg); err != nil {
		// No supervisor to tell: say it ourselves.
		fmt.Fprintln(os.Stderr, "mfs run:", text)
	}
}

func exitGroup(code int) {
	for {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, uintptr(code), 0, 0)
	}
}

func stub(argv []string, umask int, mode stubMode) (int, error) {
	prog := make([]byte, 4096*8)
	n, err := unix.Read(stubFd, prog)
	if err != nil || n == 0 || n%8 != 0 {
		return ExitSetup, fmt.Errorf("run stub: no filter from the supervisor (%v)", err)
	}
	filter := filterProg(prog[:n])

	// The filter applies to every thread (TSYNC); the locked thread is the
	// one that execs (or forks CMD), and the one whose credentials CMD
	// inherits.
	runtime.LockOSThread()
	if mode.init {
		// Before the filter: mount is one of the trapped calls, and nobody
		// answers them yet.
		if err := mountProc(); err != nil {
			return codeNamespace, err
		}
		if mode.nnp {
			// In a user namespace of our own the capabilities served the
			// mount; CMD gets none (capabilities are per thread, and CMD is
			// forked from this one).
			if err := dropCaps(); err != nil {
				return codeNamespace, fmt.Errorf("run stub: dropping the user namespace's capabilities: %w", err)
			}
		}
	}
	if mode.nnp {
		// Unprivileged, the kernel requires no_new_privs to install a filter
		// (in a user namespace of our own it would not, but the workload must
		// not gain privileges through us either way). As root it is left
		// off, so setuid programs keep working.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return ExitSetup, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
	}
	flags := uint(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC |
		unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	lfd, e := seccompInstall(filter, flags)
	if e == unix.EINVAL {
		flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV // before 5.19
		lfd, e = seccompInstall(filter, flags)
	}
	if e != 0 {
		return ExitSetup, installError(e)
	}
	hdr := make([]byte, 5)
	hdr[0] = msgListener
	binary.LittleEndian.PutUint32(hdr[1:], uint32(flags))
	if err := unix.Sendmsg(stubFd, hdr, unix.UnixRights(lfd), nil, 0); err != nil {
		return ExitSetup, fmt.Errorf("run stub: send listener: %w", err)
	}
	unix.Close(lfd) // the supervisor holds the only copy: its exit ends our union
	ack := make([]byte, 1)
	if n, err := unix.Read(stubFd, ack); err != nil || n != 1 || ack[0] != msgAck {
		exitGroup(ExitSetup) // the supervisor gave up (and reports why) or died
	}

	unix.Umask(umask)
	path, err := exec.LookPath(argv[0])
	if err != nil && !errors.Is(err, exec.ErrDot) {
		code := ExitNotFound
		if errors.Is(err, os.ErrPermission) {
			code = ExitCannotExec
		}
		return code, fmt.Errorf("%s: %w", argv[0], unwrapExec(err))
	}
	unix.CloseOnExec(stubFd)
	if mode.init {
		return initRun(path, argv)
	}
	err = unix.Exec(path, argv, os.Environ())
	return execCode(err), fmt.Errorf("%s: exec: %w", argv[0], err)
}

func execCode(err error) int {
	if errors.Is(err, unix.ENOENT) {
		return ExitNotFound
	}
	return ExitCannotExec
}

// mountProc gives the new PID namespace its own /proc, so that pids the
// workload sees ($$, $!, getpid) and the pids in /proc agree: with the
// host's /proc, `ps`, `pgrep` and /proc/$$ would name other processes.
// Mount events are made one-way first (host → namespace), so the new /proc
// does not propagate back to the host.
func mountProc() error {
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("run stub: making the mount namespace a slave: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("run stub: mounting /proc for the PID namespace: %w", err)
	}
	// How `ps` in the workload names pid 1 (the process, not this thread).
	os.WriteFile("/proc/self/comm", []byte("mfs-run-init"), 0)
	return nil
}

// dropCaps empties the calling thread's capability sets (the ambient set
// with them).
func dropCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	return unix.Capset(&hdr, &data[0])
}

// relayed are the signals the supervisor relays to the workload. To init it
// sends relayed[i] as signal relayBase+i (a real-time signal: glibc keeps
// 32 and 33), so init can tell a relay from a keyboard signal that the
// terminal already delivered to CMD in the same foreground process group.
var relayed = []syscall.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT}

const relayBase = 40

// relaySignal is the signal that asks init to relay sig.
func relaySignal(sig syscall.Signal) (syscall.Signal, bool) {
	for i, r := range relayed {
		if r == sig {
			return syscall.Signal(relayBase + i), true
		}
	}
	return 0, false
}

// initSignal decides what init does with a signal it received: the signal
// to pass on to the workload, or false. A relay from the supervisor is
// passed on; SIGINT and SIGQUIT sent to init itself come from the terminal
// (init is in its foreground group with CMD, which has them already);
// other signals sent to init itself (kill 1 from inside) go to the workload.
func initSignal(s syscall.Signal) (syscall.Signal, bool) {
	if s >= relayBase && int(s) < relayBase+len(relayed) {
		return relayed[s-relayBase], true
	}
	switch s {
	case unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM:
		return s, true
	}
	return 0, false
}

// initRun is the stub as pid 1 of the workload's PID namespace: it starts
// CMD (pid 2, so the workload's own view of pids, signals and job control
// is that of any process: pid 1 would ignore signals it has no handler for
// and would take every orphan's exit with it), reaps every process that is
// reparented to it, relays signals, and returns CMD's status (128+n for a
// signal) once the namespace holds nothing else. Exiting then is safe: the
// kernel kills whatever is left of a namespace whose init exits, and
// nothing is.
func initRun(path string, argv []string) (int, error) {
	// Every signal comes here, so none takes the Go runtime's default
	// action (which would end init, and with it the namespace).
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		return execCode(err), fmt.Errorf("%s: exec: %w", argv[0], err)
	}
	type reaped struct {
		pid int
		ws  unix.WaitStatus
	}
	exits := make(chan reaped, 16)
	go func() {
		for {
			var ws unix.WaitStatus
			p, err := unix.Wait4(-1, &ws, unix.WALL, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil { // ECHILD: the namespace is empty
				close(exits)
				return
			}
			exits <- reaped{p, ws}
		}
	}()
	code := -1
	for {
		select {
		case r, ok := <-exits:
			if !ok {
				if code < 0 {
					code = ExitSetup
				}
				return code, nil
			}
			if r.pid == pid {
				code = exitStatus(r.ws)
			}
		case s := <-sigs:
			sig, ok := s.(syscall.Signal)
			if !ok {
				continue
			}
			if sig, ok = initSignal(sig); !ok {
				continue
			}
			if code < 0 {
				unix.Kill(pid, sig)
			} else {
				unix.Kill(-1, sig) // every process of the namespace but init
			}
		}
	}
}

func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// installError names the cause of a failed seccomp(SET_MODE_FILTER).
func installError(e unix.Errno) error {
	switch e {
	case unix.EBUSY:
		return fmt.Errorf("seccomp: a user-notification listener is already installed on this process (nested `mfs run`, or a runtime's seccomp agent); mfs run cannot start under it: %w", e)
	case unix.EINVAL:
		return fmt.Errorf("seccomp: the kernel refused the filter flags; mfs run needs Linux 5.14 or newer (user notification with TSYNC_ESRCH and ADDFD|SEND): %w", e)
	case unix.EACCES:
		return fmt.Errorf("seccomp: installing a filter was refused (no_new_privs could not be set?): %w", e)
	case unix.ENOSYS:
		return fmt.Errorf("seccomp: the kernel has no seccomp filter support (CONFIG_SECCOMP_FILTER): %w", e)
	case unix.ESRCH:
		return fmt.Errorf("seccomp: another thread of the stub has a different filter (TSYNC): %w", e)
	}
	return fmt.Errorf("seccomp(SET_MODE_FILTER): %w", e)
}

// hasCapSysAdmin reports CAP_SYS_ADMIN in the effective set.
func hasCapSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SYS_ADMIN) != 0
}

// userNamespacesAllowed reports whether an unprivileged process may create
// a user namespace: Debian's kernel.unprivileged_userns_clone (when present)
// and user.max_user_namespaces.
func userNamespacesAllowed() bool {
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) != "1" {
		return false
	}
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && n > 0
}
