package intercept

// Limits is the user's summary of what `mfs run` cannot do or does
// differently from a mount, printed by `mfs run --help`. The package doc's
// Limits section has each case in full, with its reason; keep the two in
// step.
const Limits = `- Kernel 5.14 or later (seccomp ADDFD|SEND); 5.19 and 6.6 make signals and round trips
  better.
- Not a sandbox: a path another thread changes while the call is resolved is read twice (TOCTOU).
- Unprivileged, the workload runs with no_new_privs: setuid programs (sudo, passwd) do not
  elevate.
- Programs exec'd from a union: the kernel finds "#!" interpreters and the ELF loader outside the
  union (#!/pool/bin/x fails unless that path exists).
- After cd into a union the kernel's cwd stays where it was (a virtual cwd). A program run by a
  relative name the kernel cannot reach from there is redirected through /dev/fd/N, which needs
  read permission on it and shows in argv[0] (dash, execvp); a name shorter than 9 bytes (./tool)
  cannot be, and fails with "File name too long" unless it is a shell script run by a shell: use
  a name of 9 bytes or more, such as $PWD/tool. Unix sockets bound or connected by a relative
  name use the old cwd.
- A script of an interpreter other than sh or the calling shell, exec'd through /dev/fd/N, sees
  $0 (or __file__) as /dev/fd/N.
- Writes never reach the supervisor: moveonenospc and the mount-only options do not apply; a
  write that fills its branch fails with ENOSPC where the file was created.
- O_TMPFILE in a union: EOPNOTSUPP; openat2 with RESOLVE_* flags in a union: ENOSYS (libc and Go
  fall back); chroot and mount inside a union: EPERM.
- A symlink outside the union that points into it, and /proc/PID/fd/N/... paths, reach one branch
  only; /proc/self/maps, mountinfo and lsof show branch paths.
- A signal that arrives before the supervisor has taken a call can make a call fail with EINTR
  that natively never does (mkdir, stat), as with any handler installed without SA_RESTART.
- A FIFO open inside a union waits for its peer even when a signal handler would interrupt it
  natively (SIGKILL still ends it).
- One seccomp listener per process: a nested mfs run (or another seccomp supervisor) fails with
  EBUSY.
- Without a PID namespace (--no-pid-namespace, or unprivileged with no user namespaces), if the
  supervisor dies only CMD is killed; its descendants' trapped calls then fail with ENOSYS.
- inotify watches are placed on one branch copy (best effort).`
