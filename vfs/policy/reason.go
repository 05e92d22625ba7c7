package policy

import "golang.org/x/sys/unix"

// Reason says why a policy passed over a branch. It is what a Tracer
// receives, and what `mfs explain` prints next to each branch.
type Reason uint8

// none is the zero Reason: the branch is eligible. It is never reported.
const none Reason = 0

const (
	ModeRO       Reason = iota + 1 // the branch is mounted RO (create and action)
	ModeNC                         // the branch is mounted NC (create only)
	Missing                        // the path (for create: the parent dir) does not exist on the branch
	StatfsFailed                   // statvfs on the branch root failed
	ReadOnlyFS                     // the branch's filesystem is read-only (ST_RDONLY; create and action)
	NoSpace                        // space available is below the branch's minfreespace (create only)
	NotChosen                      // eligible, but the policy preferred another branch
	NotReached                     // never examined: a first-found policy stopped at an earlier branch
	numReasons
)

var reasonNames = [numReasons]string{
	none:         "eligible",
	ModeRO:       "branch mode is RO",
	ModeNC:       "branch mode is NC",
	Missing:      "path does not exist",
	StatfsFailed: "statvfs failed",
	ReadOnlyFS:   "filesystem is read-only",
	NoSpace:      "below minfreespace",
	NotChosen:    "not chosen",
	NotReached:   "not reached",
}

// String returns a short human-readable explanation.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown reason"
}

// Errno returns the error the reason folds into when no branch is chosen:
// EROFS for ModeRO, ModeNC and ReadOnlyFS, ENOSPC for NoSpace, ENOENT for
// Missing and StatfsFailed, and 0 for NotChosen and NotReached, which are not
// failures.
func (r Reason) Errno() unix.Errno {
	switch r {
	case ModeRO, ModeNC, ReadOnlyFS:
		return unix.EROFS
	case NoSpace:
		return unix.ENOSPC
	case Missing, StatfsFailed:
		return unix.ENOENT
	}
	return 0
}

// A Tracer is an Env that wants to know why branches were passed over. If
// the Env given to a policy implements it, the policy calls Skipped for each
// branch it did not return, once per branch per scan, in no guaranteed
// order. Every branch is then either in the result or reported, except under
// erofs, which looks at no branch at all.
//
// Skipped is called synchronously from the policy, on the caller's goroutine.
type Tracer interface {
	Skipped(i int, why Reason)
}

// A Climber is a Tracer that also wants to follow the msp* create policies
// up the tree. Climbed(rel) is called before each rescan at a parent
// directory, so the reports that follow belong to rel; the reports before
// the first call belong to the path the policy was given.
type Climber interface {
	Tracer
	Climbed(rel string)
}
