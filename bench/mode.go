package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Mode is one way of serving the branches to the worker.
//
// The harness lays out each run as RUN/b1..bN (the branches, already holding
// the scenario's prepared files), RUN/mnt (an empty directory, the mountpoint
// or union target) and RUN/aux (the worker's scratch space). A mode may keep
// its own state in RUN/<mode>.* (logs, overlay's workdir).
type Mode interface {
	Name() string
	// Setup serves branches (RUN/b1..bN) and returns where and how the
	// worker runs. opts are extra mergerfs-style options from the command
	// line (-o), appended to the mode's own.
	Setup(ctx context.Context, branches []string, opts []string) (Env, error)
}

// Env is a served pool, ready for the worker.
type Env struct {
	// Dir is the directory the worker acts on.
	Dir string
	// Prefix is the command the worker runs under (empty for native, mount,
	// mergerfs, overlay; `mfs run --union TARGET=BR1:BR2 --` for run).
	Prefix []string
	// ExtraEnv is added to the environment of the prefixed command.
	ExtraEnv []string
	// ServerPID is the serving process (a FUSE daemon), 0 when there is none
	// (native, overlay) or when the process Prefix starts is the server.
	ServerPID int
	// PrefixServes says the first process of Prefix serves the pool (the
	// `mfs run` supervisor); its PID is known only once the worker starts.
	PrefixServes bool
	// StatsFile, if set, is where the server leaves its counters at exit
	// (RunStats, written by the `mfs run` supervisor).
	StatsFile string
	// Command is the setup command line, for the report.
	Command string
	// Log is the server's output file (FUSE modes), read by the probe for
	// warnings such as options the server overrode.
	Log string
	// Teardown unmounts and stops the server; nil when there is nothing to do.
	Teardown func(ctx context.Context) error
}

// plainDir is implemented by modes that serve one plain directory rather than
// a union: the harness gives them a single branch (native).
type plainDir interface{ plainDir() }

// prober is implemented by modes whose Setup starts nothing (run): Probe
// checks that the mode works at all, in scratch, before any run.
type prober interface {
	Probe(ctx context.Context, scratch string) error
}

// Unavailable says a mode cannot run on this machine, and why, in the
// words of the command that refused (its standard error).
type Unavailable struct {
	Mode   string
	Reason string
}

func (u *Unavailable) Error() string { return u.Mode + " unavailable: " + u.Reason }

// Mode names.
const (
	ModeNative           = "native"
	ModeRun              = "run"
	ModeMount            = "mount"
	ModePassthrough      = "mount-passthrough"
	ModeMergerfs         = "mergerfs"
	ModeOverlay          = "overlay"
	ModeMountDefaults    = "mount-defaults"
	ModeMergerfsDefaults = "mergerfs-defaults"
)

// AllModes lists every mode in report order.
var AllModes = []string{ModeNative, ModeRun, ModeMount, ModePassthrough, ModeMergerfs, ModeOverlay, ModeMountDefaults, ModeMergerfsDefaults}

// EquivalentOptions are the options given to both `mfs mount` and mergerfs
// so they are compared like with like: mfs's own defaults made explicit
// (pfrd create, ff search, 1 s attr/entry cache, no negative cache) plus what
// a mergerfs user typically sets (allow_other, use_ino, cache.files=off).
// mergerfs 2.33.5's own default create policy is epmfs, hence explicit.
var EquivalentOptions = []string{
	"allow_other", "use_ino", "cache.files=off", "category.create=pfrd", "category.search=ff",
	"category.action=epall", "cache.attr=1", "cache.entry=1", "cache.negative_entry=0", "dropcacheonclose=false",
}

// ModeConfig is what modes need from the command line.
type ModeConfig struct {
	MFS      string   // the mfs binary for run and mount
	Mergerfs string   // the mergerfs binary ("" = look up "mergerfs" in PATH)
	Pin      []string // prefix for server processes, e.g. taskset -c 0; empty when unpinned
	// SetupTimeout bounds a FUSE server's wait for its mount and the run
	// probe; 0 means 20 s.
	SetupTimeout time.Duration
	// ProfileDir, if set, asks the mfs servers for a CPU profile of each
	// run: MFS_CPUPROFILE=DIR/<scenario>-<mode>-<k>.pprof in their
	// environment (`mfs mount` writes it at unmount, `mfs run` when the
	// workload has ended).
	ProfileDir string
}

// profileEnv is the MFS_CPUPROFILE setting for the run laid out in run
// (RUN = ROOT/<scenario>/<mode>-<k>), or nil.
func (mc ModeConfig) profileEnv(run string) []string {
	if mc.ProfileDir == "" {
		return nil
	}
	name := filepath.Base(filepath.Dir(run)) + "-" + filepath.Base(run) + ".pprof"
	return []string{"MFS_CPUPROFILE=" + filepath.Join(mc.ProfileDir, name)}
}

func (mc ModeConfig) setupTimeout() time.Duration {
	if mc.SetupTimeout > 0 {
		return mc.SetupTimeout
	}
	return 20 * time.Second
}

// NewMode returns the mode called name.
func NewMode(name string, mc ModeConfig) (Mode, error) {
	switch name {
	case ModeNative:
		return nativeMode{}, nil
	case ModeOverlay:
		return overlayMode{}, nil
	case ModeRun:
		return &runMode{mfs: mc.MFS, timeout: mc.setupTimeout(), mc: mc}, nil
	case ModeMount, ModePassthrough, ModeMountDefaults:
		var opts []string
		switch name {
		case ModeMount:
			opts = EquivalentOptions
		case ModePassthrough:
			opts = append(append([]string{}, EquivalentOptions...), "passthrough.io=rw")
		}
		return &fuseMode{name: name, bin: mc.MFS, pin: mc.Pin, timeout: mc.setupTimeout(), mc: mc, mfs: true, args: func(branches []string, mnt string, extra []string) []string {
			return append(append([]string{"mount", "-f"}, optionArgs(opts, extra)...), strings.Join(branches, ":"), mnt)
		}}, nil
	case ModeMergerfs, ModeMergerfsDefaults:
		bin := mc.Mergerfs
		if bin == "" {
			bin = "mergerfs"
		}
		var opts []string
		if name == ModeMergerfs {
			opts = EquivalentOptions
		}
		return &fuseMode{name: name, bin: bin, pin: mc.Pin, timeout: mc.setupTimeout(), mc: mc, args: func(branches []string, mnt string, extra []string) []string {
			return append(append([]string{"-f"}, optionArgs(opts, extra)...), strings.Join(branches, ":"), mnt)
		}}, nil
	}
	return nil, fmt.Errorf("unknown mode %q; valid: %s", name, strings.Join(AllModes, ", "))
}

// optionArgs is "-o OPTS,EXTRA", or nothing when both are empty (the
// defaults modes without -o).
func optionArgs(opts, extra []string) []string {
	all := append(append([]string{}, opts...), extra...)
	if len(all) == 0 {
		return nil
	}
	return []string{"-o", strings.Join(all, ",")}
}

// runDirOf is RUN for branches RUN/b1..bN.
func runDirOf(branches []string) string { return filepath.Dir(branches[0]) }

// ---- native ----

type nativeMode struct{}

func (nativeMode) Name() string { return ModeNative }
func (nativeMode) plainDir()    {}
func (nativeMode) Setup(ctx context.Context, branches []string, opts []string) (Env, error) {
	return Env{Dir: branches[0], Command: "(a plain directory: " + branches[0] + ")"}, nil
}

// ---- overlay ----

// overlayMode mounts kernel overlayfs: upperdir is the first branch, the
// others are lowerdirs (leftmost on top), so every create lands in the first
// branch. A kernel reference point, not a mergerfs equivalent.
type overlayMode struct{}

func (overlayMode) Name() string { return ModeOverlay }
func (overlayMode) Setup(ctx context.Context, branches []string, opts []string) (Env, error) {
	run := runDirOf(branches)
	mnt := filepath.Join(run, "mnt")
	work := filepath.Join(run, "overlay.work")
	lower := branches[1:]
	if len(lower) == 0 {
		l := filepath.Join(run, "overlay.lower")
		if err := os.MkdirAll(l, 0o755); err != nil {
			return Env{}, err
		}
		lower = []string{l}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return Env{}, err
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"), branches[0], work)
	if err := unix.Mount("overlay", mnt, "overlay", 0, data); err != nil {
		return Env{}, &Unavailable{Mode: ModeOverlay, Reason: fmt.Sprintf("mount -t overlay: %v", err)}
	}
	return Env{
		Dir:     mnt,
		Command: fmt.Sprintf("mount -t overlay overlay -o %s %s", data, mnt),
		Teardown: func(ctx context.Context) error {
			return unmount(mnt)
		},
	}, nil
}

// ---- run ----

// runMode runs the worker under `mfs run --union MNT=BR1:BR2:... --`. The
// supervisor is the process the prefix starts; it is the worker's parent.
// Mount-only options do not apply; mfs's defaults equal the explicit
// options given to mount and mergerfs for everything else.
type runMode struct {
	mfs     string
	timeout time.Duration
	mc      ModeConfig
}

func (m *runMode) Name() string { return ModeRun }

func (m *runMode) prefix(target string, branches []string) []string {
	return []string{m.mfs, "run", "--union", target + "=" + strings.Join(branches, ":"), "--"}
}

// Probe runs `mfs run --union SCRATCH/t=SCRATCH/b -- true`: while `mfs run`
// is not part of the build, its error message is the reason.
func (m *runMode) Probe(ctx context.Context, scratch string) error {
	b := filepath.Join(scratch, "b")
	if err := os.MkdirAll(b, 0o755); err != nil {
		return err
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		return &Unavailable{Mode: ModeRun, Reason: "no 'true' command to probe with: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	argv := append(m.prefix(filepath.Join(scratch, "t"), []string{b}), truePath)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	groupKill(cmd)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() == context.DeadlineExceeded {
		return &Unavailable{Mode: ModeRun, Reason: fmt.Sprintf("the probe did not finish within %s; killed [%s]", m.timeout, shellJoin(argv))}
	}
	if err != nil {
		return &Unavailable{Mode: ModeRun, Reason: reasonFrom(err, out, argv)}
	}
	return nil
}

func (m *runMode) Setup(ctx context.Context, branches []string, opts []string) (Env, error) {
	run := runDirOf(branches)
	mnt := filepath.Join(run, "mnt")
	stats := filepath.Join(run, "run.stats.json")
	p := m.prefix(mnt, branches)
	return Env{
		Dir:          mnt,
		Prefix:       p,
		PrefixServes: true,
		StatsFile:    stats,
		ExtraEnv:     append([]string{runStatsEnv + "=" + stats}, m.mc.profileEnv(run)...),
		Command:      shellJoin(p) + " WORKER",
	}, nil
}

// ---- FUSE daemons: mfs mount, mfs mount with passthrough, mergerfs ----

// fuseMode starts a FUSE server in the foreground (-f) and waits for the
// mount to appear in /proc/self/mountinfo. If the server daemonizes anyway,
// the serving process is found by its open /dev/fuse and its command line.
type fuseMode struct {
	name    string
	bin     string
	pin     []string
	timeout time.Duration // for the mount to appear
	mc      ModeConfig
	mfs     bool // an mfs server (honours MFS_CPUPROFILE)
	args    func(branches []string, mnt string, extra []string) []string
}

func (m *fuseMode) Name() string { return m.name }

func (m *fuseMode) Setup(ctx context.Context, branches []string, opts []string) (Env, error) {
	run := runDirOf(branches)
	mnt := filepath.Join(run, "mnt")
	bin, err := exec.LookPath(m.bin)
	if err != nil {
		what := m.bin
		if m.name == ModeMergerfs {
			what = "mergerfs is not installed (apt-get install mergerfs)"
		}
		return Env{}, &Unavailable{Mode: m.name, Reason: what + ": " + err.Error()}
	}
	argv := append(append(append([]string{}, m.pin...), bin), m.args(branches, mnt, opts)...)
	logPath := filepath.Join(run, m.name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return Env{}, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	// A file, not a pipe: a daemon that kept a pipe open would block Wait.
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that a server that must be killed takes any
	// helper it started along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if m.mfs {
		if env := m.mc.profileEnv(run); env != nil {
			cmd.Env = append(os.Environ(), env...)
		}
	}
	if err := cmd.Start(); err != nil {
		return Env{}, &Unavailable{Mode: m.name, Reason: err.Error()}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	childGone := false
	deadline := time.Now().Add(m.timeout)
	for !strings.HasPrefix(mountedAt(mnt), "fuse") {
		select {
		case err := <-exited:
			childGone = true
			if err != nil {
				log, _ := os.ReadFile(logPath)
				return Env{}, &Unavailable{Mode: m.name, Reason: reasonFrom(err, log, argv)}
			}
			// Exited 0: it daemonized; keep waiting for the mount.
			exited = nil
		case <-ctx.Done():
			stopProcess(cmd, exited)
			return Env{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			if !childGone {
				stopProcess(cmd, exited)
			}
			log, _ := os.ReadFile(logPath)
			return Env{}, &Unavailable{Mode: m.name, Reason: fmt.Sprintf("no mount at %s after %s; the server was stopped: %s", mnt, m.timeout, trimForError(string(log)))}
		}
	}
	pid := 0
	if !childGone {
		pid = cmd.Process.Pid
	} else {
		pid = findFuseServer(mnt)
	}
	return Env{
		Dir:       mnt,
		ServerPID: pid,
		Command:   shellJoin(argv),
		Log:       logPath,
		Teardown: func(ctx context.Context) error {
			uerr := unmount(mnt)
			if !childGone {
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
					cmd.Process.Kill()
					<-exited
					if uerr == nil {
						uerr = fmt.Errorf("%s did not exit within 10 s of the unmount; killed", m.name)
					}
				}
			} else if pid > 0 {
				for i := 0; i < 1000 && processAlive(pid); i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}
			return uerr
		},
	}, nil
}

// stopProcess stops a server that never mounted: SIGTERM, then SIGKILL to
// its process group after 5 s.
func stopProcess(cmd *exec.Cmd, exited chan error) {
	unix.Kill(-cmd.Process.Pid, unix.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	// Whatever the server started and left behind (the group outlives its
	// leader while a member lives).
	unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
}

// groupKill makes cmd the leader of its own process group and has the
// context's cancellation (a timeout) kill the whole group: the `mfs run`
// supervisor, the worker under it and any tool the worker started.
func groupKill(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		return cmd.Process.Kill()
	}
}

// unmount detaches mnt, lazily if it stays busy.
func unmount(mnt string) error {
	var err error
	for i := 0; i < 50; i++ {
		err = unix.Unmount(mnt, 0)
		if err == nil || errors.Is(err, unix.EINVAL) { // EINVAL: not mounted
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err2 := unix.Unmount(mnt, unix.MNT_DETACH); err2 == nil {
		return fmt.Errorf("unmount %s: %v; detached lazily", mnt, err)
	}
	return fmt.Errorf("unmount %s: %w", mnt, err)
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// findFuseServer returns the process with /dev/fuse open whose command line
// names mnt (a daemonized server), or 0.
func findFuseServer(mnt string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cl, err := os.ReadFile(p + "/cmdline")
		if err != nil || !strings.Contains(string(cl), mnt) {
			continue
		}
		fds, _ := filepath.Glob(p + "/fd/*")
		for _, fd := range fds {
			if t, err := os.Readlink(fd); err == nil && t == "/dev/fuse" {
				pid, _ := strconv.Atoi(filepath.Base(p))
				return pid
			}
		}
	}
	return 0
}

// reasonFrom makes a one-line reason out of a failed command: the last
// non-empty lines of what it printed, else the error.
func reasonFrom(err error, out []byte, argv []string) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < 2; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			keep = append([]string{l}, keep...)
		}
	}
	msg := strings.Join(keep, " / ")
	if msg == "" {
		msg = err.Error()
	} else {
		msg += " (" + err.Error() + ")"
	}
	return fmt.Sprintf("%s [%s]", msg, shellJoin(argv))
}

// shellJoin quotes argv for a shell, for commands printed in reports.
func shellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
		}) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}
