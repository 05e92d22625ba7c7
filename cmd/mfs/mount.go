package main

import (
	"fmt"
	"os"

	"github.com/mfs-union/mfs/vfs/config"
)

// mountAndServe mounts the pool described by opts and serves it.
func mountAndServe(opts *config.Options, foreground, debug bool) int {
	fmt.Fprintf(os.Stderr, "mfs: the FUSE front end (mfs mount) is not part of this build yet; use 'mfs explain' to check placement\n")
	return exitError
}
