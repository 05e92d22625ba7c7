// Package bench is `mfs bench`: the side-by-side overhead comparison of mfs
// against a plain directory, mergerfs and overlayfs, on the scenarios of the
// seed document (issue 6). It owns the scenarios, the modes that serve a
// pool, the worker that runs a workload, the statistics and the reports.
// cmd/mfs only parses flags (cmd/mfs/bench.go).
//
// # Running it
//
//	mfs bench --quick                                  # one size per family, 1 run, every available mode
//	mfs bench --modes native,mergerfs --runs 5 --json r.json --html r.html
//	mfs bench --scenarios 'read-*-cold,list' --pin 0  # worker and server on CPU 0
//	mfs bench --list                                   # every scenario and what it does
//
// The table goes to standard output as each scenario completes, a progress
// line (scenario, mode, run k/K, ETA) to standard error. Every report starts
// with the command that reproduces it, the kernel, the CPU count and model,
// the file system under the branches, whether runs were pinned, the mfs and
// mergerfs versions and the exact options each server got.
//
// # Modes
//
// A Mode serves fresh branches and returns an Env: the directory the worker
// acts on, a command prefix for the worker, the serving process and a
// teardown. Implemented:
//
//	native             a plain directory (one branch): the physical limit
//	run                the worker under `mfs run --union MNT=B1:B2:B3 --`; the supervisor is the
//	                   process the prefix starts, the worker's parent
//	mount              `mfs mount -f -o OPTS B1:B2:B3 MNT`
//	mount-passthrough  the same plus passthrough.io=rw
//	mergerfs           `mergerfs -f -o OPTS B1:B2:B3 MNT` (Debian's package)
//	overlay            kernel overlayfs, upperdir=B1, lowerdir=B2:B3: a kernel reference point,
//	                   not a mergerfs equivalent (every create lands in B1)
//
// mount, mount-passthrough and mergerfs get identical explicit options,
// EquivalentOptions: mfs's defaults made explicit (category.create=pfrd,
// category.search=ff, category.action=epall, cache.attr=1, cache.entry=1,
// cache.negative_entry=0, dropcacheonclose=false) plus what mergerfs users
// set (allow_other, use_ino, cache.files=off). mergerfs 2.33.5 would pick
// epmfs for creates by default, hence explicit. -o adds options to all three.
// `mfs run` takes mfs's defaults, which are the same policies.
//
// Each mode is probed once before any run (run: `mfs run ... -- true`; the
// others: a trial setup and teardown). A mode that fails is listed as
// "unavailable: <the command's own standard error>" in every table and the
// rest of the bench goes on; this is how run and mount show up until those
// subcommands exist, and nothing here changes when they land. A FUSE server
// that daemonizes despite -f is found by its open /dev/fuse and its command
// line naming the mountpoint.
//
// # A run
//
// For each scenario, run k = 1..K goes through every available mode once,
// the mode order rotated by k-1, so drift (page cache, journal, the other
// tenant of the VM) hits all modes alike. One run of one mode:
//
//  1. RUN/b1..bN are made fresh on --dir (default /var/tmp: local disk; /tmp
//     may be tmpfs), plus RUN/mnt and RUN/aux. native gets one directory.
//  2. The scenario's files are written straight into the branches,
//     round-robin, so listings really merge several branches; then sync(2),
//     so that write-back of the preparation does not land in the timed run.
//  3. The mode is set up (a mount, or nothing for run and native).
//  4. The worker starts: the same binary re-executed (/proc/self/exe
//     resolved) as the hidden `__bench-worker` subcommand, under the mode's
//     prefix and under `taskset -c CPU` with --pin. It does its untimed
//     setup through the pool (warming the page cache, the first rsync of
//     the no-op re-run) and says READY.
//  5. For a cold scenario the harness drops the page cache (sync, then 1 into
//     /proc/sys/vm/drop_caches; without root, posix_fadvise DONTNEED on every
//     branch file). It samples the server's /proc figures and says go.
//  6. The worker times the workload and every operation in it, then reports
//     RESULT with every latency and its getrusage. The harness samples the
//     server again while the worker waits, then closes the worker's stdin.
//  7. Teardown (unmount, the server exits) and the run directory is removed.
//
// The worker protocol is one line each way over stdin/stdout (worker.go);
// `mfs __bench-worker --standalone --scenario NAME --dir DIR` runs a
// workload by hand.
//
// # Metrics
//
//   - time: wall time of the timed workload, measured by the worker with
//     the monotonic clock (process start and setup excluded).
//   - throughput: the scenario's units (files, MiB, entries, ops) / time.
//   - latency p50/p95/p99: nearest-rank percentiles of every recorded
//     operation of every run, pooled. An operation is a create, a whole-file
//     read or write, one listing or traversal pass, or one tool invocation;
//     the table gives their count. Never derived from a mean.
//   - worker CPU: the worker's user+system time over the workload, including
//     the tools it waited for (RUSAGE_SELF + RUSAGE_CHILDREN deltas).
//   - server CPU: the serving process (FUSE daemon, `mfs run` supervisor)
//     over the workload, from /proc/PID/task/*/schedstat (ns) when no thread
//     exited, else utime+stime of /proc/PID/stat (10 ms ticks, counts exited
//     threads). server peak RSS: VmHWM of /proc/PID/status after the run.
//     These are that one process's figures, never the machine's.
//   - trapped/op (run): the supervisor's trapped syscalls / operations. The
//     supervisor writes its counters (intercept.Stats as JSON:
//     Notifications, Continued, Emulated, Handovers, SyncWakeUp) to the file
//     named by MFS_RUN_STATS when it exits; bench sets that variable for the
//     `mfs run` it starts and shows "-" when no file appears. The count
//     includes the worker's own start and untimed setup.
//   - ×native, ×mergerfs: ratio = mode median time / reference median time.
//     Above 1 the mode is slower. The seed inverted this; bench does not.
//   - medians of K runs with [min–max]; a result whose slowest run took more
//     than --noise (1.5) times its fastest is flagged noisy (~ in the
//     summary).
//
// --json writes every raw sample (each run's latencies, rusage, both
// server samples, notes such as how many files a no-op rsync transferred);
// --html a single page with inline SVG (bars of median time with min–max
// whiskers, latency CDFs), no script and no external URL.
//
// # Scenarios
//
// One name fixes every parameter, so a name means the same work in every
// mode and report (see Catalogue and `mfs bench --list`): create-N (1 KiB
// files), read-SIZE-cold|warm and write-SIZE-cold|warm (whole files, 1 MiB
// calls; writes overwrite in place, no fsync), list-N and list-stat-N
// (getdents, then lstat per entry as ls -l), traverse-D (fanout 2, 8 files
// per directory), ccreate-W (W threads × 250 creates in one directory),
// mix-R-W (8 threads × 200 ops, seeded), and the tools rsync-N, rsync-noop-N,
// tar-x-N, cp-out-N on a source tree of N files (256 B to 8 KiB), built once
// per bench outside every pool. --quick keeps one size per family and 1 run, and
// the report lists what it dropped.
//
// # Pitfalls
//
//   - Pinning matters more than anything else on a 2-vCPU VM: a wake-up
//     across CPUs costs ~60 µs against ~3 µs on one CPU, and every FUSE
//     request and every trapped syscall is a wake-up. Compare pinned with
//     pinned; the header says which.
//   - A FUSE daemon that daemonizes keeps any pipe it inherited open, so the
//     servers' output goes to files (RUN/<mode>.log), never to pipes that
//     Wait would block on.
//   - Runs of a few milliseconds measure noise; the big sizes and K ≥ 3 are
//     what RESULTS.md should quote.
//   - The harness runs as root for mounts and drop_caches; the worker runs as
//     the same user, so permission checks are the same in every mode.
package bench
