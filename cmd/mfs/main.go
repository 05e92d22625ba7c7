// Command mfs is a union filesystem with mergerfs's policies, served as a FUSE
// mount (`mfs mount`) or to one command without any mount (`mfs run`).
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mfs-union/mfs/intercept"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // runtime failure
	exitUsage = 2 // bad command line or options
)

// usageError marks errors in what the user typed.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	// The re-executed stub of `mfs run` installs the seccomp filter and execs
	// the workload; nothing else may run before it.
	if len(os.Args) > 1 && os.Args[1] == intercept.StubArg {
		os.Exit(intercept.StubMain(os.Args))
	}
	os.Exit(run(os.Args))
}

func run(args []string) int {
	// mergerfs-style invocations (argv[0] mergerfs, or a first word that is no
	// mfs command) go to one parser for mergerfs's whole grammar.
	switch filepath.Base(args[0]) {
	case "mergerfs", "mount.mfs", "mount.fuse.mfs", "mount.mergerfs":
		return runMergerfsStyle(args)
	}
	if len(args) > 1 && !isCommand(args[1]) {
		if w := args[1]; !strings.ContainsAny(w, "/:=.") && !strings.HasPrefix(w, "-") {
			if _, err := os.Stat(w); err != nil {
				fmt.Fprintf(os.Stderr, "mfs: unknown command %q%s; see 'mfs --help'\n", w, suggestCommand(w))
				return exitUsage
			}
		}
		return runMergerfsStyle(args)
	}
	app := newApp()
	if err := app.Run(permuteArgs(app, args)); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintf(os.Stderr, "mfs: %s\n", msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "mfs",
		Usage: "a union filesystem with mergerfs's policies: mount it, or run one command in it without a mount",
		Description: "Start with `make demo`. A mergerfs command line or fstab entry works with mfs in place of mergerfs:\n" +
			"   mfs /mnt/disk1:/mnt/disk2 /mnt/pool -o category.create=mfs",
		HideHelpCommand: true,
		Commands: append([]*cli.Command{
			versionCommand(),
			optionsCommand(),
			explainCommand(),
			mountCommand(),
			runCommand(),
			ctlCommand(),
			benchCommand(),
			benchWorkerCommand(),
		}, toolCommands()...),
		OnUsageError:   func(c *cli.Context, err error, isSub bool) error { return usageError{err} },
		ExitErrHandler: func(c *cli.Context, err error) {},
	}
}

// isCommand reports whether word is an mfs subcommand or a global flag.
func isCommand(word string) bool {
	switch word {
	case "-h", "--help", "help", "-v", "--version":
		return true
	}
	for _, c := range newApp().Commands {
		if c.Name == word {
			return true
		}
		for _, a := range c.Aliases {
			if a == word {
				return true
			}
		}
	}
	return false
}

// suggestCommand names the closest command to a mistyped one.
func suggestCommand(w string) string {
	best, bestD := "", 3
	for _, c := range newApp().Commands {
		if d := editDistance(w, c.Name); d < bestD {
			best, bestD = c.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// permuteArgs applies permuteFlags to the subcommand's arguments.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	for _, c := range app.Commands {
		// run: everything after the first positional is CMD's own.
		if c.Name == args[1] && c.Name != "run" {
			out := append([]string{args[0], args[1]}, permuteFlags(c, args[2:])...)
			return out
		}
	}
	return args
}
