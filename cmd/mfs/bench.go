package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/mfs-union/mfs/bench"
)

// benchCommand is `mfs bench`: it parses flags and hands over to package
// bench, which owns scenarios, modes and reports (see bench/doc.go).
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure mfs against a plain directory, mergerfs and overlayfs, side by side, on fresh branches",
		Description: "Each scenario runs --runs times in every mode, modes interleaved run by run. The workload runs in a\n" +
			"   separate worker process (this binary, re-executed), the same code in every mode.\n" +
			"   Example: mfs bench --quick --modes native,mergerfs --html /tmp/bench.html",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scenarios", Usage: "scenario names, families or patterns, comma-separated (e.g. create-1000,list,read-*-cold); default all, see --list"},
			&cli.StringFlag{Name: "modes", Value: joinComma(bench.DefaultModes), Usage: "modes to compare, comma-separated"},
			&cli.IntFlag{Name: "branches", Value: 3, Usage: "branches per pool"},
			&cli.IntFlag{Name: "runs", Usage: "runs per scenario and mode", DefaultText: "3, or 1 with --quick"},
			&cli.BoolFlag{Name: "quick", Usage: "one size per scenario family and 1 run: about 30 s with the default modes"},
			&cli.StringFlag{Name: "json", Usage: "write every raw sample to `FILE` as JSON"},
			&cli.StringFlag{Name: "html", Usage: "write a self-contained page with SVG charts to `FILE`"},
			&cli.StringFlag{Name: "markdown", Usage: "write the tables and the verdict on each target of issue 6 to `FILE` as Markdown"},
			&cli.StringFlag{Name: "from", Usage: "run nothing: print the report saved by --json in `FILE` again (and write --html, --markdown from it)"},
			&cli.StringFlag{Name: "pin", Usage: "run the worker and the server under taskset -c `CPU` (one CPU: no cross-CPU wake-ups)"},
			&cli.StringFlag{Name: "dir", Value: "/var/tmp", Usage: "make the branches under `DIR` (local disk, not tmpfs)"},
			&cli.StringSliceFlag{Name: "o", Usage: "extra options for every FUSE mode (mount, mount-passthrough, mergerfs and the defaults modes; repeatable)"},
			&cli.Float64Flag{Name: "noise", Value: 1.5, Usage: "flag results whose slowest run exceeds the fastest by this factor"},
			&cli.DurationFlag{Name: "timeout", Usage: "limit per worker process (a run's untimed setup and its timed part each); a run over it is killed with its server and reported failed", DefaultText: "3m"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the work directory (branches, logs) for inspection"},
			&cli.StringFlag{Name: "profile", Usage: "write a CPU profile of each mfs server to `DIR`/SCENARIO-MODE-K.pprof (go tool pprof; the mfs mount daemon and the mfs run supervisor)"},
			&cli.BoolFlag{Name: "perf", Usage: "count CPU events of the worker and the server with perf_event_open: cycles and instructions per op, IPC, cache and branch misses (hardware counters, where the machine has them); the counters themselves add to every context switch, so compare such runs with each other"},
			&cli.BoolFlag{Name: "list", Usage: "list the scenarios and exit"},
			&cli.StringFlag{Name: "mfs", Usage: "the mfs binary serving run and mount (default: this one)", Hidden: true},
			&cli.StringFlag{Name: "mergerfs", Usage: "the mergerfs binary (default: mergerfs from PATH)", Hidden: true},
			&cli.IntFlag{Name: "cprobe-calls", Usage: "calls of each kind per C-probe run", DefaultText: "20000", Hidden: true},
			&cli.DurationFlag{Name: "setup-timeout", Usage: "how long a FUSE server may take to mount, and the run probe to finish", DefaultText: "20s", Hidden: true},
		},
		Action: func(c *cli.Context) error {
			if err := rejectStrayFlags(c); err != nil {
				return usageError{err}
			}
			if c.NArg() > 0 {
				return usagef("'mfs bench' takes no arguments, got %q; scenarios go in --scenarios", c.Args().First())
			}
			if c.Bool("list") {
				bench.PrintCatalogue(c.App.Writer)
				return nil
			}
			if from := c.String("from"); from != "" {
				return bench.Rerender(from, c.App.Writer, c.String("html"), c.String("markdown"))
			}
			var opts []string
			for _, o := range c.StringSlice("o") {
				opts = append(opts, bench.ParseList(o)...)
			}
			cfg := bench.Config{
				Scenarios:    c.String("scenarios"),
				Modes:        bench.ParseList(c.String("modes")),
				Branches:     c.Int("branches"),
				Runs:         c.Int("runs"),
				Quick:        c.Bool("quick"),
				JSON:         c.String("json"),
				HTML:         c.String("html"),
				Markdown:     c.String("markdown"),
				Profile:      c.String("profile"),
				Perf:         c.Bool("perf"),
				Pin:          c.String("pin"),
				Dir:          c.String("dir"),
				Options:      opts,
				Noise:        c.Float64("noise"),
				Timeout:      c.Duration("timeout"),
				Keep:         c.Bool("keep"),
				MFS:          c.String("mfs"),
				SetupTimeout: c.Duration("setup-timeout"),
				CProbeCalls:  c.Int("cprobe-calls"),
				Mergerfs:     c.String("mergerfs"),
				Args:         append([]string{"mfs"}, os.Args[1:]...),
				MFSVersion:   versionString(),
			}
			if err := cfg.Validate(); err != nil {
				var u *bench.UsageError
				if errors.As(err, &u) {
					return usageError{err}
				}
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err := bench.Run(ctx, cfg, c.App.Writer, c.App.ErrWriter)
			return err
		},
	}
}

// benchWorkerCommand is the hidden worker that `mfs bench` re-executes this
// binary as; its protocol is in bench/worker.go.
func benchWorkerCommand() *cli.Command {
	return &cli.Command{
		Name:   bench.WorkerCommand,
		Hidden: true,
		Usage:  "run one benchmark workload (started by mfs bench)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scenario", Usage: "the scenario to run (see mfs bench --list)"},
			&cli.StringFlag{Name: "dir", Required: true},
			&cli.StringFlag{Name: "aux"},
			&cli.StringFlag{Name: "shared"},
			&cli.BoolFlag{Name: "standalone", Usage: "no handshake: run at once and print the result"},
			&cli.StringFlag{Name: "phase", Value: bench.PhaseAll, Usage: "all, setup (the untimed setup only), timed (no setup) or none (start-up baseline)"},
			&cli.StringFlag{Name: "loop", Usage: "instead of a scenario, repeat one operation (" + joinComma(bench.Ops) + ") --n times and print ns per call"},
			&cli.IntFlag{Name: "n", Value: 10000, Usage: "calls for --loop"},
		},
		Action: func(c *cli.Context) error {
			return bench.Worker(context.Background(), bench.WorkerArgs{
				Scenario:   c.String("scenario"),
				Dir:        c.String("dir"),
				Aux:        c.String("aux"),
				Shared:     c.String("shared"),
				Standalone: c.Bool("standalone"),
				Phase:      c.String("phase"),
				Loop:       c.String("loop"),
				N:          c.Int("n"),
			}, os.Stdin, os.Stdout)
		},
	}
}

func joinComma(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}
