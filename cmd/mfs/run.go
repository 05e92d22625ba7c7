package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mfs-union/mfs/intercept"
	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// runStatsEnv names a file the supervisor writes its counters to as JSON
// when the workload has exited (mfs bench reads it).
const runStatsEnv = "MFS_RUN_STATS"

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run CMD with each TARGET showing the union of its branches: no mount, no root, no FUSE",
		ArgsUsage: "--union TARGET=BRANCH1:BRANCH2[:...] [--union ...] [-o OPTIONS] -- CMD [ARGS...]",
		Description: "CMD and every process it starts see TARGET as the union of the branches, with mergerfs's\n" +
			"policies; everything else is the normal filesystem. TARGET need not exist. Path syscalls are\n" +
			"resolved by a seccomp supervisor and opened files are handed to CMD, so reads and writes run\n" +
			"natively. mfs run is not a sandbox: it never grants CMD more than it has without it.\n\n" +
			"Options that only a mount can honour are accepted and reported once as not applying:\n   " +
			strings.Join(mountOnlyOptions(), ", ") + "\n\nLIMITS:\n" + indent(intercept.Limits, "  "),
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "union", Aliases: []string{"u"}, Usage: "TARGET=BRANCH1:BRANCH2[:...] (repeatable)"},
			&cli.StringSliceFlag{Name: "o", Usage: "mergerfs options for every union, comma-separated (repeatable)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "trace every trapped syscall to stderr"},
			&cli.StringFlag{Name: "stats", Usage: "write the supervisor's counters (JSON) to FILE when CMD exits; - prints a summary to stderr"},
			&cli.BoolFlag{Name: "no-pid-namespace", Usage: "keep CMD in this PID and mount namespace (host pids, can signal host processes); " +
				"if the supervisor dies, only CMD is killed and the rest of the workload's trapped calls fail"},
		},
		Action: func(c *cli.Context) error {
			argv := c.Args().Slice()
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return usagef("usage: mfs run --union TARGET=BRANCHES -- CMD [ARGS...]: no CMD given")
			}
			unions := c.StringSlice("union")
			if len(unions) == 0 {
				return usagef("no --union given: mfs run --union /pool=/mnt/disk1:/mnt/disk2 -- CMD")
			}
			level := slog.LevelWarn
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
			us, err := buildUnions(unions, c.StringSlice("o"), logger, c.App.ErrWriter)
			if err != nil {
				return err
			}
			defer func() {
				for _, u := range us {
					u.Pool.Close()
				}
			}()
			profiling := false
			if path := os.Getenv(cpuProfileEnv); path != "" {
				// Profiling hook for performance work (mfs bench --profile):
				// the supervisor's CPU profile from start to the workload's end.
				if f, err := os.Create(path); err == nil {
					profiling = pprof.StartCPUProfile(f) == nil
					defer func() { pprof.StopCPUProfile(); f.Close() }()
				}
			}
			stats := &intercept.Stats{}
			code, err := intercept.Run(context.Background(), intercept.Config{
				Unions: us, Argv: argv, Env: workloadEnv(), Verbose: c.Bool("verbose"), Logger: logger, Stats: stats,
				NoPIDNamespace: c.Bool("no-pid-namespace"), Profiling: profiling,
			})
			for _, path := range []string{c.String("stats"), os.Getenv(runStatsEnv)} {
				if path != "" {
					writeStats(path, stats, c.App.ErrWriter)
				}
			}
			if err != nil {
				if code == 0 {
					code = exitError
				}
				return cli.Exit(err.Error(), code)
			}
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// cpuProfileEnv names a file mfs run and mfs mount write a CPU profile of
// themselves to.
const cpuProfileEnv = "MFS_CPUPROFILE"

// workloadEnv is the environment CMD gets: ours without the variables meant
// for this mfs run (a nested mfs run would act on them again).
func workloadEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, cpuProfileEnv+"=") && !strings.HasPrefix(kv, runStatsEnv+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// buildUnions parses each TARGET=BRANCHES, validates it against the others
// and builds its pool with the shared options plus mountpoint=TARGET.
func buildUnions(specs, oflags []string, logger *slog.Logger, warn io.Writer) ([]vfs.Union, error) {
	var items []string
	for _, o := range oflags {
		items = append(items, config.SplitOptionString(o)...)
	}
	var us []vfs.Union
	reported := false
	for _, spec := range specs {
		target, branches, ok := strings.Cut(spec, "=")
		if !ok || target == "" || branches == "" {
			return nil, usagef("--union %q: want TARGET=BRANCH1:BRANCH2, e.g. --union /pool=/mnt/disk1:/mnt/disk2", spec)
		}
		abs, err := filepath.Abs(target)
		if err != nil {
			return nil, usagef("--union %q: %v", spec, err)
		}
		if abs == "/" {
			return nil, usagef("--union %q: the target can not be /; pick a directory such as /pool", spec)
		}
		opts, err := config.Parse(append(append([]string{"branches=" + branches}, items...), "mountpoint="+abs))
		if err != nil {
			return nil, usageError{fmt.Errorf("--union %s: %w", target, err)}
		}
		for _, n := range opts.Notices {
			fmt.Fprintf(warn, "mfs: warning: --union %s: %s\n", target, n)
		}
		for _, b := range opts.Branches {
			if within(abs, b.Path) {
				return nil, usagef("--union %s: the target is inside its branch %s; the union would contain itself: pick a target outside the branches", target, b.Path)
			}
			if within(b.Path, abs) {
				return nil, usagef("--union %s: branch %s is inside the target, which hides it; keep branches outside the target", target, b.Path)
			}
			if fi, err := os.Stat(b.Path); err != nil || !fi.IsDir() {
				fmt.Fprintf(warn, "mfs: warning: branch %s is not an existing directory; it is passed over until it appears\n", b.Path)
			}
		}
		for _, prev := range us {
			if within(abs, prev.Target) || within(prev.Target, abs) {
				return nil, usagef("--union %s and --union %s overlap; give unions disjoint targets", prev.Target, abs)
			}
		}
		if !reported {
			reported = true
			if ignored := notApplying(opts); len(ignored) > 0 {
				fmt.Fprintf(warn, "mfs: note: %s only apply to a mount; mfs run ignores them\n", strings.Join(ignored, ", "))
			}
		}
		opts.Version = versionString()
		opts.PID = os.Getpid()
		pool, err := vfs.New(opts, vfs.Settings{Logger: logger})
		if err != nil {
			return nil, err
		}
		us = append(us, vfs.Union{Target: abs, Pool: pool})
	}
	return us, nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	dir = filepath.Clean(dir)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// mountOnlyOptions lists the visible options only a mount can honour.
func mountOnlyOptions() []string {
	var out []string
	for _, e := range config.Entries() {
		if e.MountOnly && !e.Hidden && !e.NoOp {
			out = append(out, e.Name)
		}
	}
	return append(out, "moveonenospc")
}

// notApplying names the options the user set that mfs run cannot honour.
func notApplying(o *config.Options) []string {
	only := mountOnlyOptions()
	var out []string
	for _, k := range o.ExplicitKeys() {
		if slices.Contains(only, k) {
			out = append(out, k)
		}
	}
	if len(o.MountOpts) > 0 {
		out = append(out, o.MountOpts...)
	}
	return out
}

func writeStats(path string, s *intercept.Stats, warn io.Writer) {
	if path == "-" {
		fmt.Fprint(warn, statsSummary(s))
		return
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintf(warn, "mfs: writing run statistics to %s: %v\n", path, err)
	}
}

// statsSummary is `--stats -`: what the union cost this run, for people.
func statsSummary(s *intercept.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mfs run: %d trapped calls: %d emulated in a union, %d continued outside; %v in the supervisor\n",
		s.Notifications, s.Emulated, s.Continued, s.Busy.Round(time.Microsecond))
	type row struct {
		name string
		st   intercept.SyscallStats
	}
	var rows []row
	for k, v := range s.BySyscall {
		if v.Notifications > 0 {
			rows = append(rows, row{k, v})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].st.Busy != rows[j].st.Busy {
			return rows[i].st.Busy > rows[j].st.Busy
		}
		return rows[i].name < rows[j].name
	})
	for _, r := range rows {
		per := time.Duration(0)
		if r.st.Notifications > 0 {
			per = r.st.Busy / time.Duration(r.st.Notifications)
		}
		fmt.Fprintf(&b, "  %-18s %7d calls %7d emulated %10v total %8v each\n", r.name, r.st.Notifications, r.st.Emulated,
			r.st.Busy.Round(time.Microsecond), per.Round(100*time.Nanosecond))
	}
	return b.String()
}

// indent prefixes every line of s with pre (help text under a heading).
func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}
