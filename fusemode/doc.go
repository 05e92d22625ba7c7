// Package fusemode mounts a vfs.Pool with FUSE: `mfs mount`. It is a thin
// adapter from the kernel's FUSE requests onto vfs.FS and vfs.File; policy,
// placement and everything mergerfs decides live in vfs. This package owns
// what only a mount has: node ids, open handles, kernel caching, the caller's
// identity as FUSE reports it, and the mount options.
//
//	srv, err := fusemode.Mount(pool, "/mnt/pool", opts, fusemode.Settings{Logger: log})
//	...
//	srv.Unmount() // EBUSY while files are open; srv.Wait() returns once unmounted
//
// # Why the raw API
//
// It is built on go-fuse's wire-level interface (fuse.RawFileSystem), not on
// its fs package, because the fs package
//
//   - identifies kernel inodes by StableAttr and forces st_ino to it: two
//     different branch files with equal inode numbers (two disks numbering
//     alike, inodecalc=passthrough, a 32-bit hash collision) would merge into
//     one kernel inode and serve the wrong data;
//   - panics on a LOOKUP of "." or ".." and on node ids it does not know,
//     both of which NFS export produces (export-support);
//   - turns kernel passthrough on by itself for any handle with a
//     PassthroughFd method when running as root, bypassing nullrw, cache.files
//     and every later write hook.
//
// # Node table
//
// A node id stands for a name in a directory of the union (nodeTable). The
// table maps ids to nodes and (parent id, name) to the node the name leads
// to now; a node's union path is computed by walking its parents, so renaming
// a directory moves every path below it at no cost. Ids are never reused
// (a 64-bit counter) and carry one generation per mount (the mount's start
// time), so a file handle from an earlier daemon never names a new file.
//
// Identity: a lookup reuses the node of a name only if it still is the same
// file: directories (one union object across branches) by type, everything
// else by the branch file's own st_dev and st_ino. Otherwise the old node is
// detached and the name gets a fresh node. This keeps distinct branch files
// in distinct kernel inodes whatever inodecalc reports as st_ino (the
// inodecalc result is what stat(2) and readdir show), and it never changes
// the type of a kernel inode, which the kernel answers by marking the inode
// bad (EIO on every open descriptor). A GETATTR whose name now leads to
// another file answers ESTALE, which makes the kernel redo the lookup.
//
// Lifetime: every entry reply raises the node's lookup count, FORGET lowers
// it, and the node goes at zero, unless names in the table still hang below
// it (their paths are computed through it; NFS can forget a directory whose
// children it holds). With never-forget-nodes, a forgotten node whose name
// still leads to it is kept, so NFS handles stay valid; it goes once
// unlinked, renamed over or replaced. (go-fuse's own RememberInodes ignores
// FORGET but not BATCH_FORGET, so it is not used.) LOOKUP of "." and ".."
// resolve a node and its parent for exportfs; an unknown id is ESTALE.
// Unlink, rmdir and rename update the table after vfs succeeded; an
// unlinked node lives on for its open handles, through which GETATTR and
// SETATTR of an unlinked open file are served (fstat, fchmod, ftruncate,
// futimens on it work as on a local filesystem).
//
// Hard links are one node per name (as in libfuse's high-level API): both
// names report the same st_ino and link count, but a change through one name
// reaches the other's cached attributes only after cache.attr.
//
// # Caller identity
//
// FUSE passes only uid, gid and pid. A vfs.Cred gets the supplementary
// groups from the Groups: line of /proc/PID/status (cached per pid for a
// second), or, when the pid is gone or invisible (0), from the group
// database as initgroups(3) builds them. Groups are only looked up when they
// matter: the server is root and the caller is not. The umask comes with
// CREATE, MKDIR and MKNOD; the mount negotiates FUSE_DONT_MASK, so the mode
// arrives unmasked and vfs applies the umask unless the parent has a default
// ACL. With kernel-permissions-check (default_permissions, the default) the
// kernel checks permissions first; vfs then acts with the caller's identity,
// so the branch filesystem checks again and owns created files correctly.
//
// # Files and directories
//
// OPEN and CREATE wrap a vfs.File; READ and WRITE are pread/pwrite on its
// branch fd (a split WRITE goes to pwritev whole). FLUSH closes a dup of the
// fd, giving the branch filesystem its close-time flush; RELEASE closes it
// (dropcacheonclose first drops its page cache). nullrw answers reads and
// writes without touching the branch. LSEEK (SEEK_DATA/SEEK_HOLE), FALLOCATE
// and FSYNC act on the fd. O_DIRECT is not passed to the branch: go-fuse does
// not hand out block-aligned read buffers, and the mount's own page cache is
// bypassed anyway by the kernel.
//
// OPENDIR takes the merged listing (vfs.Readdir) as the handle's snapshot;
// READDIR offsets index into it (entry i carries offset i+1), so chunked
// getdents, telldir and seekdir stay consistent, and a rewind to offset 0
// takes a fresh snapshot. READDIRPLUS is off, as in mergerfs.
//
// # Caching
//
// Entry and attribute timeouts are cache.entry and cache.attr; a failed
// lookup is cached for cache.negative-entry (a node-id-0 reply). cache.files
// picks the open flags: off → FOPEN_DIRECT_IO (plus parallel direct writes),
// partial → page cache dropped at each open, full → FOPEN_KEEP_CACHE,
// auto-full → KEEP_CACHE while mtime and size are those of the previous open,
// per-process → partial for the comm names listed, off for the rest.
// direct-io-allow-mmap asks for FUSE_DIRECT_IO_ALLOW_MMAP so mmap works with
// cache.files=off. flush-on-close sets FOPEN_NOFLUSH. cache.writeback asks for
// the writeback cache and opens branch files O_RDWR without O_APPEND, since
// the kernel then reads to fill pages and sends appends at explicit offsets.
// cache.readdir keeps directory listings (FOPEN_CACHE_DIR). cache.symlinks
// and posix-acl switch the matching capabilities. Options the control file
// may change at run time (cache.files, cache.attr, ...) are reloaded after
// every successful setxattr on it.
//
// # Mount options
//
// fsname defaults to mergerfs's: the branch paths with their longest common
// byte prefix removed, joined by ':' (/mnt/disk1:/mnt/disk2 → "1:2"; nothing
// is removed when the first path is a prefix of all the others). The subtype
// is "mfs" (/proc/mounts shows fuse.mfs) unless subtype= is given.
// allow_other is added when the server runs as root, default_permissions when
// kernel-permissions-check is on. Mount words from the options pass through
// to fusermount3 (ro, noatime, nosuid, nodev, noexec, sync, ...), except
// mount(8)/fstab-only words (defaults, auto, noauto, user, users, nouser,
// owner, group, nofail, _netdev, comment=, x-*), which the kernel would
// reject. lazy-umount-mountpoint detaches a stale mount first. An option
// this front end cannot honour fails Mount with an error naming it.
//
// # Errors
//
// errno.go is the only place errors become reply statuses. ENOSYS reaches
// the kernel only from the xattr calls (xattr=nosys means exactly that):
// for most operations the kernel remembers ENOSYS and stops sending them, so
// an unexpected ENOSYS from vfs is logged and answered EIO.
//
// # Concurrency
//
// go-fuse serves every request on its own goroutine. State: nodeTable.mu
// (node and name indexes, open handles per node), handleTable.mu (fh → handle),
// handle.mu (one directory handle's snapshot), credCache.mu. No two are held
// at once, and none is held across a call into the pool, except handle.mu
// around the re-listing of a rewound directory (it serialises that one
// handle). vfs itself is safe for concurrent use.
//
// # Pitfalls avoided
//
//   - Serving a mount and touching it from the same process deadlocks on
//     page faults (a fault on a FUSE mapping holds the mm lock while the Go
//     runtime may need it to serve the READ) and around fork/exec. The
//     tests therefore run every forking tool and every mmap against a mount
//     served by a re-executed test binary; only plain syscalls use in-process
//     mounts.
//   - Splicing a 1 MiB reply needs a pipe larger than pipe-max-size; reads
//     come from a buffer anyway, so splice is off.
//   - WaitMount's poll probe looks up ".go-fuse-epoll-hack" at the root;
//     go-fuse answers it itself, so a file of that name at the pool root is
//     hidden.
//
// # Known gaps
//
// A write that fails with ENOSPC or EDQUOT goes through vfs.File.Write, which
// moves the file to a branch with room (moveonenospc) and retries.
//
// Not yet served: passthrough.io (refused at mount),
// readdirplus, copy_file_range, ioctl (FS_IOC_GETFLAGS/SETFLAGS),
// statx (the kernel falls back to GETATTR), tmpfile, O_DIRECT on the branch
// fd, read/process thread counts and
// pinning, branches-mount-timeout.
// Xattr calls on an unlinked open file answer ESTALE (vfs has no fd-based
// xattr calls). The request context handed to vfs is not cancelled by
// FUSE interrupts.
package fusemode
