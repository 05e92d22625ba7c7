// Command mfs is a union filesystem with mergerfs's policies, served as a FUSE
// mount (`mfs mount`) or to one command without any mount (`mfs run`).
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
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
	os.Exit(run(os.Args))
}

func run(args []string) int {
	// mergerfs-style invocations (argv[0] mergerfs, or a first word that is no
	// mfs command) go to one parser for mergerfs's whole grammar.
	if filepath.Base(args[0]) == "mergerfs" || (len(args) > 1 && !isCommand(args[1])) {
		return runMergerfsStyle(args)
	}
	app := newApp()
	if err := app.Run(permuteArgs(app, args)); err != nil {
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
		Commands: []*cli.Command{
			versionCommand(),
			optionsCommand(),
			explainCommand(),
		},
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

// permuteArgs applies permuteFlags to the subcommand's arguments.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	for _, c := range app.Commands {
		if c.Name == args[1] {
			out := append([]string{args[0], args[1]}, permuteFlags(c, args[2:])...)
			return out
		}
	}
	return args
}
