package main

import (
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// mergerfsCompat is the mergerfs release whose semantics mfs follows.
const mergerfsCompat = "2.42.0"

// version is set at link time (-ldflags "-X main.version=..."); otherwise the
// module version or VCS revision from the build info is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the mfs version and the mergerfs release it is compatible with",
		Action: func(c *cli.Context) error {
			if err := rejectStrayFlags(c); err != nil {
				return usageError{err}
			}
			if c.NArg() > 0 {
				return usagef("'mfs version' takes no arguments, got %q", c.Args().First())
			}
			fmt.Fprintf(c.App.Writer, "mfs %s (mergerfs %s compatible)\n", versionString(), mergerfsCompat)
			return nil
		},
	}
}
