package policy

import "golang.org/x/sys/unix"

// Mode is a branch's mode as written in the branch list (PATH=RW|RO|NC).
type Mode uint8

const (
	RW Mode = iota // read-write: eligible for create, action and search
	RO             // read-only: left out of create and action
	NC             // no-create: left out of create only
)

// String returns the spelling used in branch lists.
func (m Mode) String() string {
	switch m {
	case RO:
		return "RO"
	case NC:
		return "NC"
	}
	return "RW"
}

// Space is what a policy needs of a branch's statvfs, measured at the branch root.
type Space struct {
	Avail    uint64 // f_bavail * f_frsize
	Used     uint64 // (f_blocks - f_bavail) * f_frsize
	ReadOnly bool   // ST_RDONLY in f_flag
}

// Env is the view of the pool that a policy consults. vfs implements it over
// its branches (with the cache.statfs statvfs cache); tests implement it with
// fakes. Branches are addressed by their index in configured order. Relative
// paths have no leading slash and the root is "".
//
// Implementations must be safe for concurrent use when the pool is.
type Env interface {
	// NumBranches returns the number of branches.
	NumBranches() int
	// Mode returns branch i's mode.
	Mode(i int) Mode
	// MinFreeSpace returns the minfreespace that applies to branch i (its own, or the global one).
	MinFreeSpace(i int) uint64
	// Space returns branch i's (possibly cached) statvfs figures.
	Space(i int) (Space, error)
	// Lstat reports whether rel exists on branch i and, if so, its mtime in whole seconds.
	Lstat(i int, rel string) (mtime int64, ok bool)
	// RandN returns a uniformly distributed number in [0, n); n > 0.
	RandN(n uint64) uint64
}

// Fn is one behaviour (create, action or search) of a policy. It appends the
// indices of the chosen branches to dst in configured order and returns them,
// or returns dst unchanged and a non-zero errno (EROFS > ENOSPC > ENOENT).
type Fn func(env Env, rel string, dst []int) ([]int, unix.Errno)
