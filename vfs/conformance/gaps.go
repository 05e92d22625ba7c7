package conformance

// KnownGaps lists, per target name, the cases that target is known to fail
// and why. Run logs their failures instead of reporting them, and fails if a
// listed case passes, so the list only ever shrinks as gaps are fixed. Every
// entry must name an existing case (TestKnownGaps). Front ends add their own
// target's entries here.
var KnownGaps = map[string]map[string]string{
	"vfs":        vfsGaps,
	"vfs-native": vfsGaps,
}

// vfsGaps are vfs.Pool bugs found by the table. Through a FUSE mount some are
// masked by the kernel (it looks names up and checks their types before it
// asks the filesystem); `mfs run` sees all of them.
var vfsGaps = map[string]string{}
