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
//	mfs bench --scenarios list-stat-1000 --modes mount --profile /tmp/prof   # pprof of the daemon per run
//	mfs bench --from r.json --markdown r.md            # a saved run in another form, nothing run
//
// bench/RESULTS.md holds the figures on record and the commands that made
// them; `make bench-report` regenerates them.
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
//	mount-defaults     `mfs mount -f B1:B2:B3 MNT`: mfs as users run it, no -o
//	mergerfs-defaults  `mergerfs -f B1:B2:B3 MNT`: mergerfs 2.33.5's own defaults (epmfs
//	                   creates, cache.files=libfuse, no use_ino)
//
// --modes defaults to the first six; the two defaults modes are asked for by
// name (they make a full run a third longer).
//
// mount, mount-passthrough and mergerfs get identical explicit options,
// EquivalentOptions: mfs's defaults made explicit (category.create=pfrd,
// category.search=ff, category.action=epall, cache.attr=1, cache.entry=1,
// cache.negative_entry=0, dropcacheonclose=false) plus what mergerfs users
// set (allow_other, use_ino, cache.files=off). mergerfs 2.33.5 would pick
// epmfs for creates by default, hence explicit. -o adds options to all of
// the FUSE modes, the defaults modes included. `mfs run` takes mfs's
// defaults, which are the same policies. What a server logs as a warning
// during the probe is printed under its mode ("server said: ..."): with
// passthrough.io, mfs replaces cache.files=off by auto-full (the kernel's
// rule), so mount-passthrough does not run with exactly the options of
// mount, and the header says so.
//
// Each mode is probed once before any run (run: `mfs run ... -- true`; the
// others: a trial setup and teardown). A mode that fails is listed as
// "unavailable: <the command's own standard error>" in every table and the
// rest of the bench goes on. A FUSE server that daemonizes despite -f is
// found by its open /dev/fuse and its command line naming the mountpoint.
// For run the probe also measures the start-up baseline (three do-nothing
// workers, see Metrics) and, once, the C-probe.
//
// # Timeouts and clean-up
//
// Nothing a mode does can hang the bench. A FUSE server has 20 s to mount
// (--setup-timeout, hidden), the run probe as long; each worker process
// (the untimed setup, the timed run) has --timeout (3 minutes). Every
// server and worker is the leader of its own process group, and a timeout
// SIGKILLs the group: the `mfs run` supervisor, the worker under it and the
// tool the worker waits for (rsync, tar). The run is then reported failed
// with the reason and the command, teardown unmounts (lazily if the mount
// stays busy) and stops the server (SIGKILL to its group 10 s after the
// unmount), and the next run starts. SIGINT and SIGTERM cancel the bench
// the same way. Only a SIGKILL of mfs bench itself can leave a mount.
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
//  4. If the scenario has an untimed setup (warming the page cache, the
//     first rsync of the no-op re-run, the target directory of tar -x), a
//     worker runs it through the pool (--phase setup) and exits.
//  5. The timed worker starts: the same binary re-executed (/proc/self/exe
//     resolved) as the hidden `__bench-worker --phase timed` subcommand,
//     under the mode's prefix and under `taskset -c CPU` with --pin, and
//     says READY.
//  6. For a cold scenario the harness drops the page cache (sync, then 1 into
//     /proc/sys/vm/drop_caches; without root, posix_fadvise DONTNEED on every
//     branch file). It writes back the work directory's file system
//     (syncfs) and reads the disk's counters, samples the server's /proc
//     figures and says go.
//  7. The worker times the workload and every operation in it, then reports
//     RESULT with every latency and its getrusage. The harness samples the
//     server again while the worker waits, then closes the worker's stdin.
//  8. Teardown (unmount, the server exits) and the run directory is removed.
//
// Setup and timed run are separate processes so that the timed process
// does the same in every scenario and mode, and so that under `mfs run`
// (one supervisor per worker, as users start one per command) the
// supervisor's counters cover the timed run plus a start-up that is the
// same for every worker and is measured apart. The supervisor of the timed
// worker starts with nothing cached from the setup; vfs keeps no metadata
// cache between calls, and the kernel's page and dentry caches, which the
// setup warms, are shared.
//
// The worker is a Go program standing in for the workload, and Go adds a
// cost of its own where calls block: a goroutine that only makes system
// calls loses its P to the runtime's monitor thread at nearly every call
// once it has run 10 ms without passing through the scheduler. A C tool
// does not pay that, so the worker's calls go through the scheduler every
// 2 ms (yield.go): under `run`, pinned, list-stat-1000 took 257-262 ms
// without and 175-195 ms with it (native 24-31 ms either way).
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
//   - trapped/op (run): the supervisor's trapped syscalls of the timed run
//     / operations. The supervisor writes its counters (intercept.Stats as
//     JSON: Notifications, Continued, Emulated, Handovers, Busy, SyncWakeUp,
//     BySyscall; RunStats reads them) to the file named by MFS_RUN_STATS
//     when its workload has exited; bench sets that variable for the `mfs
//     run` it starts and shows "-" when no file appears. From each run's
//     counters the start-up baseline is subtracted: the counters of a worker
//     that starts, says READY, gets go and reports an empty result (--phase
//     none; the run with the median count of three, about 21 calls: the Go
//     runtime, /proc/self/status, the stub's exec). The JSON keeps both
//     (trapped, trapped_net) and the baseline (modes[].baseline).
//   - C-probe and ×floor (run): cprobe/rtt.c, embedded and compiled with the
//     machine's cc, times the same calls natively and trapped with a C
//     target and a C supervisor (CONTINUE, bare and after reading the path;
//     emulated stat and open with ADDFD|SEND, each also after a missed
//     lookup, the least a union supervisor does for a file on its second
//     branch), three runs, medians, pinned to one CPU (--pin's, else
//     the first this process may use) even when the bench is not: the
//     floor is the best case. An unpinned bench also prints the probe
//     unpinned, for information (see Pitfalls). The floor of a run result is native time + each trapped call of the
//     timed run priced at (C round trip of its kind − the native call):
//     path read + CONTINUE, stat after a miss, open after a miss; kinds from
//     BySyscall; ×floor = run time / floor. The project's target
//     is ×floor ≤ 1.3 for metadata scenarios (issue 6). No cc: the header
//     says so and ×floor is "-".
//   - ctx-sw/op: context switches per operation of the worker (getrusage
//     of itself and its tools) and of the server (its live threads'
//     /proc/PID/task/*/status; left out of a run in which one exited). A
//     round trip to a daemon or supervisor costs at least two; on a VM whose
//     cross-CPU wake-ups cost ~60 µs they are the first thing to look at.
//   - srv anon RSS / srv file RSS: the server's RssAnon and RssFile after the
//     run (/proc/PID/status): its private memory, and pages of mapped files
//     (its binary, libraries), which are shared with the page cache and
//     reclaimable. A Go server's peak RSS is mostly the second: starting a
//     10 MiB binary maps most of it.
//   - disk read / written: bytes the block device under --dir moved during
//     the timed run (/proc/diskstats sectors × 512), the file system written
//     back with syncfs before the run starts and after it ends, so a run's
//     writeback is counted whenever the kernel would have done it. It is the
//     device's total: other activity on it during the run counts too. "-"
//     and the reason in the header when --dir has no block device (tmpfs).
//   - with --perf (perfcount.go): perf_event_open counters on the worker
//     (its threads, and with inherit the tools it runs, from READY until it
//     exits; under `mfs run` its pid is mapped out of the PID namespace)
//     and on the server's threads over the timed run: cycles per op and
//     IPC of each, cache and branch misses per op of both. Where the
//     machine has no hardware counters (this project's VMs:
//     perf_event_open gives ENOENT) the header says so and the columns are
//     left out; the software events (task clock, context switches, page
//     faults, migrations) are in the JSON. Off by default: the counters
//     make every context switch dearer (ls-l-1000 pinned, 3 runs: run 641-672
//     → 792-810 ms, mount 417-424 → 488-512 ms), so compare --perf runs with
//     each other only.
//   - ×native, ×mergerfs: ratio = mode median time / reference median time.
//     Above 1 the mode is slower. The seed inverted this; bench does not.
//     The reference for ×mergerfs is the mergerfs mode (identical explicit
//     options), never mergerfs-defaults.
//   - medians of K runs with [min–max]; a result whose slowest run took more
//     than --noise (1.5) times its fastest is flagged noisy (~ in the
//     summary).
//
// --markdown writes the tables plus a verdict on each target issue 6 sets
// (run data I/O ≤ 1.05× native; run metadata faster than mergerfs as users
// run it and ≤ 1.3× the floor; mount ≥ mergerfs with identical options),
// with the margin of every miss and whether the figures behind it were
// noisy (markdown.go): RESULTS.md is made of these.
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
// (getdents, then lstat per entry as ls -l), ls-l-N (the real ls -l, whose
// statx and ACL/label xattr reads per entry are what users' listings
// cost), traverse-D (fanout 2, 8 files
// per directory), ccreate-W (W threads × 250 creates in one directory),
// mix-R-W (8 threads × 200 ops, seeded), and the tools rsync-N, rsync-noop-N,
// tar-x-N, cp-out-N on a source tree of N files (256 B to 8 KiB), built once
// per bench outside every pool. --quick keeps one size per family and 1 run, and
// the report lists what it dropped.
//
// # Microbenchmarks
//
// The go test benchmarks of this package use the same modes on the real mfs
// binary (built by TestMain) and name sub-benchmarks op=.../mode=... so
// benchstat compares like with like; one iteration is a whole loop, so they
// run with -benchtime 1x and report ns/call (ns/op is suppressed):
//
//	go test -run '^$' -bench . -benchtime 1x -count 5 ./bench/
//
// The benchmarks:
//
//   - BenchmarkOp: stat, open+close, create+unlink, readdir (101 entries),
//     pread 64 KiB, each repeated by the worker (`__bench-worker --loop OP
//     --n N`, oploop.go) in native, run, mount, mount-passthrough and
//     mergerfs; run also reports trapped/call.
//   - BenchmarkCProbe: the C-probe's round trips against the native calls.
//
// The rest of issue 6's list lives with the code it measures: policy pick
// (vfs/policy), readdir merge, path resolution and getattr (vfs), copy
// engine and mmap against read (vfs/fileio), balance (vfs/tools), and the
// Go supervisor's round trip per trapped syscall (intercept,
// BenchmarkRoundTrip).
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
//   - Unpinned, an emulated open costs either ~6 µs or ~60-90 µs per call,
//     run to run: ADDFD does not use the sync wake-up, so the target may be
//     woken on the other CPU. The unpinned C-probe shows it (its open
//     figure), and so can every open-heavy run scenario; pinned runs do
//     not. That is why the floor is always measured pinned.
//   - Branch paths are passed as B1:B2 with =MODE suffixes: --dir may not
//     contain ':', '=' or ',' (t.TempDir names of sub-benchmarks do).
package bench
