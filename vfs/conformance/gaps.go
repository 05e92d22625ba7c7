package conformance

// KnownGaps lists, per target name, the cases that target is known to fail
// and why. Run logs their failures instead of reporting them, and fails if a
// listed case passes, so the list only ever shrinks as gaps are fixed. Every
// entry must name an existing case (TestKnownGaps). Front ends add their own
// target's entries here.
var KnownGaps = map[string]map[string]string{
	"vfs":        vfsGaps,
	"vfs-native": vfsGaps,
	"mount":      mountGaps,
	"run":        runGaps,
}

// runGaps are cases `mfs run` answers differently.
var runGaps = map[string]string{
	"io/moveonenospc-moves-file": "run: writes go to the injected branch fd and never reach the supervisor, " +
		"so moveonenospc cannot apply (documented; mfs run reports the option as not applying)",
	"readdir/no-branch-placeholder": "run: no branch holds the union root, so there is no branch directory " +
		"whose fd could be injected to serve the placeholder listing",
}

// mountGaps are cases a FUSE mount answers differently because the kernel
// answers before or after mfs does; the reason says which part is the
// kernel's and whether mfs could do better.
var mountGaps = map[string]string{
	"inode/devino-hash-dir-number-follows-branch": "kernel: a cached inode keeps the st_ino it was " +
		"created with; the new number shows only after the node is forgotten",
	"xattr/nosys-get":           "kernel: FUSE turns ENOSYS from an xattr call into EOPNOTSUPP (and stops sending them)",
	"xattr/nosys-set":           "kernel: FUSE turns ENOSYS from an xattr call into EOPNOTSUPP (and stops sending them)",
	"xattr/nosys-list":          "kernel: FUSE turns ENOSYS from an xattr call into EOPNOTSUPP (and stops sending them)",
	"xattr/nosys-remove":        "kernel: FUSE turns ENOSYS from an xattr call into EOPNOTSUPP (and stops sending them)",
	"pathkeys/nosys-hides-them": "kernel: FUSE turns ENOSYS from an xattr call into EOPNOTSUPP",
	"rename/root-ebusy":         "kernel: renaming a mount point is EXDEV before the filesystem is asked",
	"search/access-erofs": "kernel: with default_permissions (kernel-permissions-check=true) access(2) is " +
		"answered by the kernel from the mode bits and never reaches func.access",
}

// vfsGaps are vfs.Pool bugs found by the table. Through a FUSE mount some are
// masked by the kernel (it looks names up and checks their types before it
// asks the filesystem); `mfs run` sees all of them.
var vfsGaps = map[string]string{}
