package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/fusemode"
	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// readyFdEnv names the fd on which a daemonised child reports "ok" once the
// mount is up, or the error that stopped it, to the parent that started it.
const readyFdEnv = "MFS_READY_FD"

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "mount the union of BRANCHES at MOUNTPOINT (FUSE; mergerfs options)",
		ArgsUsage: "BRANCH1:BRANCH2[:...] MOUNTPOINT",
		Description: "Runs in the background once the mount is ready, like mergerfs; -f stays in the foreground.\n" +
			"Unmount with 'fusermount3 -u MOUNTPOINT' or 'umount MOUNTPOINT'. See 'mfs options' for -o.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "o", Usage: "options, comma-separated (repeatable), e.g. -o category.create=mfs,allow_other"},
			&cli.BoolFlag{Name: "f", Aliases: []string{"foreground"}, Usage: "stay in the foreground"},
			&cli.BoolFlag{Name: "d", Aliases: []string{"debug"}, Usage: "trace FUSE requests (implies -f)"},
		},
		Action: func(c *cli.Context) error {
			if err := rejectStrayFlags(c); err != nil {
				return usageError{err}
			}
			var items []string
			for _, o := range c.StringSlice("o") {
				items = append(items, config.SplitOptionString(o)...)
			}
			opts, err := config.Parse(items)
			if err != nil {
				return usageError{err}
			}
			if err := opts.ApplyArgs(c.Args().Slice()); err != nil {
				return usageError{err}
			}
			if code := mountAndServe(opts, c.Bool("f"), c.Bool("d")); code != exitOK {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// mountAndServe validates opts, then mounts and serves the pool. Without
// foreground it re-executes itself in a new session and returns once the
// child reports the mount ready (or its error), as mergerfs does.
func mountAndServe(opts *config.Options, foreground, debug bool) int {
	// The daemon child validates again but stays quiet: its parent, which
	// shares its stderr until the mount is ready, said it all once.
	daemonChild := os.Getenv(readyFdEnv) != ""
	warnings, err := opts.Validate()
	if !daemonChild {
		for _, w := range warnings {
			fmt.Fprintf(os.Stderr, "mfs: warning: %s\n", w)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return exitUsage
	}
	if !daemonChild {
		for _, b := range opts.Branches {
			if fi, err := os.Stat(b.Path); err != nil || !fi.IsDir() {
				fmt.Fprintf(os.Stderr, "mfs: warning: branch %s is not an existing directory; it is kept and used once it appears\n", b.Path)
			}
		}
	}
	if fi, err := os.Stat(opts.Mountpoint); err != nil || !fi.IsDir() {
		fmt.Fprintf(os.Stderr, "mfs: mountpoint %s is not a directory: create it first (mkdir -p %s)\n", opts.Mountpoint, opts.Mountpoint)
		return exitUsage
	}
	if !foreground && !debug && !daemonChild {
		return daemonize()
	}
	return serve(opts, debug)
}

// serverEnv is this process's environment with the GODEBUG a FUSE server
// should run with (fusemode.ServerGODEBUG).
func serverEnv() []string {
	env := os.Environ()
	v, change := fusemode.ServerGODEBUG(os.Getenv("GODEBUG"))
	if !change {
		return env
	}
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	return append(out, "GODEBUG="+v)
}

// daemonize starts this command again in the foreground, detached in a new
// session, and waits for its readiness report.
func daemonize() int {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return exitError
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return exitError
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0] // keep argv[0] (mergerfs-style dispatch)
	cmd.Env = append(serverEnv(), readyFdEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	cmd.Stdin, cmd.Stdout = devnull, devnull
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "mfs: starting the daemon: %v\n", err)
		return exitError
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "ok" {
		cmd.Process.Release()
		return exitOK
	}
	cmd.Wait()
	if line != "" {
		fmt.Fprintf(os.Stderr, "mfs: %s\n", line)
	} else {
		fmt.Fprintf(os.Stderr, "mfs: the daemon exited before the mount was ready\n")
	}
	return exitError
}

// serve mounts and serves until unmounted or signalled.
func serve(opts *config.Options, debug bool) int {
	if _, change := fusemode.ServerGODEBUG(os.Getenv("GODEBUG")); change {
		// Started in the foreground (-f, systemd): start again with the
		// runtime setting a server wants, as the same process.
		if exe, err := os.Executable(); err == nil {
			err = syscall.Exec(exe, os.Args, serverEnv())
			fmt.Fprintf(os.Stderr, "mfs: warning: serving without GODEBUG=%s: %v\n", "schedtrace", err)
		}
	}
	var ready *os.File
	if os.Getenv(readyFdEnv) != "" {
		ready = os.NewFile(3, "ready")
		os.Unsetenv(readyFdEnv)
	}
	report := func(msg string) {
		if ready != nil {
			fmt.Fprintln(ready, msg)
			ready.Close()
			ready = nil
		}
	}
	// fail reports a start-up error once: to the starting process over the
	// readiness pipe (it prints it), or on stderr in the foreground.
	fail := func(err error) {
		if ready != nil {
			report(err.Error())
		} else {
			fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		}
	}
	level := slog.LevelWarn
	if debug || opts.Debug {
		level = slog.LevelDebug
	}
	logOut := os.Stderr
	if opts.LogFile != "" {
		f, err := os.OpenFile(opts.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fail(fmt.Errorf("log.file: %w", err))
			return exitUsage
		}
		defer f.Close()
		logOut = f
	}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	opts.Version = versionString()
	opts.PID = os.Getpid()
	pool, err := vfs.New(opts, vfs.Settings{Logger: logger})
	if err != nil {
		fail(err)
		return exitError
	}
	defer pool.Close()
	srv, err := fusemode.Mount(pool, opts.Mountpoint, opts, fusemode.Settings{Logger: logger, Debug: debug})
	if err != nil {
		fail(err)
		var ue interface{ Unwrap() []error }
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitError
	}
	if ready != nil {
		// A daemon keeps no terminal or pipe of its starter open (the starter's
		// caller may wait for EOF); logs go to log.file when set.
		report("ok")
		if devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
			unix.Dup2(int(devnull.Fd()), 2)
			devnull.Close()
		}
	}
	if path := os.Getenv(cpuProfileEnv); path != "" {
		// Profiling hook for performance work: a CPU profile of the daemon
		// from mount to unmount.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		for i := 0; i < 50; i++ {
			if srv.Unmount() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		logger.Warn("mount busy; leaving it to a lazy unmount", "mountpoint", opts.Mountpoint)
		unix.Unmount(opts.Mountpoint, unix.MNT_DETACH)
	}()
	srv.Wait()
	return exitOK
}
