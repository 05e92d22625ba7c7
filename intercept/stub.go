package intercept

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

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

// StubMain is the hidden entry point: args is os.Args of the re-executed
// binary: [argv0, StubArg, umask, "--", CMD, ARGS...]. It installs the
// filter, hands the listener to the supervisor and, once acknowledged,
// resolves CMD through PATH (already under the union, so CMD may live in
// it) and execs it. It returns an exit code only when CMD could not be
// started; the reason goes to the supervisor, which reports it.
func StubMain(args []string) int {
	if len(args) < 5 || args[1] != StubArg || args[3] != "--" {
		fmt.Fprintln(os.Stderr, "mfs: the run stub is internal to `mfs run`")
		return ExitSetup
	}
	umask, err := strconv.ParseUint(args[2], 8, 32)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mfs: run stub: bad umask")
		return ExitSetup
	}
	code, err := stub(args[4:], int(umask))
	if err != nil {
		stubReport(code, err.Error())
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

func stub(argv []string, umask int) (int, error) {
	prog := make([]byte, 4096*8)
	n, err := unix.Read(stubFd, prog)
	if err != nil || n == 0 || n%8 != 0 {
		return ExitSetup, fmt.Errorf("run stub: no filter from the supervisor (%v)", err)
	}
	filter := filterProg(prog[:n])

	// The filter applies to every thread (TSYNC); the locked thread is the
	// one that execs.
	runtime.LockOSThread()
	if !hasCapSysAdmin() {
		// Unprivileged, the kernel requires no_new_privs to install a filter.
		// As root it is left off, so setuid programs keep working.
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
		os.Exit(ExitSetup) // the supervisor gave up and reports why
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
	err = unix.Exec(path, argv, os.Environ())
	code := ExitCannotExec
	if errors.Is(err, unix.ENOENT) {
		code = ExitNotFound
	}
	return code, fmt.Errorf("%s: exec: %w", argv[0], err)
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
