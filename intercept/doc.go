// Package intercept is `mfs run`: it shows one or more unions at target
// paths to one command and every process it starts, without a mount, root,
// FUSE or LD_PRELOAD. A seccomp filter traps the path syscalls of the
// workload and sends them to a user-notification supervisor in the mfs
// process; the supervisor answers those that fall inside a union through
// vfs (the same Pool, policies and placement as `mfs mount`) and lets the
// kernel run everything else (CONTINUE). Data I/O never reaches the
// supervisor: opens inside a union inject the real branch fd into the
// workload, so read, write, mmap, fstat and friends run natively.
//
// # Handshake
//
// Go cannot run code between fork and exec, and a filter loaded in the
// supervisor would trap the supervisor itself, so the mfs binary re-executes
// itself as a hidden stub (os.Args[1] == StubArg; cmd/mfs calls StubMain
// first thing) that installs the filter and then starts CMD:
//
//	supervisor (Run)                         stub (/proc/self/exe __mfs-run-stub)
//	----------------                         ------------------------------------
//	build filter (libseccomp → BPF)
//	socketpair(SEQPACKET), subreaper
//	on a thread locked for the whole run:
//	clone the stub [NEWPID|NEWNS(|NEWUSER)]  PR_SET_PDEATHSIG(SIGKILL)
//	  fd 3 = socket                          in a PID namespace: mount / slave,
//	                                           mount a new /proc
//	send BPF program               ───────▶  read BPF program
//	                                         no_new_privs (unless CAP_SYS_ADMIN)
//	                                         seccomp(SET_MODE_FILTER, NEW_LISTENER |
//	                                           TSYNC | TSYNC_ESRCH | WAIT_KILLABLE_RECV)
//	recvmsg: 'L' flags + listener  ◀───────  sendmsg(SCM_RIGHTS), close own copy
//	SET_FLAGS(SYNC_WAKE_UP)
//	start receiver
//	'A' (ack)                      ───────▶  umask; LookPath(CMD)   (trapped: union-aware)
//	                                         PID namespace: fork+exec CMD, stay as init
//	                                         otherwise:     exec CMD
//	                               ◀───────  'E' code text          (only if CMD cannot run)
//	reap children (process-wide reaper)
//	stub reaped + listener hung up (the last workload task is gone):
//	return CMD's status
//
// A stub failure before the ack ('E' code text) becomes Run's error: EBUSY
// names a nested listener (a nested `mfs run`, or a runtime's seccomp
// agent), EINVAL a kernel older than 5.14, and so on. CMD not found is exit
// code 127 with an error naming it, not executable 126, other setup failures
// 125. A stub that cannot set up its namespaces (clone refused, /proc not
// mountable) is started again without them (logged at info level).
//
// # The filter
//
// The filter is built with libseccomp-golang (the package's only cgo use:
// names to numbers per architecture, architecture checks) and exported as
// BPF; the stub installs it with a raw seccomp(2) so the flags are ours.
// Load() is never called. It traps, on x86_64 (table.go has the full list):
//
//	open openat creat openat2 | stat lstat newfstatat statx | access faccessat faccessat2
//	readlink readlinkat | getdents getdents64 | chdir fchdir getcwd
//	mkdir mkdirat mknod mknodat symlink symlinkat unlink unlinkat rmdir
//	rename renameat renameat2 link linkat | chmod fchmodat fchmodat2 chown lchown fchownat
//	utime utimes futimesat utimensat truncate | the xattr family (and *xattrat, 6.13)
//	statfs fstatfs | execve execveat | inotify_add_watch fanotify_mark name_to_handle_at
//	chroot pivot_root mount umount2 open_tree move_mount fspick mount_setattr
//	quotactl swapon swapoff acct uselib file_getattr file_setattr
//
// newfstatat and statx with AT_EMPTY_PATH (glibc's fstat) and utimensat with
// a NULL path (futimens) act on an fd and run natively, decided in BPF.
// io_uring_setup gets ENOSYS (its requests run past seccomp). Syscalls newer
// than the build machine's libseccomp knows (463-469) are trapped by number
// in a short hand-written prefix. The i386 ABI is trapped by its own names
// (stat64, fstatat64, chown32, ...); x32 and every other architecture get
// ENOSYS from the filter. Untrapped syscalls cost nothing (the kernel's
// seccomp action cache).
//
// # The supervisor
//
// One receiving goroutine, locked to its OS thread, loops RECV → decide →
// reply inline on raw ioctls (x/sys; no cgo on the hot path); the kernel's
// sync wake-up (6.6) keeps the workload and the supervisor on one CPU.
// Every 2 ms the receiver passes through the Go scheduler (Gosched): a
// goroutine that never does is, after 10 ms, robbed of its P by the
// runtime's sysmon at each syscall, which cost a third of a round trip.
// Before an operation known to block indefinitely (opening a FIFO, any open
// of a host path reached through a union) it hands RECV over to a new
// receiver, finishes its own reply and exits, so at most one thread waits in
// RECV. A watchdog (every 20 ms) does the same for a receiver stuck longer
// than that on one notification (a hung network branch, a slow create), and
// completes a FIFO open whose task has died by opening the other end, so no
// receiver is stuck for good. Every notification gets exactly one reply:
// handlers return a reply value that only the loop sends, and a panic
// becomes EIO. A receiver's thread blocks every signal but the faults the
// runtime turns into panics (unless the CPU profiler runs; then only each
// injection blocks them), so an fd is injected (ADDFD|SEND) with no signal
// deliverable to it: the kernel marks the notification answered, with
// value 0, before it waits interruptibly for the task to take the fd, and a
// signal ending that wait (Go's SIGURG preemption of a busy receiver, for
// one) withdraws the fd but not the answer, so the open would return 0.
// Memory read from a task is used only after NOTIF_ID_VALID confirmed the
// syscall is still pending. Counters (Config.Stats, for
// `--stats`): notifications, emulated and continued, per syscall family,
// hand-overs and time in the supervisor.
//
// For each path argument (resolve.go): the string is read with
// process_vm_readv (page by page, PATH_MAX); an absolute path without ".."
// that is not under a target (nor under /proc) is CONTINUEd at once, without
// even NOTIF_ID_VALID (a CONTINUE acts on nothing: the kernel reads the
// string again, and a reply to a task that is gone fails harmlessly). A
// relative one whose base (cwd, or the dirfd's path, from /proc/TID) is
// neither inside a branch nor leads into a target is CONTINUEd too.
// Everything else is validated (ID_VALID) and resolved by vfs.Resolver in
// the union namespace (symlinks in the union, ".." out of a target as Linux
// would). A spelling without "." or ".." whose every directory component
// was a union directory in a recent resolution (knownDirs, resolve.go: at
// most a second old, forgotten on every rmdir and rename in or near a
// union) is the union path itself and skips the resolver: the operation's
// own vfs call then looks up the last component, walking the same parents on
// its branches. A result inside a union is emulated through vfs; a result
// on the host that the kernel could not reach from the raw string (via a
// union symlink, ".." out of a target, a virtual cwd) is performed by the
// supervisor on the host path with the caller's identity. A path that
// cannot be read is CONTINUEd so the kernel reports EFAULT itself.
//
// How each call is answered inside a union:
//
//   - open family: vfs.Open, or vfs.Create when O_CREAT and absent (create
//     policy, clonepath, caller's umask); the branch fd is injected with
//     ADDFD|SEND, O_CLOEXEC from the flags. O_EXCL, O_DIRECTORY, O_NOFOLLOW,
//     trailing slashes and O_CREAT on a directory give Linux's errnos. The
//     type of the object is looked up first (a FIFO or device open may
//     block or act, and even a non-blocking one completes a FIFO writer's
//     open), except for O_DIRECTORY opens (opendir) and opens that ask for
//     O_NONBLOCK, which go straight to vfs.Open.
//     openat2 with RESOLVE_* flags gets ENOSYS (callers fall back). ADDFD
//     cannot inject O_PATH files (the kernel's fget refuses them): an O_PATH
//     open is CONTINUEd when the task's own string leads the kernel to the
//     branch object (a name relative to an injected directory fd, as tar
//     and fts use), else a directory is injected O_RDONLY|O_DIRECTORY and a
//     regular file O_RDONLY; other types get EOPNOTSUPP.
//   - stat family: vfs.Getattr; struct stat (x86_64) or stat64 (i386) is
//     written into the task. statx stats the branch object itself (birth time
//     included) and falls back to the vfs attributes when they differ
//     (follow-symlinks, symlinkify, the synthetic root). st_dev/st_ino are
//     the real branch values, consistent with fstat on injected fds. A
//     directory keeps the branch it was first reported from while a copy
//     exists there (vfs.Pool.KeepDirIdentity), so a create that clones it
//     onto an earlier branch does not change its identity under tar or fts.
//   - access family: vfs.Access with the real ids (plain access) or the
//     effective ones (AT_EACCESS).
//   - readlink: vfs.Readlink. readlink of /proc/{self,thread-self,N}/{cwd,
//     exe,root,fd/K} is rewritten from a branch path to the union path.
//   - getdents64/getdents on an injected union directory fd: vfs.Readdir
//     merged, with stateless hash cookies kept in the open file
//     description's own f_pos (sys_dirs.go), so dup, fork, rewinddir,
//     telldir and seekdir work. An fd whose branch copy was removed
//     behind the union's back (no links left: the branch directory deleted
//     while the run goes on) still lists the union directory, from the
//     other branches; one removed from the whole union lists as the kernel
//     lists a removed directory (empty).
//   - chdir: CONTINUE when the task's string already leads the kernel to a
//     branch copy; otherwise a virtual cwd (vcwd.go): the task's string is
//     never rewritten (it may be a shell's $PWD or an interned constant).
//     fchdir: CONTINUE. getcwd: the union path of a kernel cwd inside a
//     branch, or the virtual cwd.
//   - mkdir, mknod, symlink, unlink, rmdir, rename(2), link, chmod, chown,
//     utimes, truncate, xattrs, statfs: the vfs method of the same name.
//     Two-path calls between a union and anything else get EXDEV. A
//     getxattr or lgetxattr right after a stat-family call of the same
//     thread on the same union path (ls -l: statx, then two attributes per
//     entry) reads on the branch that call found (vfs.GetxattrFound), with
//     no search of its own; any other notification in between drops that.
//   - execve: the kernel must open the file itself, so the path string is
//     redirected (sys_dirs.go, redirect): CONTINUE when it already leads to
//     the branch file; else rewritten in place to the branch path when that
//     fits and keeps the basename; else, for a shell script ("#!" naming sh,
//     or the calling shell) exec'd by a shell (bash, dash, busybox, ...),
//     ENOEXEC, on which the shell runs the script itself or through /bin/sh,
//     opening it by the string it typed, which the union resolves ($0 stays
//     "./configure" or "/pool/x/configure"); else "/dev/fd/N/base" with an
//     injected fd of the branch directory; else "/dev/fd/N" with an injected
//     fd of the file itself (the case of "./configure" or "./tool" after
//     `cd /pool/x` under a virtual cwd); else ENAMETOOLONG.
//   - inotify_add_watch: added on the branch copy getattr picks, through a
//     pidfd_getfd copy of the task's inotify fd (best effort).
//   - chroot, mount and the other rows of that group: EPERM inside a union;
//     fanotify_mark and name_to_handle_at: EOPNOTSUPP; the *xattrat calls:
//     ENOSYS (libc falls back).
//
// Identity: unprivileged, the workload cannot change ids (no_new_privs) and
// the supervisor acts as itself, which is the caller; only the umask is read
// from /proc/TID/status. As root, every emulated call runs with the calling
// thread's fsuid, fsgid, groups and umask from /proc/TID/status. Both are
// cached per thread: clone, exec, the set*id calls and umask(2) are trapped
// to drop the cache, and after a umask call umasks come from the status
// file again until the calling thread has trapped once more (its new mask
// then set).
//
// # Process tree
//
// Where a PID namespace is available (CAP_SYS_ADMIN; or, unprivileged, a new
// user namespace that maps only the caller's own uid and gid, allowed by
// kernel.unprivileged_userns_clone where that sysctl exists and by
// user.max_user_namespaces), the stub is cloned into new PID and mount
// namespaces (and that user namespace) and stays as their init (pid 1): it
// starts CMD as its child, reaps every process of the namespace, relays
// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGALRM to CMD (to
// the whole namespace once CMD has exited), and exits with CMD's status
// (128+n for a signal) when nothing else runs in the namespace. Its
// parent-death signal is SIGKILL, and the thread that cloned it stays
// locked until it has been reaped (the signal follows the parent *thread*;
// Go ends threads whose goroutine exits locked): when the supervisor dies,
// the kernel kills init and with it every process of the workload,
// background jobs and double-forked daemons included.
//
// Why init and not CMD as pid 1: pid 1 ignores every signal it has no
// handler for ("kill $$", a forwarded SIGTERM to a `sleep`), and its exit
// kills the namespace, so background jobs could not outlive CMD. With CMD a
// child of init, $$, $!, kill, wait and job control behave as anywhere else.
// Its pid is small (init's own threads take the first few). The namespace
// gets its own /proc (mounted by init in a mount namespace whose mounts are
// made slaves first, so nothing propagates back to the host): with the
// host's /proc, "ps", "pgrep", "kill $(pgrep x)" and /proc/$$ would name
// other processes than the pids the workload is given. readlink of
// /proc/N/{cwd,exe,root,fd/K} with a namespace pid N is read through init's
// view of /proc.
//
// What the namespaces change for the workload: it sees and can signal only
// its own processes (a `kill` of a host pid read from a pid file fails with
// ESRCH); mounts it makes (as root) stay in its mount namespace and vanish
// with it, and /proc/self/mountinfo shows one more /proc. In the user
// namespace (unprivileged), ids other than the caller's own show as 65534
// (kernel.overflowuid): root-owned files list as nobody/nogroup, emulated
// stat results say the same, and chown to such an id fails with EINVAL, as
// natively there; supplementary groups show as 65534 too. The
// Config.NoPIDNamespace option (mfs run --no-pid-namespace) keeps the
// caller's namespaces.
//
// Without a PID namespace (NoPIDNamespace, or none available) the stub execs
// CMD, which keeps the parent-death signal: the supervisor's death kills
// CMD, but its descendants run on with every trapped call failing (ENOSYS).
// While any Run is active the process is a child subreaper and one
// process-wide reaper (reaper.go) reaps every child, handing each Run the
// status of its own stub. A Run finishes when the stub has been reaped and
// its listener has hung up (every task carrying its filter has exited:
// background jobs keep their union), so concurrent Runs in one process
// neither wait for each other nor see each other's statuses. Signals
// (SIGINT, SIGTERM, SIGHUP, SIGQUIT) go to the stub (init, or CMD itself),
// and after its exit to what is left of the workload; cancelling the
// context kills it (in a namespace, killing init is enough).
//
// # Concurrency and lock order
//
// Receivers share the supervisor; its mutable state is the directory
// snapshot cache (dirCache.mu), the known union directories (one
// knownDirs.mu per union), the virtual-cwd table (vcwdTable.mu), the
// per-thread identity cache (credCache.mu, dropped on every clone, exec and
// set*id notification), the tid → tgid cache of non-leader threads
// (tgidCache.mu, dropped likewise), the live-receiver set (supervisor.mu,
// for the watchdog) and the branch-root lists (atomic pointers, replaced
// when the control file changes the branches). No two of these locks are
// ever held together, and none is held across a vfs call except dirCache.mu
// around the listing of one directory. The process-wide reaperState.mu is
// held across the stub's fork so its status cannot be reaped unseen. The
// vfs.Cred handed to vfs lives in the receiver's worker (vfs keeps no
// reference), so the hot path allocates only the path string.
//
// # Limits
//
// `mfs run --help` prints a summary of these (limits.go).
//
//   - Kernel: 5.14 (ADDFD|SEND) is required; 5.19 (WAIT_KILLABLE_RECV) and
//     6.6 (SYNC_WAKE_UP) are used when present.
//   - Stopping the supervisor process itself (SIGSTOP, a job-control stop,
//     a cgroup freeze, a ptrace attach) interrupts the kernel's wait even
//     with signals blocked: an open being injected at that moment returns 0
//     with no fd installed (the kernel's ADDFD|SEND keeps the answer when
//     its wait is interrupted).
//   - Signals (faults_test.go): once the supervisor has received a trapped
//     call, the task ignores every signal but SIGKILL until the answer
//     (WAIT_KILLABLE_RECV), so each emulation takes effect exactly once and
//     its handler runs after it. The one emulated call that can wait long,
//     an open of a FIFO inside a union, therefore cannot be interrupted:
//     natively a handler without SA_RESTART makes it fail with EINTR, here
//     it waits for its peer (SIGKILL still ends it). A signal that arrives
//     before the call is received withdraws it with no effect: the kernel
//     restarts it under SA_RESTART, and without SA_RESTART it fails with
//     EINTR, even a call that never does natively (mkdir, stat, the open
//     of a regular file). Before 5.19 a signal during an emulated call
//     makes the kernel restart it after the supervisor performed it: a
//     mkdir or O_EXCL create of the task's own new name then fails with
//     EEXIST, a rename or unlink with ENOENT.
//   - A task killed while its FIFO open waits in the supervisor leaves that
//     open pending until the watchdog completes it (within about 40 ms): a
//     peer that opens the FIFO in between is paired with it, so a writer's
//     open succeeds where natively it would wait for a reader, and what it
//     writes before a real reader comes is lost (or it gets EPIPE).
//   - A workload that installs its own notification listener (a nested
//     `mfs run`, syd) cannot start: the kernel allows one per process (EBUSY).
//   - `mfs run` is not a sandbox. A sibling thread may change a path buffer
//     between our read and the kernel's re-read on CONTINUE (TOCTOU; the
//     union is a view, not a boundary). A non-dumpable process cannot be read
//     (process_vm_readv EPERM): its paths are CONTINUEd and the union is
//     invisible to it (logged once).
//   - A symlink outside the union that points into it is followed by the
//     kernel on CONTINUE and misses the union; /proc/PID/cwd/... and
//     /proc/PID/fd/N/... paths are resolved by the kernel inside one branch.
//   - An fd or cwd inside a branch directory is shown as the union (the
//     reverse map cannot tell a branch opened directly from one injected).
//   - Virtual cwd: untrapped syscalls (bind/connect of AF_UNIX paths) see the
//     stale kernel cwd; a child inherits only while its kernel cwd is
//     unchanged; while any process has one, cwd-dependent calls of processes
//     whose kernel cwd is its anchor pay a readlink of /proc/TID/cwd and a
//     pidfd poll (the first call of each new process also reads the
//     /proc/PID/stat of its ancestors up to the one it inherits from).
//   - Known union directories: a union directory replaced by a symlink or a
//     file behind the supervisor's back (another process editing a branch
//     directly) can go unseen for up to a second by a path through it; a
//     removal is seen at once (the operation's own lookup fails).
//   - execve by a relative name shorter than "/dev/fd/N" (9 bytes, e.g.
//     "./tool") of a program the kernel cannot reach from its own cwd (a
//     virtual cwd, or the file on another branch than the kernel cwd's copy)
//     fails with ENAMETOOLONG, unless it is a shell script run by a shell:
//     the string cannot grow and the pointer cannot change. The "/dev/fd/N"
//     form needs read permission on the program (the supervisor opens it)
//     and, when the exec'ing program passed the same string as argv[0]
//     (dash, execvp), argv[0] reads "/dev/fd/N" too.
//   - A shell script answered with ENOEXEC runs under the calling shell
//     (bash) or /bin/sh (dash, busybox, execvp), not under its "#!" line:
//     this is done only when the line names sh or the calling shell itself.
//     A program that calls execve directly (Go's os/exec, Python's
//     subprocess) and does not fall back gets "exec format error" there; a
//     script of another interpreter gets "/dev/fd/N" as $0 (or __file__).
//   - execve from a union: the "#!" interpreter and the ELF interpreter are
//     found by the kernel in the real namespace; a script exec'd through an
//     injected fd sees $0 as "/dev/fd/N/name" or "/dev/fd/N", and the fd N
//     stays open in it (non-close-on-exec, so the interpreter can open the
//     script); no_new_privs (unprivileged) disables setuid bits. A vfork
//     parent (posix_spawn) sees the rewritten string after the child's exec.
//   - O_TMPFILE in a union: EOPNOTSUPP. openat2 RESOLVE_* in a union:
//     ENOSYS. linkat(AT_EMPTY_PATH) into a union: EXDEV. O_PATH opens that
//     cannot be CONTINUEd are real read-only opens (read permission needed;
//     F_GETFL shows no O_PATH).
//   - Writes never reach the supervisor: moveonenospc does not apply, nor do
//     the mount-only options (cache.* but cache.statfs, passthrough, nullrw, dropcacheonclose,
//     threads, ...). A write that fills its branch fails with ENOSPC (or
//     EDQUOT) in the workload and the file stays, partly written, where it
//     was created; minfreespace, as under `mfs mount`, only steers creates
//     (branchfaults_test.go).
//   - Branch faults (branchfaults_test.go): a branch remounted read-only or
//     removed is handled as under `mfs mount` (creates retried on another
//     branch after EROFS, a removed branch directory seen at once). A branch
//     filesystem unmounted on the host while the workload runs leaves the
//     union within about a second (vfs revalidates branch roots at most once
//     a second), but in a PID namespace the workload's mount namespace keeps
//     its own copy of the mount unless the host mount is shared (the copy is
//     its slave): the branch path itself, outside the union, still reaches
//     the old filesystem there, which stays busy until the run ends. Files
//     opened before keep working, as Linux promises; a directory of the
//     union opened before lists the detached branch natively, not the union
//     (the kernel names a detached mount's files from "/", which no longer
//     maps to a branch).
//   - A union whose root exists on no branch cannot be opened as a
//     directory (there is no branch fd to inject).
//   - The path components of a target's parent are not checked against the
//     host when a path is spelled "TARGET/..." (and the parent has no
//     symlinks): the union is reached even if the parent does not exist.
//   - i386: legacy stat/lstat/oldstat, getdents (old), statfs/fstatfs and
//     truncate64/statfs64/fstatfs64 get ENOSYS inside a union (glibc uses
//     the 64-bit forms); everything else is emulated as on x86_64.
//   - /proc/self/maps, mountinfo and lsof output still show branch paths.
//   - Supervisor death: in a PID namespace the kernel kills the workload
//     (see Process tree). Without one, only CMD is killed; its descendants
//     run on with every trapped call failing with ENOSYS (fds already open
//     keep working). In a namespace, killing init alone (from outside)
//     ends the workload too.
//   - The namespaces add about 4-6 ms to the start and end of a run (creating
//     and tearing down the mount and PID namespaces, mounting /proc, init's
//     fork of CMD): `mfs run -- /bin/true` took 10 ms without them and 14 ms
//     with them on a 2-vCPU VM. Processes started inside the run pay nothing
//     more.
//   - PID namespace: the workload cannot see or signal host processes, its
//     mounts are its own, and, unprivileged, other users' ids show as 65534
//     (Process tree). /proc/N/task/M and other links read through
//     /proc/N/... follow init's /proc; paths the kernel resolves are not
//     affected. The supervisor resolves host paths in its own mount
//     namespace: a mount the workload made itself is not seen through a
//     union symlink.
//   - Run reaps every child of the calling process while it runs (it is a
//     child subreaper): call it from a process with no other children to
//     wait for, as `mfs run` is.
package intercept
