package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mfs-union/mfs/vfs/config"
)

func optionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "options",
		Usage: "list every option with its values, default and meaning",
		Action: func(c *cli.Context) error {
			if err := rejectStrayFlags(c); err != nil {
				return usageError{err}
			}
			if c.NArg() > 0 {
				return usagef("'mfs options' takes no arguments, got %q", c.Args().First())
			}
			fmt.Fprint(c.App.Writer, config.Help())
			return nil
		},
	}
}

// parseOptions parses -o values (each comma-separated) plus a branch list.
func parseOptions(branches string, oflags []string) (*config.Options, error) {
	var items []string
	if branches != "" {
		items = append(items, "branches="+branches)
	}
	for _, o := range oflags {
		items = append(items, config.SplitOptionString(o)...)
	}
	opts, err := config.Parse(items)
	if err != nil {
		return nil, usageError{err}
	}
	opts.Version = versionString()
	return opts, nil
}
