package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/tools"
)

// exitIssues is fsck's exit code when inconsistencies remain unfixed, as
// fsck(8)'s "errors left uncorrected".
const exitIssues = 4

// toolExit carries an exit code other than exitError; it implements
// cli.ExitCoder, so run() can honour it (errors.As to cli.ExitCoder).
type toolExit struct {
	code int
	err  error
}

func (e toolExit) Error() string { return e.err.Error() }
func (e toolExit) Unwrap() error { return e.err }
func (e toolExit) ExitCode() int { return e.code }

// toolCommands are the pool tools: balance, dup, dedup, fsck, consolidate
// and collect-info (see vfs/tools for what each does and how moves stay
// crash-safe).
func toolCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "balance",
			Usage:     "move files from the fullest branch to the emptiest until all are within PERCENT of each other",
			ArgsUsage: "MOUNT | --branches A:B [DIR]",
			Flags: append(commonToolFlags(),
				&cli.Float64Flag{Name: "percent", Aliases: []string{"p"}, Value: 2, Usage: "stop when the fullest and emptiest branch are this many points of use apart"},
				&cli.StringSliceFlag{Name: "include", Aliases: []string{"i"}, Usage: "only files matching `GLOB` (base name, or path if it has a /; repeatable)"},
				&cli.StringSliceFlag{Name: "exclude", Aliases: []string{"e"}, Usage: "skip files matching `GLOB` (repeatable)"},
				&cli.StringFlag{Name: "min-size", Aliases: []string{"s"}, Usage: "only files of at least `SIZE` (e.g. 100M)"},
			),
			Action: func(c *cli.Context) error {
				tc, err := newToolCtx(c, 1)
				if err != nil {
					return err
				}
				var min uint64
				if s := c.String("min-size"); s != "" {
					if min, err = config.ParseSize(s); err != nil {
						return usagef("--min-size %q: %v", s, err)
					}
				}
				if c.Float64("percent") < 0 {
					return usagef("--percent must not be negative")
				}
				f := tools.Filter{Include: c.StringSlice("include"), Exclude: c.StringSlice("exclude"), MinSize: int64(min)}
				if err := f.Validate(); err != nil {
					return usageError{err}
				}
				pl, err := tools.Balance(tc.pool, tools.BalanceOptions{Common: tc.common, Filter: f, Percent: c.Float64("percent")})
				return tc.finish(pl, err)
			},
		},
		{
			Name:      "dup",
			Usage:     "keep COUNT copies of each file across branches",
			ArgsUsage: "MOUNT | --branches A:B [DIR]",
			Flags: append(commonToolFlags(),
				&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 2, Usage: "copies to keep (on different filesystems)"},
				&cli.BoolFlag{Name: "prune", Usage: "remove copies beyond COUNT"},
				&cli.StringFlag{Name: "strategy", Aliases: []string{"s"}, Value: "mergerfs", Usage: "copy to copy from and keep: " + policyList(tools.DupPolicies)},
			),
			Action: func(c *cli.Context) error {
				tc, err := newToolCtx(c, 1)
				if err != nil {
					return err
				}
				pol, err := tools.ParsePolicy(c.String("strategy"), tools.DupPolicies)
				if err != nil {
					return usageError{err}
				}
				if c.Int("count") < 1 {
					return usagef("--count must be at least 1, got %d", c.Int("count"))
				}
				pl, err := tools.Dup(tc.pool, tools.DupOptions{Common: tc.common, Count: c.Int("count"), Prune: c.Bool("prune"), Policy: pol})
				return tc.finish(pl, err)
			},
		},
		{
			Name:      "dedup",
			Usage:     "remove extra copies of files, keeping one",
			ArgsUsage: "MOUNT | --branches A:B [DIR]",
			Flags: append(commonToolFlags(),
				&cli.StringFlag{Name: "strategy", Aliases: []string{"s"}, Value: "newest", Usage: "copy to keep: " + policyList(tools.DedupPolicies)},
			),
			Action: func(c *cli.Context) error {
				tc, err := newToolCtx(c, 1)
				if err != nil {
					return err
				}
				pol, err := tools.ParsePolicy(c.String("strategy"), tools.DedupPolicies)
				if err != nil {
					return usageError{err}
				}
				pl, err := tools.Dedup(tc.pool, tools.DedupOptions{Common: tc.common, Policy: pol})
				return tc.finish(pl, err)
			},
		},
		{
			Name:      "fsck",
			Usage:     "find copies of a file whose type, mode, owner (or size) differ; optionally fix them",
			ArgsUsage: "MOUNT | --branches A:B [DIR]",
			Description: "Exit status: 0 when the copies agree (or every difference was fixed), 4 when differences\n" +
				"remain (reported, --fix none, --dry-run, or unfixable), 1 on errors, 2 on usage errors.",
			Flags: append(commonToolFlags(),
				&cli.StringFlag{Name: "fix", Value: "none", Usage: "none (report), newest or largest: the copy the others are made like"},
				&cli.BoolFlag{Name: "check-size", Usage: "also compare sizes; a fix replaces copies of the wrong size"},
			),
			Action: func(c *cli.Context) error {
				tc, err := newToolCtx(c, 1)
				if err != nil {
					return err
				}
				fix, err := tools.ParseFix(c.String("fix"))
				if err != nil {
					return usageError{err}
				}
				pl, err := tools.Fsck(tc.pool, tools.FsckOptions{Common: tc.common, Fix: fix, CheckSize: c.Bool("check-size")})
				return tc.finish(pl, err)
			},
		},
		{
			Name:      "consolidate",
			Usage:     "gather the files of one directory onto a single branch",
			ArgsUsage: "MOUNT DIR | --branches A:B DIR",
			Flags: append(commonToolFlags(),
				&cli.StringFlag{Name: "to", Usage: "the `BRANCH` to gather onto (default: the one holding most of DIR, with room)"},
			),
			Action: func(c *cli.Context) error {
				tc, err := newToolCtx(c, 2)
				if err != nil {
					return err
				}
				pl, err := tools.Consolidate(tc.pool, tools.ConsolidateOptions{Common: tc.common, Dir: tc.common.Scope, To: c.String("to")})
				return tc.finish(pl, err)
			},
		},
		{
			Name:      "collect-info",
			Usage:     "print a support bundle for bug reports: version, mounts, control-file keys, branch statfs, kernel",
			ArgsUsage: "[MOUNT...]",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: "print the bundle as JSON"},
				&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "list what would be read, read nothing"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the bundle to `FILE` instead of standard output"},
			},
			Action: func(c *cli.Context) error {
				if err := rejectStrayFlags(c); err != nil {
					return usageError{err}
				}
				in := tools.CollectInfo(tools.InfoOptions{Version: versionString() + " (mergerfs " + mergerfsCompat + " compatible)",
					Mounts: c.Args().Slice(), DryRun: c.Bool("dry-run")})
				w := c.App.Writer
				if o := c.String("output"); o != "" {
					f, err := os.OpenFile(o, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
					if err != nil {
						return err
					}
					defer f.Close()
					w = f
				}
				if c.Bool("json") {
					return writeJSON(w, in)
				}
				in.Text(w)
				return nil
			},
		},
	}
}

// commonToolFlags are the flags every walking tool takes.
func commonToolFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "branches", Aliases: []string{"b"}, Usage: "work on these branches (`A:B`, mergerfs syntax) instead of a mount's"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan (what moves where, bytes, resulting fill per branch) and change nothing"},
		&cli.BoolFlag{Name: "json", Usage: "print the plan (and with a run, the result) as JSON"},
		&cli.BoolFlag{Name: "verify", Usage: "compare every copy with its source byte for byte before it replaces anything"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only failures, skips and the summary"},
		&cli.DurationFlag{Name: "temp-grace", Value: tools.DefaultTempGrace, Usage: "leave temp files of interrupted copies younger than this"},
	}
}

func policyList(ps []tools.Policy) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, "|")
}

// toolCtx is one tool invocation's parsed common state.
type toolCtx struct {
	c      *cli.Context
	pool   *tools.Pool
	common tools.Common
}

// newToolCtx resolves the pool. Without --branches the first argument is
// the mount (or a directory in it, which then scopes the walk); with it,
// the first argument, if any, is a directory. maxArgs counts the mount:
// consolidate takes MOUNT DIR (2), the others MOUNT (1).
func newToolCtx(c *cli.Context, maxArgs int) (*toolCtx, error) {
	if err := rejectStrayFlags(c); err != nil {
		return nil, usageError{err}
	}
	args := c.Args().Slice()
	name := c.Command.Name
	tc := &toolCtx{c: c, common: tools.Common{TempGrace: c.Duration("temp-grace")}}
	if spec := c.String("branches"); spec != "" {
		p, err := tools.FromBranches(spec)
		if err != nil {
			return nil, usageError{err}
		}
		tc.pool = p
		if len(args) > 1 {
			return nil, usagef("'mfs %s --branches' takes at most one DIR, got %q", name, args)
		}
		if len(args) == 1 {
			if tc.common.Scope, err = p.ScopeOf(args[0]); err != nil {
				return nil, usageError{err}
			}
		}
	} else {
		if len(args) == 0 {
			return nil, usagef("usage: mfs %s %s", name, c.Command.ArgsUsage)
		}
		if len(args) > maxArgs {
			return nil, usagef("'mfs %s' takes %s, got %d arguments", name, c.Command.ArgsUsage, len(args))
		}
		p, scope, err := tools.Discover(args[0])
		if err != nil {
			return nil, usageError{err}
		}
		tc.pool, tc.common.Scope = p, scope
		if len(args) == 2 {
			d := args[1]
			if filepath.IsAbs(d) {
				if tc.common.Scope, err = p.ScopeOf(d); err != nil {
					return nil, usageError{err}
				}
			} else {
				tc.common.Scope = strings.TrimPrefix(path.Join(scope, filepath.ToSlash(d)), "/")
				if strings.HasPrefix(tc.common.Scope, "..") {
					return nil, usagef("%s leaves the pool", d)
				}
			}
		}
	}
	if maxArgs == 2 && tc.common.Scope == "" {
		return nil, usagef("usage: mfs %s %s (DIR names the directory to gather)", name, c.Command.ArgsUsage)
	}
	return tc, nil
}

// finish prints the plan (dry run) or executes it with progress and prints
// the result, and picks the exit status.
func (tc *toolCtx) finish(pl *tools.Plan, err error) error {
	if err != nil {
		return err
	}
	c := tc.c
	out, errw := c.App.Writer, c.App.ErrWriter
	asJSON := c.Bool("json")
	if c.Bool("dry-run") {
		if asJSON {
			if err := writeJSON(out, struct {
				DryRun bool        `json:"dry_run"`
				Plan   *tools.Plan `json:"plan"`
			}{true, pl}); err != nil {
				return err
			}
		} else {
			pl.Text(out)
		}
		return tc.verdict(pl, nil)
	}
	if !asJSON {
		for _, n := range pl.Notes {
			fmt.Fprintf(out, "skip    %s: %s\n", n.Path, n.Reason)
		}
	}
	// The first SIGINT/SIGTERM stops the run between two files; after it
	// the signals' default action is back, so a second one ends the process
	// at once (nothing is lost either way: the next run cleans up).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
		case <-sigs:
			signal.Stop(sigs)
			fmt.Fprintln(errw, "\nmfs: interrupted: finishing the current file (interrupt again to stop at once; a later run cleans up)")
			cancel()
		}
	}()
	defer func() {
		signal.Stop(sigs)
		close(done)
		wg.Wait()
	}()
	tty := isTerminal(errw)
	prog := tools.NewProgress(errw, tty, c.Bool("quiet") || (asJSON && !tty))
	res := pl.Execute(ctx, tools.ExecOptions{Verify: c.Bool("verify"), Progress: prog})
	if asJSON {
		if err := writeJSON(out, struct {
			Plan   *tools.Plan   `json:"plan"`
			Result *tools.Result `json:"result"`
		}{pl, res}); err != nil {
			return err
		}
	} else {
		for _, f := range res.Fill {
			if f.Size > 0 {
				fmt.Fprintf(out, "fill    %s: %.1f%% of %s\n", f.Branch, f.PctAfter, tools.HumanBytes(int64(f.Size)))
			}
		}
		for _, is := range pl.Issues {
			if !is.Fixed {
				fmt.Fprintln(out, is.String())
			}
		}
	}
	return tc.verdict(pl, res)
}

// verdict maps the outcome to an error (and so to the exit status).
func (tc *toolCtx) verdict(pl *tools.Plan, res *tools.Result) error {
	name := tc.c.Command.Name
	if res != nil {
		if res.Interrupted {
			return fmt.Errorf("%s interrupted after %d of %d actions; run it again to continue", name, len(res.Done), len(pl.Actions))
		}
		if n := len(res.Failed); n > 0 {
			return fmt.Errorf("%s: %d of %d actions failed (first: %s: %s)", name, n, len(pl.Actions), res.Failed[0].Action.Path, res.Failed[0].Error)
		}
	}
	if name == "fsck" {
		unfixed := pl.Unfixed()
		if res == nil {
			unfixed = len(pl.Issues)
		}
		if unfixed > 0 {
			return toolExit{exitIssues, fmt.Errorf("fsck: %d differences between copies remain", unfixed)}
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal (the progress display then
// redraws one status line).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
