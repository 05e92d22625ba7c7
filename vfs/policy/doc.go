// Package policy implements mergerfs's branch-selection policies: given the
// branches of a pool and a path, which branch (or branches) an operation
// should use. It decides only; vfs carries the operation out.
//
// # Policies and behaviours
//
// A policy is a name (ff, epmfs, pfrd, ... 21 in all, see Names) with three
// behaviours, one per category of filesystem function (see Func and
// Category):
//
//   - Create picks where a new entry goes (create, mkdir, mknod, symlink).
//     The path it is given is the PARENT directory of the new entry, and
//     "exists" below means the parent exists on the branch.
//   - Action picks the branches an existing entry is changed on (chmod,
//     chown, link, rename, rmdir, setxattr, truncate, unlink, utimens, ...).
//   - Search picks the branch an entry is read from (getattr, open, access,
//     readlink, getxattr, listxattr).
//
// Every policy can be configured for every function. Look a policy up by
// name with Lookup and call the behaviour of the function's category. Each
// behaviour has the Fn signature: it appends branch indices to a caller's
// slice (so a reused slice costs no allocation) and returns an errno.
// Branches are numbered in configured order; paths are relative, with no
// leading slash, and the root is "".
//
// # Which branches are eligible
//
// A branch is filtered out (and its reason folded into the error) by the
// first failing check, in this order:
//
//	            create                  action             search
//	mode        RO or NC → EROFS        RO → EROFS         (ignored)
//	exists      ep* only → ENOENT       → ENOENT           → ENOENT
//	statvfs     fails → ENOENT          fails → ENOENT     fails → ENOENT (*)
//	read-only   ST_RDONLY → EROFS       ST_RDONLY → EROFS  (ignored)
//	space       avail < minfreespace    (ignored)          (ignored)
//	            → ENOSPC
//
// (*) Search reads statvfs only for policies that rank by space (mfs, lfs,
// lus, lup, pfrd and their ep/msp variants); ff, all, rand, newest and
// their ep variants search on existence alone. NC branches take part in action and search.
// The existence check is Env.Lstat, the figures come from Env.Space (vfs
// caches them per cache.statfs), and avail is f_bavail*f_frsize measured at
// the branch root.
//
// The non-ep create behaviours (ff, mfs, lfs, lus, lup, pfrd, rand, all) do
// not require the parent to exist; vfs clones the directory path onto the
// chosen branch. Their action and search behaviours are those of their ep
// variant, which always require the path. newest requires the path in all
// three behaviours even though it is not path-preserving.
//
// # Errors
//
// The error starts as ENOENT, and each filtered branch can raise it:
// EROFS > ENOSPC > ENOENT. So a pool whose branches are all full returns
// ENOSPC, and one with a read-only branch returns EROFS whatever else was
// wrong with the others. Search only ever fails with ENOENT. erofs fails
// every behaviour with EROFS without looking at any branch. On failure the
// dst slice is returned unchanged.
//
// # Choosing among eligible branches
//
//	ff, epff       the first eligible branch in configured order
//	mfs, epmfs     most space available; a tie goes to the LAST branch
//	lfs, eplfs     least space available; a tie goes to the LAST branch
//	lus, eplus     least space used; a tie goes to the FIRST branch
//	lup            least used/(used+avail), compared exactly; tie → FIRST;
//	               a branch with no space at all counts as 0% used
//	newest         largest mtime in whole seconds; a tie goes to the LAST
//	pfrd, eppfrd   random, weighted by space available (Env.RandN(total));
//	               a total of 0 chooses nothing and returns the error
//	rand, eprand   uniformly random among what all/epall would return
//	all, epall     every eligible branch, in configured order
//	msp*           create: the ep variant on the parent; while no branch is
//	               eligible, again on its parent, up to and including the
//	               root "", where it stops with the error folded over every
//	               level. Action and search are the ep variant's.
//
// all and epall are the only policies that return several branches, and
// only create()'s caller treats them specially: vfs makes directories,
// nodes and symlinks on every branch returned, but creates a regular file
// on the first one only (all then behaves as ff, epall as epff).
//
// The asymmetric tie-breaks are mergerfs's, kept for compatibility: on a
// pool of identical empty disks, mfs starts with the last disk and lus with
// the first.
//
// # Explaining a choice
//
// `mfs explain` answers "why did my file land on that disk?". It passes an
// Env that also implements Tracer, and the policy reports every branch it
// passed over with a Reason: ModeRO, ModeNC, Missing, StatfsFailed,
// ReadOnlyFS, NoSpace (the caller can print Avail and MinFreeSpace itself),
// NotChosen (eligible but another branch ranked higher, or lost the draw),
// or NotReached (ff-like policies stop at the first eligible branch and
// never look at the rest). Under the msp* policies the Env may implement
// Climber too, to learn which parent directory the reports that follow
// belong to. The policy checks for a Tracer with one type assertion per call,
// so an Env without one pays nothing else.
//
// # Concurrency
//
// Policies hold no state; they are safe for concurrent use as long as the
// Env is. Each call reads Env afresh, so figures may change between two
// branches of one scan; that is harmless (the statvfs cache makes it rare)
// and mergerfs behaves the same.
//
// # Differences from mergerfs
//
//   - msp* create stops at the root "". mergerfs 2.41+ tests for "/", which
//     a relative path never equals (see MERGERFS.md §3.3).
//   - pfrd maps the random draw onto half-open ranges, so a branch with no
//     space available never wins; mergerfs's ranges are shifted by one byte.
//     When the total exceeds 2^64 bytes the weights are scaled down.
//   - lup's used+avail cannot overflow here.
//   - Under newest, a branch with an older mtime is still checked in full, so
//     a Tracer sees its real reason; mergerfs skips checking it. The result
//     and the error are the same.
package policy
