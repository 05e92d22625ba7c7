// Package vfs is the core of mfs: a union of directories ("branches") with
// mergerfs's semantics, served to two front ends (fusemode, a FUSE mount, and
// intercept, the seccomp supervisor of `mfs run`) through one interface, FS.
// Policy and placement live here and nowhere else.
//
// # Concepts
//
// A Pool is built from config.Options (the mergerfs option table lives in
// vfs/config, the 21 policies in vfs/policy, the copy engine in vfs/fileio).
// Each function (getattr, create, unlink, ...) has a policy; the policy's
// create, action or search behaviour picks branches (MERGERFS.md §3), and the
// operation acts on them with the multi-branch result rules of §4.
//
// Paths handed to FS are union paths relative to the union root, without a
// leading slash; "" is the root. Inside a branch every access starts at the
// branch root's directory fd and resolves with openat2
// (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): a root server cannot be raced out of
// a branch by a swapped symlink, and the operation then acts on a
// (parent fd, name) pair. Symlinks are resolved in the union namespace by the
// front end (the kernel above a mount; the Resolver under `mfs run`). One
// shortcut: a stat below a directory that such a walk passed within the
// last second is a single fstatat (realdirs.go); vfs's own renames and rmdirs
// forget those directories, and only metadata is read, with the caller's
// identity, so a symlink swapped in behind mfs's back shows nothing the
// caller could not stat itself. A miss below any other directory is a plain
// fstatat's ENOENT (the confined walk could not find more). The root fd is
// checked against the branch path (st_dev and st_ino) by every create and
// by any operation a second after the last check: a disk mounted on or
// unmounted from the branch path, or the directory removed and made again,
// is followed.
//
// # Identity
//
// Every operation takes the caller's Cred. When the server runs as root, the
// branch syscalls run on a locked OS thread with the caller's fsuid, fsgid and
// supplementary groups (per-thread raw syscalls) and without
// CAP_SYS_RESOURCE, so permissions, quotas and root-reserved blocks apply as
// they would to the caller. A thread whose identity cannot be restored is
// discarded. clonepath runs as the server, as in mergerfs, so parents copied
// from another branch keep their owner.
//
// # Directory times
//
// mergerfs changes a directory's visible mtime only on the branch that
// getattr reports. vfs also touches that copy when an entry is created or
// removed on another branch, and restores the times of parents into which
// clonepath creates directories, so a second identical `rsync -a` into the
// pool finds nothing to do.
//
// # Concurrency
//
// Pool is safe for concurrent use. Its configuration is an immutable state
// swapped atomically by the control file (Setxattr on .mergerfs); operations
// load it once. Lock order: Pool.mu (reconfiguration) → branch.mu (root fd and
// statvfs cache) ; dirLocks are taken without holding either. No lock is held
// across a branch syscall except the per-directory lock around clonepath's
// time restore.
package vfs
