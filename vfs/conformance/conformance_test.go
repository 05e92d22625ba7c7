package conformance

import "testing"

// TestOracle runs the POSIX cases on a plain directory: Linux defines the
// expected results there.
func TestOracle(t *testing.T) { Run(t, Oracle{}, nil) }

// TestVFS runs every case on vfs.Pool directly, numbering inodes as a mount
// does (inodecalc) and pinning random draws to the first outcome.
func TestVFS(t *testing.T) { Run(t, VFS{Inodes: InodeCalc, Rand: RandFirst}, nil) }

// TestVFSNative runs every case again with the branch files' own inode
// numbers (what `mfs run` reports) and random draws pinned to the last
// outcome, so both ends of each randomised policy are exercised.
func TestVFSNative(t *testing.T) {
	Run(t, VFS{Label: "vfs-native", Inodes: InodeReal, Rand: RandLast}, nil)
}
