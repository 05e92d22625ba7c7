// Package conformance is the shared conformance table of mfs: one list of
// cases, each a set of branch layouts, mergerfs options, one operation
// through the union and the expected errno, output and placement, run
// unchanged against every front end. The expectations are mergerfs 2.42's
// (MERGERFS.md §3 and §4) and, for plain POSIX behaviour, Linux's.
//
// # Targets
//
// A Target serves a union and hands out a Client that performs operations as
// that front end's users see them. This package provides:
//
//   - Oracle: the single branch directory itself, through real syscalls
//     (NewOSClient). Only cases marked POSIX run there; they define the
//     errnos the union front ends must return.
//   - VFS: a vfs.Pool called directly as root (vfs.RootCred), with paths
//     resolved in the union namespace by vfs.Resolver, as `mfs run` does.
//     conformance_test.go runs it twice: "vfs" reports inodecalc numbers (as a
//     mount does) and pins random draws to RandN()=0; "vfs-native" reports the
//     branch files' own st_ino (as `mfs run` does) and pins RandN()=n-1.
//
// # How a front end plugs in
//
// Implement Target and call Run from the front end's tests:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, mountTarget{}, nil)
//	}
//
// Open receives a UnionSpec: the populated branch directories with their
// modes and the -o items; UnionSpec.Args gives them as option items
// (branches= first). Open serves the union and returns a Client; it stops
// everything it started in t.Cleanup (a leaked mount or process must fail the
// test), and it must be safe to call from parallel subtests.
//
//   - A FUSE mount: mount the union on a fresh directory (served by a
//     separate `mfs mount` process, see STYLE.md) and return
//     NewOSClient(mountpoint, t.Logf). Features{Union: true, Inodes: InodeCalc,
//     Rand: RandFree}.
//   - `mfs run`: start a helper child under `mfs run` that reads Ops, performs
//     each with Do(NewOSClient(target, nil), op) and writes back the Result
//     (both are plain, JSON-friendly values); on the test side return
//     Proxy(target, send). Features{Union: true, Inodes: InodeReal, Rand:
//     RandFree}.
//
// Features says which cases apply (Union=false: POSIX cases only) and how to
// judge results that legitimately differ between front ends: Inodes selects
// the inode expectation a case states per front end (Expect.Ino), Rand which
// outcome of a randomised case must appear (RandFree accepts any of them).
//
// Clients act as root with umask 0 (NewOSClient and Run set the process
// umask; vfs.New does too). Client paths are union paths without a leading
// slash, "" being the root. Stat follows a final symlink, Lstat, Lchown,
// Utimens and the xattr calls do not, Chmod and Truncate do (chmod(2),
// truncate(2)), and Readdir leaves out "." and "..".
//
// # How to add a case
//
// Add a row to the table of its area (cases_*.go); Cases gathers them. The
// name is "area/what-it-shows" and must be unique; Doc says why when the name
// cannot (a spec section, a mergerfs quirk). Build rows with the helpers:
//
//	{Name: "rename/pp-removes-target-elsewhere",
//		Branches: bs(rw("a=new"), ro("b=old")),       // branch 0 RW, branch 1 RO
//		Opts:     o("category.create=epff"),          // -o items; o() adds minfreespace=1M
//		Op:       rename("a", "b"),
//		Want:     Expect{},                           // errno 0; fail(unix.EXDEV) etc.
//		Place:    places(nowhere("a"), at("b", 0).file("new"))},
//
// Branches: rw/ro/nc(lines...) with .tmpfs("8M") (a private tmpfs, so free
// space differs and is exact), .minfree("4M") (the branch's own
// minfreespace), .rofs() (the tmpfs is remounted read-only: ST_RDONLY) and
// .missing() (the directory does not exist).
//
// Layout lines (makefs style, as in os/root_test.go):
//
//	d/            directory (0755)          d/:0700      with a mode
//	f             empty file (0644)         f=text       with content
//	f=*2M         2 MiB of 'x'              f=x:0600     content and mode
//	l -> target   symlink                   p|           fifo
//	/:0711        the branch root's mode
//
// followed by optional attributes: " ~UID:GID" (owner), " [user.k=v]" (an
// xattr, repeatable) and " @SECS" (atime and mtime, applied after the whole
// layout so later entries do not move them). Parents are created 0755.
//
// Options: o(items...) starts with minfreespace=1M so temp-dir branches on
// the shared filesystem are never "full" under the 4G default; cases about
// minfreespace write their options out ([]string{"minfreespace=8M", ...})
// and use tmpfs sizes. Never let a case depend on the free space of the shared
// filesystem: other tests write to it, so space-ranking policies (mfs, lfs,
// lus, lup, pfrd, ...) get tmpfs branches (space3 ranks them all differently,
// tie3 makes every figure tie), and newest gets explicit mtimes. Options that
// set a placement-relevant policy should be explicit rather than rely on the
// pfrd default.
//
// Expectations (Expect): Err is always checked; the other fields only when
// set. Out/OutAnyOf for read, readlink, getxattr and listxattr output; N for
// xattr sizes; Stat is a spec like "f 0644 size=5 nlink=1 uid=0 mtime=1000";
// Ino states the inode rule per InodeMode ("branch:K", "same:PATH",
// "diff:PATH", "prev", "notprev", "lt32"); Names/Types/Has/Lacks for
// listings; Statfs names the branches whose statvfs must be summed (and
// those whose free space is reported as 0). {0}, {1}, ... expand to branch
// directories and {mnt} to Client.Root in outputs, xattr names and values and
// symlink targets. After adds follow-up operations with their own
// expectations.
//
// Placement (Place) is checked on the branch directories directly, after Op
// and After: at(path, i...) means exactly those branches hold path, in(path,
// i...) at least those, nowhere(path) none; .file(data), .dir(), .fifo(),
// .link(target), .perm(mode), .owner(u, g), .mtime(s) and .xattr(k, v) check
// each listed copy.
//
// Randomised policies (rand, eprand, pfrd, eppfrd, msppfrd) list every
// acceptable placement in AnyOf (and every acceptable output in OutAnyOf),
// ordered so that AnyOf[0] is what a random source returning 0 yields and the
// last element what one returning n-1 yields: uniform policies pick the first
// or last candidate in branch order, weighted ones the first or last
// candidate with free space.
//
// POSIX cases (px(...), POSIX: true) have exactly one plain RW branch on the
// shared filesystem and run against the oracle too. Write the expectation
// from Linux, run it on the oracle first (go test -run TestOracle), then on
// the union targets.
//
// The runner also checks fstest-style invariants on every successful readdir
// (unless the options let getattr pick another branch than readdir's first,
// change what lstat reports with follow-symlinks, or use cor): lstat of each
// entry agrees with its d_type and d_ino, and listing again gives the same
// entries. NewOSClient reads every directory in small getdents chunks and
// whole, and requires both to agree.
//
// TestTable checks the table: unique names, well-formed POSIX rows, options
// that parse, at least 150 cases, and every policy used as a create, an action
// and a search policy somewhere. TestHarnessDetects checks that wrong
// expectations are reported, so a green run means something.
//
// # Known gaps
//
// KnownGaps[target][case] = reason lists the cases a target is known to fail.
// The reason names the culprit precisely (file, function, what is wrong) or
// the missing feature. Run still executes these cases: it logs their
// failures, and fails with "known gap now passes: remove it from KnownGaps"
// when one passes, so the list only shrinks. Every entry must name an
// existing case (TestKnownGaps). A case is never commented out or deleted to
// make a run green, and nothing is skipped silently: cases that do not apply
// to a target (multi-branch cases on the oracle) create no subtest and are
// counted in the log, and the only environment skip is the tmpfs gate
// (requireMount: tmpfs branches need CAP_SYS_ADMIN), which fails instead of
// skipping when CI=true.
//
// # Running
//
//	go test -race ./vfs/conformance/     # as root; a few seconds
//
// Cases run as parallel subtests, each in its own t.TempDir with its own
// tmpfs mounts, unmounted in t.Cleanup (an unmount that fails because a
// branch fd leaked fails the case).
package conformance
