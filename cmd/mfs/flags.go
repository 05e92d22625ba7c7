package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// permuteFlags moves the flags of cmd that appear after positional arguments
// in front of them, so `mfs explain BR PATH --json` works: urfave/cli v2 stops
// parsing flags at the first positional and would pass later ones through
// silently. Arguments after "--" are never touched. A flag-like argument that
// cmd does not define is left in place and refused by rejectStrayFlags.
func permuteFlags(cmd *cli.Command, args []string) []string {
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			name := strings.TrimLeft(a, "-")
			val := ""
			if j := strings.IndexByte(name, '='); j >= 0 {
				name, val = name[:j], name[j:]
			}
			if tv, ok := takesValue[name]; ok {
				flags = append(flags, a)
				if tv && val == "" && i+1 < len(args) {
					i++
					flags = append(flags, args[i])
				}
				continue
			}
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// rejectStrayFlags refuses positional arguments that look like flags, which
// would otherwise be taken as paths.
func rejectStrayFlags(c *cli.Context) error {
	for _, a := range c.Args().Slice() {
		if a == "--" {
			return nil
		}
		if len(a) > 1 && a[0] == '-' {
			return fmt.Errorf("unknown flag %q for 'mfs %s'; see 'mfs %s --help'", a, c.Command.Name, c.Command.Name)
		}
	}
	return nil
}
