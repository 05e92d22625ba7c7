package main

import (
	"fmt"
	"os"

	"github.com/mfs-union/mfs/vfs/config"
)

// runMergerfsStyle handles `mergerfs [-o OPTS] BRANCHES MOUNTPOINT` and
// `mfs BRANCHES MOUNTPOINT -o OPTS`: parse, validate, then mount.
func runMergerfsStyle(args []string) int {
	m, err := parseMergerfsArgs(args[1:], config.SplitOptionString)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return exitUsage
	}
	if m.Version {
		fmt.Printf("mfs %s (mergerfs %s compatible)\n", versionString(), mergerfsCompat)
		return exitOK
	}
	if m.Help {
		fmt.Printf("Usage: mfs [options] <branches> <mountpoint>\n       mergerfs [options] <branches> <mountpoint>\n\nOptions (-o key=value,...):\n\n%s", config.Help())
		return exitOK
	}
	opts, err := config.Parse(m.Options)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return exitUsage
	}
	if len(m.Positional) == 1 && len(opts.Branches) == 0 {
		fmt.Fprintf(os.Stderr, "mfs: one argument (%s): give BRANCHES and MOUNTPOINT, e.g. mfs /mnt/disk1:/mnt/disk2 /mnt/pool\n", m.Positional[0])
		return exitUsage
	}
	if err := opts.ApplyArgs(m.Positional); err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return exitUsage
	}
	warnings, err := opts.Validate()
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "mfs: warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return exitUsage
	}
	return mountAndServe(opts, m.Foreground, m.Debug)
}
