package main

import (
	"fmt"
	"strings"
)

// mergerfsArgs is a mergerfs-style invocation: `mergerfs [-o OPTS]... BRANCHES... MOUNTPOINT`,
// as written in fstab lines and scripts.
type mergerfsArgs struct {
	Options    []string // -o items in order, comma-split
	Positional []string
	Foreground bool
	Debug      bool
	Version    bool
	Help       bool
}

// parseMergerfsArgs parses mergerfs's whole command-line grammar: any number
// of positionals (each may be a ':' list of branches; the last is the
// mountpoint unless mountpoint= is given), -o repeated or glued (-oallow_other),
// -f, -d, -v/-V/--version, -h/--help. Anything else that looks like a flag is
// an error naming it.
func parseMergerfsArgs(args []string, split func(string) []string) (mergerfsArgs, error) {
	var m mergerfsArgs
	rest := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if rest || a == "-" || !strings.HasPrefix(a, "-") {
			m.Positional = append(m.Positional, a)
			continue
		}
		switch {
		case a == "--":
			rest = true
		case a == "-o":
			if i+1 >= len(args) {
				return m, fmt.Errorf("-o needs a value: -o OPTION[,OPTION...]")
			}
			i++
			m.Options = append(m.Options, split(args[i])...)
		case strings.HasPrefix(a, "-o"):
			m.Options = append(m.Options, split(a[2:])...)
		case a == "-f" || a == "--foreground":
			m.Foreground = true
		case a == "-d" || a == "--debug":
			m.Debug = true
		case a == "-v" || a == "-V" || a == "--version":
			m.Version = true
		case a == "-h" || a == "--help":
			m.Help = true
		case a == "-s" || a == "-n": // libfuse single-threaded / mount(8) no-mtab: accepted, nothing to do
		default:
			return m, fmt.Errorf("unknown flag %q: mergerfs-style invocations accept -o OPTIONS, -f, -d, -v, -h", a)
		}
	}
	return m, nil
}

// branchesAndMountpoint splits positionals into a branch list and a
// mountpoint following mergerfs: every positional but the last is a branch
// list, the last is the mountpoint, unless mountpoint= was set as an option,
// in which case all positionals are branches.
func (m mergerfsArgs) branchesAndMountpoint(mountpointOpt string) (branches, mountpoint string, err error) {
	pos := m.Positional
	if mountpointOpt != "" {
		return strings.Join(pos, ":"), mountpointOpt, nil
	}
	if len(pos) == 0 {
		return "", "", fmt.Errorf("missing BRANCHES and MOUNTPOINT: usage: mfs mount BRANCH1:BRANCH2 MOUNTPOINT [-o OPTIONS]")
	}
	if len(pos) == 1 {
		return "", pos[0], nil
	}
	return strings.Join(pos[:len(pos)-1], ":"), pos[len(pos)-1], nil
}
