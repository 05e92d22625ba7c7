// Package tools holds the pool tools of mfs: balance, dup, dedup, fsck,
// consolidate and collect-info, the jobs mergerfs users run with the
// mergerfs-tools Python scripts (MERGERFS.md §5), built into the mfs binary
// (`mfs balance`, ...; cmd/mfs/tools.go only parses flags and picks exit
// codes). They work on the branches directly, never through the mount, and
// on any pool: an mfs mount, a mergerfs mount, or a plain branch list.
//
// # Finding the pool
//
// Discover(path) reads the branch list from the control file of the mount
// that path belongs to: getxattr `user.mergerfs.branches` (modes and
// per-branch minfreespace included) or, where a daemon lacks that key,
// `user.mergerfs.srcmounts`, plus `user.mergerfs.minfreespace`, on
// `<mount>/.mergerfs` (MERGERFS.md §4.10). Both mfs and mergerfs answer
// them. path may be a directory inside the mount: Discover walks up to the
// mount root and returns the rest as the scope, so `mfs dedup
// /mnt/pool/photos` only looks at photos/. FromBranches parses a branch
// list given directly (`--branches /mnt/a:/mnt/b=NC`, mergerfs syntax,
// globs expanded).
//
// Branch modes are honoured as mergerfs's policies do: nothing is created on
// RO or NC branches (no move, copy or link targets them) and nothing is
// removed from RO branches. A target keeps its minfreespace (the branch's
// own, else the pool's; 0 with --branches).
//
// # Plans
//
// Every tool computes a Plan first and changes nothing while doing so:
// the Actions in order (move, copy, link, remove, chmod, chown, and the
// recovery actions finish, abandon and clean), the Notes for what it leaves
// alone and why, fsck's Issues, and the Fill of each branch before and after
// (projected from the actions' allocated bytes, per filesystem). A dry run
// prints the plan; a run calls Plan.Execute, which carries out exactly those
// actions in that order. Result.Done therefore equals Plan.Actions unless
// the world changed in between: an action whose file changed, vanished,
// appeared on the target or was opened for writing since the plan is
// skipped with a note (Result.Skipped), never done differently.
//
// Planning walks each branch (one goroutine per branch) below the scope
// with directory descriptors: openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
// RESOLVE_NO_XDEV from the branch root (component-wise O_NOFOLLOW on
// kernels without openat2). It never follows a symlink and never crosses
// into a filesystem mounted inside a branch (noted). Only regular files
// move; symlinks, devices, FIFOs and sockets are left alone, and fsck also
// compares directories. Branches on one filesystem (st_dev) are one unit:
// moving between them frees nothing, and a copy there is no redundancy.
//
// # Moves and crash safety
//
// Every byte goes through the vfs copy engine, fileio.CopyFileAt, with Sync
// and Verify (size, and the source's size and mtime unchanged during the
// copy) and, with ExecOptions.Verify (--verify), Checksum (a byte-for-byte
// re-read). CopyFileAt builds the copy as an unnamed O_TMPFILE inode or,
// where the target has none (FUSE, NFS), as a `.mfs-tmp.` temp file, fsyncs
// it, copies mode, owner, times, xattrs and inode flags (fileio.CopyMeta),
// and renames it into place; so a reader of the target sees no file or the
// complete one. Only then is the source removed. A move (OpMove) goes:
//
//  1. open the source and check it is the planned inode (ino, size,
//     mtime) with its planned number of hard links;
//  2. take a read lease (F_SETLEASE F_RDLCK): the kernel refuses it while
//     anyone has the file open for writing, and breaks it when someone
//     opens it for writing later;
//  3. set the move marker, xattr `user.mfs.move` = "<id>:<target branch>",
//     on the source inode;
//  4. CopyFileAt to the target with NoReplace (an existing file there is
//     never overwritten); the copy inherits the marker with the other
//     xattrs;
//  5. link the hard link group's other names to the copy on the target;
//  6. check the lease is intact and the source unchanged, else undo 4-5;
//  7. unlink the source names;
//  8. clear the marker on the target.
//
// A run killed anywhere (SIGKILL, power loss) leaves the old file, or the
// new one, or both with the marker, and at most one temp file. The next run
// of any tool plans the recovery first: a marked source whose target holds
// the path with the same marker is a move whose copy is complete, so it is
// finished (missing link names linked, source names removed, marker
// cleared; OpFinish), unless the source was written to after the copy,
// when both copies stay for fsck; a marked source without such a copy is
// a move that never published, and only its marker goes (OpAbandon). Temp
// files are removed (OpClean, with fileio.CleanTemps) when no process holds
// them open (/proc) and they are older than Common.TempGrace (5 s for the
// commands), which covers copies in progress on other hosts over NFS.
// Where the source filesystem has no user xattrs, moves run without the
// marker; an interrupted one may then leave two identical copies, which
// dedup removes.
//
// An interrupt (SIGINT/SIGTERM in the commands, a cancelled ctx here) stops
// between two actions; the action in progress completes or fails whole.
//
// # Files in use
//
// Planning reads /proc/*/fd and /proc/*/fdinfo for descriptors under the
// branches: a file some process has open for writing is not moved, removed,
// or used as a fix's source, and the note names the process. /proc shows
// other users' processes only to root, and misses writable shared mappings
// whose descriptor is closed; the lease at execution time (step 2) catches
// what /proc missed on local filesystems. Leases need the caller to own the
// file or CAP_LEASE, and FUSE and NFS do not offer them: there the plan's
// snapshot and the copy's verification remain. A writer holding a read
// lease's file blocks in open(2) until the move ends or lease-break-time
// (45 s by default) passes; the move then notices the broken lease and
// undoes itself.
//
// # Hard links
//
// balance and consolidate move a hard link group (all names of one inode
// on one branch) as a whole: one copy, then links. A group with a name
// outside the walked tree (scope, or the filters) cannot move whole and is
// skipped with a note. dup links, rather than copies, a group's further
// names on the target. dedup, fsck and prune act per name.
//
// # The tools
//
//   - Balance: until the fullest and the emptiest filesystem are within
//     Percent points of Use% (df's used/(used+avail)), move from the fullest
//     (with movable files) to the emptiest (with an RW branch) the largest
//     file or group not larger than the amount that would level the two
//     (capacities weighed), else the smallest larger one if it narrows the
//     gap. Filters: Include/Exclude globs (base name, or path with a '/')
//     and MinSize. A path already on the target is never moved there.
//   - Dup: every file on Count filesystems; new copies from the copy the
//     policy picks (newest, oldest, largest, smallest, mergerfs = first in
//     branch order, the one mergerfs shows) to the RW branch with the most
//     free space; existing copies are never overwritten. Prune removes
//     copies beyond Count, keeping RO copies first and then the best ones.
//   - Dedup: keep one copy (newest, oldest, largest, smallest, or the one
//     on the filesystem with the most free space) and remove the rest, but
//     not from RO branches; an action says when a removed copy differed.
//     Two branch paths showing the very same inode (overlapping branches)
//     are recognised and left alone.
//   - Fsck: copies whose type, permission bits, owner (or, CheckSize, size)
//     differ from the reference copy (the newest; with FixLargest the
//     largest). FixNewest/FixLargest chown and chmod the others (chown
//     first: it clears setuid bits) or replace a wrong-size copy with a
//     copy of the reference. Type differences are never fixed.
//   - Consolidate: every file below a directory onto one branch, the RW one
//     already holding most of it (with room for the rest) or To.
//   - CollectInfo: version, uname, FUSE mounts from /proc/mounts, every
//     user.mergerfs.* key of each pool's control file, statfs of each
//     branch, fstab lines; each mount bounded by a timeout, since a hung
//     FUSE daemon blocks every call on its mount.
//
// # Progress
//
// NewProgress draws, on a terminal, one status line (actions and files done
// of the total, bytes, rate, ETA) redrawn five times a second, with
// failures and skips printed above it; elsewhere one plain line per action
// and a summary. The ETA counts bytes of whole files (a copy cannot report
// its own progress).
//
// # Concurrency
//
// Execute runs its actions one at a time (one copy stream, which is what a
// pair of disks wants) and is not meant to run twice on one Plan at once.
// Two tool processes on one pool are safe as far as files go (NoReplace,
// the marker ids, leases and the plan checks keep them from undoing each
// other) but may plan against each other's half-done moves.
//
// # Speed
//
// BenchmarkBalance (bench_test.go) balances a full tmpfs branch against an
// empty one of the same size and times, on the same generated data and the
// same list of moves: Execute (mode=mfs; mode=mfs-verify with --verify),
// the copy engine alone (mode=engine: CopyFileAt and unlink per file, the
// bound) and `rsync -aHX --remove-source-files --files-from` (mode=rsync,
// which neither fsyncs nor verifies). Medians on the 2-core development VM
// (noisy neighbours):
//
//	go test -run '^$' -bench BenchmarkBalance -benchtime 5x -count 5 ./vfs/tools/
//	2,000 files / 200 MiB; 614 files, 100 MiB move:
//	  mfs 64 ms (1.56 GB/s)  mfs-verify 81 ms (1.24 GB/s)  engine 49 ms (2.03 GB/s)  rsync 192 ms (0.52 GB/s)
//
//	go test -run '^$' -bench BenchmarkBalance -benchtime 1x -count 3 -timeout 30m ./vfs/tools/ \
//	    -tools.files=10000 -tools.mib=5120
//	10,000 files / 5 GiB; 3,081 files, 2.4 GiB move:
//	  mfs 1.36 s (1.89 GB/s)  mfs-verify 2.34 s (1.10 GB/s)  engine 1.15-4.1 s  rsync 6.46 s (0.40 GB/s)
//
// A balance runs at 75-90% of the bare engine (the rest is the walk, the
// /proc scan, the lease and the marker) and 3-5 times rsync's speed.
package tools
