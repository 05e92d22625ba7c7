package intercept

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// Config describes one `mfs run`.
type Config struct {
	// Unions are shown at their targets to the workload. Targets are
	// absolute and need not exist; neither targets nor branches may overlap.
	Unions []vfs.Union
	// Argv is CMD and its arguments; CMD is looked up in the PATH of Env.
	Argv []string
	// Env is the workload's environment; nil means os.Environ().
	Env []string
	// Stdin, Stdout and Stderr of the workload. nil means the caller's own
	// (os.Stdin, ...). An *os.File is passed as it is (a terminal stays a
	// terminal); any other value is connected through a pipe.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Verbose logs one debug line per emulated call (pid, syscall, path,
	// branch, result) to Logger.
	Verbose bool
	// Logger receives warnings and traces; nil discards them.
	Logger *slog.Logger
	// Stats, when non-nil, receives the supervisor's counters at the end.
	Stats *Stats
	// NoPIDNamespace keeps the workload in the caller's PID and mount
	// namespaces even where new ones are available (see the package doc,
	// "Process tree"): its pids are the host's, and it can signal host
	// processes, but if the supervisor dies only CMD is killed and the rest
	// of the workload runs on with every trapped call failing (ENOSYS).
	NoPIDNamespace bool
	// Profiling says the Go CPU profiler runs (pprof.StartCPUProfile), so
	// the supervisor's threads keep SIGPROF deliverable.
	Profiling bool
}

// Stats are the supervisor's counters for one run (`mfs run --stats`).
type Stats struct {
	Notifications uint64        // trapped syscalls received
	Continued     uint64        // answered CONTINUE (outside every union)
	Emulated      uint64        // answered by the supervisor
	Handovers     uint64        // receiver hand-overs (FIFO opens, stalled branch calls)
	Busy          time.Duration // time spent handling notifications
	SyncWakeUp    bool          // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP is on (6.6+)
	WaitKillable  bool          // the filter has WAIT_KILLABLE_RECV (5.19+)
	// PIDNamespace: the workload ran in PID and mount namespaces of its
	// own, under an init that the kernel kills with the supervisor.
	PIDNamespace bool
	// BySyscall counts notifications per syscall family ("openat",
	// "newfstatat", ...; i386 rows under the same names).
	BySyscall map[string]SyscallStats
}

// SyscallStats are the counters of one syscall family.
type SyscallStats struct {
	Notifications uint64
	Emulated      uint64
	Busy          time.Duration
}

// initialUmask is the umask the process started with, captured before
// vfs.New sets the process umask to 0 (vfs applies callers' umasks itself);
// the workload gets this one.
var initialUmask = readUmask()

func readUmask() int {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return int(m)
				}
			}
		}
	}
	return 0o022
}

// Run runs cfg.Argv under a supervisor that shows cfg.Unions to it and to
// every process it starts, and returns CMD's exit status (128+n when a
// signal n killed it) once the last process of the workload has exited.
//
// When CMD could not be started, err says why and exitCode is ExitSetup,
// ExitCannotExec or ExitNotFound. While any Run is active the process is a
// child subreaper and every child of the process is reaped (orphans of the
// workload are reparented to it): do not start other children you wait for
// yourself (os/exec) meanwhile. Several Runs may be active at once. SIGINT,
// SIGTERM, SIGHUP and SIGQUIT are forwarded to CMD (to the remaining
// workload once CMD has exited); the process stops acting on them itself
// while Run is active. Cancelling ctx kills the workload and makes Run
// return ctx's error with the status (137).
//
// cmd/mfs must call StubMain first thing when os.Args[1] == StubArg: Run
// re-executes /proc/self/exe with that argument. Verbose traces go to
// Logger at slog.LevelDebug.
func Run(ctx context.Context, cfg Config) (exitCode int, err error) {
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return ExitSetup, errors.New("mfs run: no command given")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	unions, err := buildUnions(cfg.Unions)
	if err != nil {
		return ExitSetup, fmt.Errorf("mfs run: %w", err)
	}
	prog, err := compiledProgram()
	if err != nil {
		return ExitSetup, fmt.Errorf("mfs run: building the seccomp filter: %w", err)
	}
	if err := checkNotifSizes(); err != nil {
		return ExitSetup, fmt.Errorf("mfs run: seccomp user notification is unavailable (Linux 5.14 or newer with CONFIG_SECCOMP_FILTER is needed): %w", err)
	}
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}

	std := newStdio(cfg)
	defer std.closeParentEnds()
	childEndsOpen := true
	defer func() {
		if childEndsOpen {
			std.closeChildEnds()
		}
	}()
	std.start()

	if err := reaper.acquire(); err != nil {
		log.Warn("mfs run: cannot become a child subreaper; orphaned workload processes are not waited for", "err", err)
	}
	defer reaper.release()

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)

	// Handshake: program → listener → ack. A stub that could not set up its
	// namespaces is started again without them.
	privileged := hasCapSysAdmin()
	ns := nsNone
	if !cfg.NoPIDNamespace {
		ns = availableNamespaces(privileged)
	}
	var sp *spawned
	var lfd int
	var flags uint32
	for {
		mode := stubMode{init: ns != nsNone, nnp: !privileged}
		var err error
		sp, err = spawn(cfg.Argv, env, std, mode, ns)
		if err != nil {
			if ns != nsNone {
				log.Info("mfs run: no PID namespace for the workload; it does not end with the supervisor", "err", err)
				ns = nsNone
				continue
			}
			return ExitSetup, fmt.Errorf("mfs run: starting the run stub: %w", err)
		}
		prog.sendTo(sp.sock)
		var herr error
		lfd, flags, herr = recvListener(sp.sock)
		if herr == nil {
			break
		}
		var se stubError
		if !errors.As(herr, &se) {
			sp.w.killAll()
		}
		<-sp.w.done
		sp.close()
		if se.code == codeNamespace && ns != nsNone {
			log.Info("mfs run: no PID namespace for the workload; it does not end with the supervisor", "err", se.msg)
			ns = nsNone
			continue
		}
		std.closeChildEnds()
		childEndsOpen = false
		std.wait()
		if se.code != 0 {
			return se.code, fmt.Errorf("mfs run: %s", se.msg)
		}
		return ExitSetup, fmt.Errorf("mfs run: %w", herr)
	}
	defer sp.close()
	std.closeChildEnds()
	childEndsOpen = false
	w := sp.w
	stopSignals := make(chan struct{})
	defer close(stopSignals)
	go w.forward(ctx, sigs, stopSignals)

	st := Stats{WaitKillable: flags&unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0, PIDNamespace: ns != nsNone}
	if e := notifSetFlags(lfd, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP); e == 0 {
		st.SyncWakeUp = true
	} else if e != unix.EINVAL {
		log.Warn("mfs run: SECCOMP_IOCTL_NOTIF_SET_FLAGS failed", "err", e)
	}
	sup := newSupervisor(ctx, lfd, prog, unions, log, cfg.Verbose)
	sup.profiling = cfg.Profiling
	if ns != nsNone {
		sup.initPid = sp.proc.Pid
	}
	sup.userns = ns == nsUser
	sup.start()
	if _, err := unix.Write(sp.sock, []byte{msgAck}); err != nil {
		log.Warn("mfs run: handshake ack", "err", err)
	}

	<-w.done // CMD (in a PID namespace: init, after the last process) has exited
	// The rest of the workload (background jobs keep their union) is gone
	// when the listener hangs up; the receivers then exit on their own (6.x
	// wakes a blocked RECV with ENOENT). On a kernel that does not, the
	// hang-up seen by poll ends the wait and the blocked receiver is left
	// with the listener open, so it never reads a reused fd.
	finished := make(chan struct{})
	go func() { sup.wait(); close(finished) }()
	waitWorkload(finished, lfd, log)
	select {
	case <-finished:
		unix.Close(lfd)
	default:
	}
	std.wait()
	sup.dirs.closeAll()
	sup.vcwds.closeAll()
	if cfg.Stats != nil {
		st.Notifications = sup.stats.notifs.Load()
		st.Continued = sup.stats.continued.Load()
		st.Emulated = sup.stats.emulated.Load()
		st.Handovers = sup.stats.handovers.Load()
		st.Busy = time.Duration(sup.stats.busyNanos.Load())
		st.BySyscall = map[string]SyscallStats{}
		for o := op(0); o < numOps; o++ {
			c := &sup.stats.byOp[o]
			if n := c.n.Load(); n > 0 {
				st.BySyscall[o.String()] = SyscallStats{Notifications: n, Emulated: c.emulated.Load(), Busy: time.Duration(c.nanos.Load())}
			}
		}
		*cfg.Stats = st
	}
	if code, msg, ok := readStubError(sp.sock); ok {
		return code, fmt.Errorf("mfs run: %s", msg)
	}
	if ctx.Err() != nil {
		return exitStatus(w.status), fmt.Errorf("mfs run: %w", ctx.Err())
	}
	return exitStatus(w.status), nil
}

// nsKind is the isolation the workload gets for supervisor-death handling.
type nsKind uint8

const (
	nsNone nsKind = iota // the caller's PID namespace
	nsPID                // new PID + mount namespaces (privileged)
	nsUser               // new user (own ids mapped) + PID + mount namespaces
)

// availableNamespaces picks new PID and mount namespaces when the caller may
// create them: with CAP_SYS_ADMIN directly, otherwise inside a new user
// namespace that maps the caller's own uid and gid, where the sysctls allow
// unprivileged user namespaces. Whether it works is only known once tried;
// Run falls back to nsNone.
func availableNamespaces(privileged bool) nsKind {
	if privileged {
		return nsPID
	}
	if userNamespacesAllowed() {
		return nsUser
	}
	return nsNone
}

// spawned is one start of the stub.
type spawned struct {
	proc    *os.Process
	w       *waiter
	sock    int
	release chan struct{} // closed: the thread that forked the stub may go
	closed  bool
}

// spawn starts the stub on a thread of its own that stays locked until the
// stub has been reaped: the parent-death signal fires when the *thread*
// that forked a process exits (go.dev/issue/27505), and Go ends threads
// whose goroutine exits locked (as receivers and vfs may do).
func spawn(argv, env []string, std *stdio, mode stubMode, ns nsKind) (*spawned, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	childEnd := os.NewFile(uintptr(pair[1]), "mfs-run-handshake")
	defer childEnd.Close()
	args := append([]string{os.Args[0], StubArg, strconv.FormatInt(int64(initialUmask), 8), mode.String(), "--"}, argv...)
	attr := &os.ProcAttr{
		Env:   env,
		Files: []*os.File{std.child[0], std.child[1], std.child[2], childEnd},
	}
	switch ns {
	case nsPID:
		attr.Sys = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS}
	case nsUser:
		// The stub is not root in its user namespace (it keeps the caller's
		// uid), so exec would clear the capabilities the namespace gave it:
		// CAP_SYS_ADMIN is carried over as an ambient capability, for the
		// /proc mount only; the stub drops it before it starts CMD.
		attr.Sys = &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}},
			AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN},
		}
	}
	sp := &spawned{sock: pair[0], release: make(chan struct{})}
	type started struct {
		proc   *os.Process
		status <-chan unix.WaitStatus
		err    error
	}
	res := make(chan started, 1)
	go func() {
		runtime.LockOSThread()
		p, st, err := reaper.start(func() (*os.Process, error) {
			return os.StartProcess("/proc/self/exe", args, attr)
		})
		res <- started{p, st, err}
		if err == nil {
			<-sp.release
		}
		runtime.UnlockOSThread()
	}()
	r := <-res
	if r.err != nil {
		unix.Close(sp.sock)
		return nil, r.err
	}
	sp.proc = r.proc
	sp.w = newWaiter(r.proc, r.status)
	sp.w.init = mode.init
	return sp, nil
}

// close releases the socket and, once the stub has been reaped, the thread
// that forked it. Preconditions: sp.w.done is closed.
func (sp *spawned) close() {
	if sp.closed {
		return
	}
	sp.closed = true
	<-sp.w.done
	close(sp.release)
	unix.Close(sp.sock)
	sp.proc.Release()
}

func exitStatus(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return ExitSetup
}

func (p *program) sendTo(sock int) {
	unix.Write(sock, filterBytes(p.bpf))
}

// recvListener receives 'L' flags + SCM_RIGHTS, or the stub's error.
func recvListener(sock int) (fd int, flags uint32, err error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, 0, fmt.Errorf("handshake with the run stub: %w", err)
		}
		if n == 0 {
			return -1, 0, errors.New("the run stub exited during the handshake")
		}
		if buf[0] == msgError {
			if n >= 2 {
				return -1, 0, stubError{code: int(buf[1]), msg: string(buf[2:n])}
			}
			return -1, 0, errors.New("the run stub failed")
		}
		if buf[0] != msgListener || n < 5 {
			return -1, 0, errors.New("handshake with the run stub: unexpected message")
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return -1, 0, errors.New("handshake with the run stub: no listener fd")
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return -1, 0, errors.New("handshake with the run stub: no listener fd")
		}
		return fds[0], binary.LittleEndian.Uint32(buf[1:5]), nil
	}
}

type stubError struct {
	code int
	msg  string
}

func (e stubError) Error() string { return e.msg }

// readStubError collects a late error report of the stub (CMD not found),
// which is queued on the socket after the stub exited.
func readStubError(sock int) (int, string, bool) {
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(sock, buf, unix.MSG_DONTWAIT)
	if err != nil || n < 2 || buf[0] != msgError {
		return 0, "", false
	}
	return int(buf[1]), string(buf[2:n]), true
}

// --- reaping and signals ------------------------------------------------------

// waitWorkload returns when the receivers have finished or, failing that,
// once the listener has hung up and a grace period has passed.
func waitWorkload(finished <-chan struct{}, lfd int, log interface{ Warn(string, ...any) }) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var hupAt time.Time
	for {
		select {
		case <-finished:
			return
		case now := <-tick.C:
			fds := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
			if n, _ := unix.Poll(fds, 0); n > 0 && fds[0].Revents&unix.POLLHUP != 0 {
				if hupAt.IsZero() {
					hupAt = now
				} else if now.Sub(hupAt) > 2*time.Second {
					log.Warn("mfs run: the workload is gone but a receiver is still blocked (kernel without the RECV wake-up?)")
					return
				}
			}
		}
	}
}

// waiter follows the stub (which became CMD): its status arrives from the
// process-wide reaper.
type waiter struct {
	proc   *os.Process
	pid    int
	init   bool          // the stub is init of a PID namespace: relay through it
	done   chan struct{} // closed when CMD has been reaped
	mu     sync.Mutex
	exited bool
	status unix.WaitStatus
}

func newWaiter(p *os.Process, st <-chan unix.WaitStatus) *waiter {
	w := &waiter{proc: p, pid: p.Pid, done: make(chan struct{})}
	go func() {
		ws := <-st
		w.mu.Lock()
		w.exited, w.status = true, ws
		w.mu.Unlock()
		close(w.done)
	}()
	return w
}

// forward relays signals to CMD (through init in a PID namespace), or to
// what is left of the workload once the stub has exited; ctx cancellation
// kills the workload. SIGINT and SIGQUIT are not relayed while this process
// is in the foreground process group of its terminal: the terminal sent
// them to the whole group, the workload included (or to the workload's own
// foreground job), and a second copy would make programs that take a second
// ^C as "quit now" do so.
func (w *waiter) forward(ctx context.Context, sigs <-chan os.Signal, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			w.killAll()
			return
		case s := <-sigs:
			sig := s.(syscall.Signal)
			if (sig == unix.SIGINT || sig == unix.SIGQUIT) && inForeground() {
				continue
			}
			w.mu.Lock()
			exited := w.exited
			w.mu.Unlock()
			if !exited {
				if r, ok := relaySignal(sig); ok && w.init {
					sig = r
				}
				w.proc.Signal(sig) // pidfd-based: never hits a reused pid
				continue
			}
			for _, pid := range w.workload() {
				unix.Kill(pid, sig)
			}
		}
	}
}

// inForeground reports whether this process is in the foreground process
// group of its controlling terminal.
func inForeground() bool {
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // no controlling terminal
	}
	defer unix.Close(fd)
	pg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pg == unix.Getpgrp()
}

// killAll sends SIGKILL to CMD and the rest of the workload.
func (w *waiter) killAll() {
	w.proc.Kill()
	for _, pid := range w.workload() {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// workload lists the workload's processes: the descendants of CMD and, when
// this is the only Run in the process, every other descendant of the
// process (orphans reparented to the subreaper; with several Runs they
// cannot be told apart and are left to their own Run).
func (w *waiter) workload() []int {
	if reaper.active() <= 1 {
		return descendants(os.Getpid())
	}
	return descendants(w.pid)
}

// descendants lists every process below root from /proc (ppid links).
func descendants(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	kids := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may contain spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		kids[ppid] = append(kids[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// --- stdio ----------------------------------------------------------------------

// stdio connects the workload's standard files: *os.File values directly,
// other readers and writers through pipes served by copying goroutines.
type stdio struct {
	child   [3]*os.File
	closeCh []*os.File // child ends we created, closed after start
	parent  []*os.File
	copies  []func()
	wg      sync.WaitGroup
}

func newStdio(cfg Config) *stdio {
	s := &stdio{}
	s.child[0] = s.reader(cfg.Stdin, os.Stdin)
	s.child[1] = s.writer(cfg.Stdout, os.Stdout)
	s.child[2] = s.writer(cfg.Stderr, os.Stderr)
	return s
}

func (s *stdio) reader(r io.Reader, def *os.File) *os.File {
	if r == nil {
		return def
	}
	if f, ok := r.(*os.File); ok {
		return f
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return def
	}
	s.closeCh = append(s.closeCh, pr)
	s.parent = append(s.parent, pw)
	s.copies = append(s.copies, func() {
		io.Copy(pw, r)
		pw.Close()
	})
	return pr
}

func (s *stdio) writer(w io.Writer, def *os.File) *os.File {
	if w == nil {
		return def
	}
	if f, ok := w.(*os.File); ok {
		return f
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return def
	}
	s.closeCh = append(s.closeCh, pw)
	s.parent = append(s.parent, pr)
	s.wg.Add(1)
	s.copies = append(s.copies, func() {
		defer s.wg.Done()
		io.Copy(w, pr)
	})
	return pw
}

func (s *stdio) closeChildEnds() {
	for _, f := range s.closeCh {
		f.Close()
	}
}

func (s *stdio) start() {
	for _, c := range s.copies {
		go c()
	}
}

// wait returns when every output pipe reached EOF (no workload process holds
// it any more).
func (s *stdio) wait() { s.wg.Wait() }

func (s *stdio) closeParentEnds() {
	for _, f := range s.parent {
		f.Close()
	}
}
