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
// A mount unmounted in the server's own mount namespace but still present
// as copies in namespaces made before the unmount (unshare -m, containers,
// systemd's PrivateTmp, `mfs run`) would keep its connection, and the
// daemon, alive until the last process of those namespaces exits: the
// kernel ends a FUSE connection only with the last mount of its superblock.
// mergerfs stays up then; mfs ends the connection (fusectl abort) once the
// mount is gone from /proc/self/mountinfo, no file or directory is open and
// no LOOKUP or GETATTR has arrived for 2 s (mount.go, watchUnmount), so an
// unmount ends the daemon; such a copy then answers ENOTCONN.
//
// GOGC: the server runs with GOGC=25 unless GOGC is set (mount.go,
// serverGCPercent): its live heap is mostly fixed request buffers, and the
// default doubling put the resident set at about twice it.
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
//     and every later write hook. Here passthrough happens only where
//     passthrough.io asks for it (passthrough.go).
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
// (dropcacheonclose first drops its page cache). nullrw answers reads (with
// zeros) and writes without touching the branch. LSEEK (SEEK_DATA/SEEK_HOLE),
// FALLOCATE and FSYNC act on the fd. O_DIRECT is not passed to the branch: go-fuse does
// not hand out block-aligned read buffers, and the mount's own page cache is
// bypassed anyway by the kernel. An OPEN whose name now leads to another
// file than the kernel's inode (rename-exdev left a symlink there, another
// process replaced it) answers ESTALE, and the kernel looks the name up again
// and retries.
//
// COPY_FILE_RANGE runs copy_file_range(2) between the two handles' branch
// fds; when the branch filesystems cannot (EXDEV across filesystems, or the
// other "not supported" errors vfs/fileio falls back on) or the target is
// full, it copies with pread and vfs.File.Write (moveonenospc included),
// stopping at the end of the source like the syscall. One request copies
// less than 4 GiB (the reply is 32 bits).
//
// IOCTL forwards the inode flag calls of chattr/lsattr (FS_IOC_GETFLAGS and
// SETFLAGS, the value clamped to 4 bytes) and FS_IOC_FSGETXATTR/FSSETXATTR,
// which the kernel's fileattr code sends as part of every chattr since Linux
// 5.13, to the branch file (a directory is opened on its func.open branch
// for the call). The kernel has already checked ownership and
// CAP_LINUX_IMMUTABLE on the mount's inode. Everything else, btrfs's
// ioctls (type 0x94) included, answers ENOTTY, as in mergerfs.
//
// OPENDIR takes the merged listing (vfs.Readdir) as the handle's snapshot;
// READDIR offsets index into it (entry i carries offset i+1), so chunked
// getdents, telldir and seekdir stay consistent, and a rewind to offset 0
// takes a fresh snapshot. READDIRPLUS (unlike mergerfs, which disables it)
// serves the same snapshot with each entry's lookup: node id, attributes,
// timeouts, each counted as a lookup the kernel will FORGET. The mount asks
// for FUSE_READDIRPLUS_AUTO, so the kernel uses it for a listing's first
// batch and for as long as the caller stats what it lists (ls -l), plain
// READDIR otherwise (ls). A first batch is answered with names only (node
// id 0: no lookup, no attributes) unless the directory's previous listing
// went on in READDIRPLUS (the caller stat-ed it), so a plain listing does
// not pay a lookup per name (dir.go; an ad-hoc loop showed 570-790 →
// 160-310 µs per 101-name listing, BenchmarkOp readdir did not confirm it:
// bench/RESULTS.md). Measured on a 1,000-entry directory merged from 3
// branches (`cache.files=off`, dentries and inodes dropped before each run
// with `echo 2 > /proc/sys/vm/drop_caches`, median of 21 runs of
// `ls -l mnt/d >/dev/null` or `ls -1 ...`, the daemon and ls pinned to CPU 0
// with `taskset -c 0` or not):
//
//	                 ls -l pinned  ls -l unpinned  ls -1 pinned  ls -1 unpinned
//	READDIR only        60.5 ms      123-128 ms       5.2 ms        4.4-4.6 ms
//	READDIRPLUS auto    49.8 ms       89-96 ms        6.4 ms        5.7-5.8 ms
//	READDIRPLUS always  47.4 ms       92-100 ms      15.1 ms           -
//
// Always-plus costs plain ls a stat per name for nothing; auto keeps most of
// the ls -l gain for about 1 ms on plain ls.
//
// ls -l then reads two attributes of every entry (GETXATTR of
// security.selinux and system.posix_acl_access, never cached by the
// kernel). While the node's last entry reply is still in the kernel's
// caches, they are read on the branch that reply's lookup found the file on
// (vfs.GetxattrFound: only when func.getxattr is func.getattr's policy, and
// a search again if the file has left that branch): two branch lookups per
// attribute saved. `mfs bench --scenarios ls-l-1000 --modes mount,mergerfs
// --runs 3 --pin 0`, two alternating pairs: mount 450-461 → 406-415 ms,
// mergerfs 435-447 ms.
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
// # Kernel passthrough (passthrough.io)
//
// With passthrough.io=ro|wo|rw the kernel reads, writes, splices and mmaps
// the branch file itself (FUSE passthrough, Linux ≥ 6.9, root): the daemon
// registers the branch fd of an open as a backing file and answers the open
// with FOPEN_PASSTHROUGH and the backing id; READ and WRITE never reach it.
// ro covers O_RDONLY opens, wo O_WRONLY, rw all. The kernel allows one
// backing file per inode and no mix of passthrough and caching opens, so a
// node keeps one shared backing id and a count of its handles: while a node
// is open with passthrough every further open of it shares the backing
// (whatever its access mode, as mergerfs does), while it is open without,
// further opens stay without, and the id is unregistered at the last
// release. A passthrough open carries no FOPEN_KEEP_CACHE or DIRECT_IO (the
// kernel refuses the first and lets the second override passthrough);
// cache.files=off becomes auto-full and cache.writeback false, as in
// mergerfs. Passthrough I/O bypasses nullrw and moveonenospc (a full branch
// reports ENOSPC). passthrough.max-stack-depth is sent with INIT
// (MountOptions.MaxStackDepth).
//
// Measured: sequential read of a 1 GiB file on one ext4 branch, page cache
// warm, `dd if=FILE of=/dev/null bs=1M` timed by a shell loop, median of 7
// (unpinned / daemon and dd under `taskset -c 0`): native 116 / 118 ms,
// passthrough.io=rw 112 / 117 ms (≥ 0.99× native), cache.files=auto-full
// 139 / 144 ms, cache.files=off 328 / 309 ms.
//
// Refusals: Mount fails, naming the reason, when the process lacks
// CAP_SYS_ADMIN or the kernel does not offer FUSE_PASSTHROUGH (too old, or
// built without it), since no open could ever pass through. A refusal for
// one file (ELOOP: the branch sits on a stacked filesystem, overlayfs or a
// FUSE mount using passthrough, deeper than max-stack-depth; EINVAL: a
// filesystem without the needed file operations)
// only concerns that branch, so that open falls back to normal I/O and the
// refusal is logged once per branch and errno.
//
// A second open of an open node goes through func.open again (vfs has no
// way to wrap a reopened fd in a vfs.File). When it lands on another branch
// copy than the node's backing file, reads and writes still go to the
// backing file (the kernel insists) and this is logged once per node.
//
// # Request loop and threads
//
// go-fuse mounts and answers INIT (fuse.NewServer), but its request loop
// never runs: mfs serves the connection itself (loop.go) through go-fuse's
// ProtocolServer, which decodes requests and calls the same RawFileSystem.
// go-fuse's loop keeps two or more goroutines in blocking read(2) calls, so
// each request handed the read from one thread to another and kept the Go
// runtime's monitor thread waking every 20 µs: 8 context switches per
// open+getdents+close of a small directory where mergerfs makes 4. mfs's
// loop reads a non-blocking dup of the descriptor through the Go netpoller
// with one goroutine, which answers what it read itself (one wake-up per
// request, as in mergerfs); more join when requests of different threads
// queue up, or when no request has started for a 5 ms tick while one is in
// progress (a slow or hung branch must not stall every caller), and they
// leave again when they find the reader role taken. Request buffers are
// anonymous mappings, released when idle beyond two. The descriptor is the
// one untaken /dev/fuse descriptor the mount added to the process (mounts
// in one process are serialised for this); INIT is replayed into the
// ProtocolServer so it knows what was negotiated; notifications and
// passthrough ioctls still go through go-fuse's Server, whose descriptor
// is the same connection. The loop never uses notifications that expect an
// answer (NOTIFY_RETRIEVE): their replies would reach the wrong server.
// MFS_FUSE_LOOP=go-fuse in the environment serves with go-fuse's own loop
// (also the fallback when the takeover fails, logged as a warning). The
// daemon runs with GODEBUG=schedtrace set (runtime.go says why).
//
// read-thread-count and process-thread-count bound the requests processed at
// once (gatedFS; mapping in threads.go): process-thread-count=-1 →
// read-thread-count requests, otherwise process-thread-count, each sized
// as mergerfs sizes its pools (0 → CPUs up to 8, N<0 → CPUs/-N). go-fuse
// offers no reader-count option (v2.12), and its MaxInflightRequestBytes
// counts buffer bytes, not requests. Without either option there is no
// bound beyond the loop's own. pin-threads and process-thread-queue-depth
// are accepted and ignored with a warning.
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
// reject. lazy-umount-mountpoint detaches a stale mount first.
// branches-mount-timeout waits (before mounting) for every branch to look
// mounted by mergerfs's rules (branchwait.go: the user.mergerfs.branch and
// branch_mounts_here markers, else an st_dev different from the mount
// point's), after trying `mount BRANCH` once for each that does not;
// with branches-mount-timeout-fail Mount then fails naming the branches that
// never did. An option this front end cannot honour fails Mount with an
// error naming it.
//
// # Errors
//
// errno.go is the only place errors become reply statuses. ENOSYS reaches
// the kernel only from the xattr calls (xattr=nosys means exactly that):
// for most operations the kernel remembers ENOSYS and stops sending them, so
// an unexpected ENOSYS from vfs is logged and answered EIO.
//
// # Notifications
//
// After a rename that rename-exdev turned into a symlink at new, the
// kernel's entry for new still leads to old's inode (it moves its dentry as
// after any rename). The node leaves the name and a FUSE_NOTIFY_INVAL_ENTRY
// for it is sent from a goroutine (notify.go): the kernel applies it under
// the directory's inode lock, which the rename holds until its reply is
// processed, so sending it from the handler would deadlock. To close the
// window between the reply and the invalidation, GETATTR waits up to 100 ms
// for notifications in flight: with default_permissions the caller's next
// path walk through that directory asks GETATTR of it first (the rename
// invalidated its attributes), so readlink, lstat and open right after the
// rename see the symlink. The wait is bounded because a GETATTR can come
// from a syscall that holds the lock the notification needs.
//
// # Concurrency
//
// Requests are answered on as many goroutines as the loop runs (gatedFS
// bounds how many when the thread options ask). State: nodeTable.mu (node and name
// indexes, open handles per node), handleTable.mu (fh → handle), handle.mu
// (one directory handle's snapshot), credCache.mu, backingTable.mu
// (passthrough state per node), notifier.mu. No two are held at once, and
// none is held across a call into the pool, except handle.mu around the
// listing of a directory (it serialises that one handle; READDIRPLUS also
// stats each entry under it) and backingTable.mu around the fstat and
// BACKING_OPEN/CLOSE ioctls of a passthrough open or release (short, no
// path walk). vfs itself is safe for concurrent use.
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
// moves the file to a branch with room (moveonenospc) and retries (not with
// passthrough, where the kernel writes).
//
// STATX (Linux ≥ 6.6 sends it for statx calls that ask for more than the
// basic fields) is GETATTR plus the birth time and attribute flags of the
// branch object (vfs.StatxOn). Not yet served: tmpfile, POSIX and flock
// locks (the kernel handles them locally, as with mergerfs), O_DIRECT on the
// branch fd, pin-threads and process-thread-queue-depth (ignored with a
// warning). A second open of an open node reaches the first one's branch
// file (vfs.File.Reopen, as mergerfs ≥ 2.41), and xattr calls on an unlinked
// open file go through its handle. The request context handed to vfs is not
// cancelled by FUSE interrupts (no vfs operation waits on it).
// Without default_permissions (kernel-permissions-check=false) the stale
// entry after a rename-exdev is dropped by a notification racing the
// caller's next syscall, which may still see the old file once.
package fusemode
