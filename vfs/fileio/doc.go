// Package fileio is mfs's file I/O engine: copying a file's bytes and
// metadata between branches, publishing a copy crash-safely, and reading
// large files. moveonenospc, link-cow, rename-exdev, the FUSE data path and
// the pool tools use it. It works on descriptors (a dir fd plus a name),
// never on paths it would resolve itself, and needs nothing beyond the
// standard library and x/sys.
//
// # API
//
//	CopyData(dst, src, size)  bytes, fd to fd, with the fallback chain below
//	CopyMeta(dst, src)        owner, mode, times, xattrs, chattr flags
//	CopyFileAt(srcDir, srcName, dstDir, dstName, CopyOptions)
//	                          crash-safe whole-file copy (temp + rename)
//	TempName, IsTempName, CleanTemps   temp-file names and leftover cleanup
//	NewReaderAt(fd, size)     *Mapped (mmap) or *Pread behind ReaderAtCloser
//
// Errors are unix.Errno values, wrapped with context (*Error for
// CopyFileAt, *os.PathError and *FaultError for the readers), so
// errors.Is(err, unix.ENOSPC) works everywhere. Raw calls go through one
// EINTR-retrying wrapper (sys.go); close, mmap and munmap are called
// directly, since they either never report EINTR or must not be retried. All functions are safe for concurrent use on
// different files; a *Mapped or *Pread is safe for concurrent ReadAt.
//
// # Copy fallback chain
//
// CopyData tries, in order:
//
//  1. copy_file_range(2). The kernel copies without a trip through user
//     space, and reflinks or does a server-side copy where the filesystem can
//     (btrfs, xfs, NFS 4.2, CIFS): instant and space-sharing for link-cow
//     within a branch. It fails with EXDEV between filesystems (before 5.3,
//     and again since 5.19 unless both are the same type and implement it),
//     with EOPNOTSUPP, EINVAL or ENOSYS where it is not supported, EPERM under
//     some container seccomp profiles and EIO on some CIFS servers. On
//     procfs-like files it may "succeed" with 0 bytes. All of these move on
//     to the next method.
//  2. sendfile(2). The kernel copies page cache to page cache between any two
//     filesystems: this is what a moveonenospc between branches (different
//     filesystems, as a rule) ends up using. It writes at the destination's
//     file offset, so CopyData seeks dst first.
//  3. pread/pwrite through a pooled buffer. Always works on seekable files.
//
// A fallback resumes at the same offset, so a switch in the middle of a copy
// is exact. Errors that are not "unsupported" (ENOSPC, EDQUOT, EFBIG, EIO from
// the last method) are returned at once with the bytes copied so far.
// Sparse sources (fewer allocated blocks than their size) are walked with
// SEEK_DATA/SEEK_HOLE: only data segments are copied, by whatever method,
// and the destination is extended with ftruncate, so holes stay holes.
//
// The buffer of the read/write loop is the smallest class that holds the
// file: 4, 16, 64 or 256 KiB, one sync.Pool per class (pools hold *[]byte,
// so a steady-state copy allocates nothing; TestCopyDataAllocs checks it).
// 256 KiB is the cap because buffers from 64 KiB to 4 MiB measure the same
// (BenchmarkBufferSize, within ±10% with no stable winner), while 32 KiB is
// 5-15% slower.
//
// # Metadata
//
// CopyMeta is mergerfs's clonepath step, best effort, in an order where no
// step undoes another: fchown (first: chown clears setuid/setgid and
// security.capability), xattrs, fchmod with the full 07777 bits, futimens
// (nanoseconds; through a raw utimensat(fd, NULL) because x/sys only offers
// microseconds or paths), and chattr flags last (immutable/append-only would
// forbid the rest). Errors that mean "cannot be expressed here" are ignored
// and listed in CopyMeta's doc; the first other error is returned after all
// steps ran.
//
// # Temp files and crash safety
//
// CopyFileAt never exposes a partial file under the destination name, and
// leaves nothing behind when it fails:
//
//   - It copies into an unnamed O_TMPFILE inode in the destination directory,
//     then links it to TempName(dstName) and renames that over dstName (with
//     NoReplace it links straight to dstName: link(2) is atomic and fails with
//     EEXIST, no rename needed). Where O_TMPFILE is missing (FUSE, NFS,
//     vfat) it creates TempName(dstName) with O_EXCL and mode 0600 instead.
//     The name is linked through linkat AT_EMPTY_PATH (needs
//     CAP_DAC_READ_SEARCH) or /proc/self/fd/N; with neither, the copy is
//     redone with a named temp and O_TMPFILE is not tried again.
//   - Why O_TMPFILE: a crash or kill -9 during the data copy, the long part,
//     leaves no file at all. A killed process's inode is freed when its
//     descriptor closes, and after a machine crash the filesystem's orphan
//     list frees it at mount. A named temp would keep the space until someone
//     runs CleanTemps. That matters on a branch that is full already (the
//     moveonenospc case). It costs nothing measurable: creating the inode
//     dominates either way (strace), and BenchmarkCopyFileAt puts the two
//     within ±10% of each other, with the winner changing between runs.
//   - Order: layout flags (NOCOW/compression must be set while empty),
//     data, [Sync: fsync + FADV_DONTNEED so Checksum reads the device],
//     [Verify/Checksum: before the metadata, because reading the copy would
//     move the atime CopyMeta sets], metadata, chattr flags except
//     immutable/append-only, [Sync: fsync], close (its error stops the
//     publication: NFS reports write-back failures there), publish,
//     immutable/append-only (they forbid the rename), [Sync: fsync dir].
//   - Checksum compares source and copy byte for byte rather than comparing
//     two hashes: both files have to be read either way, a memcmp is faster
//     than any hash, and it cannot collide.
//   - Temp names are ".mfs-tmp." + the name cut to fit + "." + 12 hex digits,
//     at most NAME_MAX (255) bytes, cut at a UTF-8 boundary. mergerfs uses
//     ".<name>_XXXXXX"; a fixed prefix lets CleanTemps find leftovers without
//     guessing. CleanTemps judges age by the later of ctime and mtime, never
//     mtime alone (CopyMeta sets the source's mtime on the temp).
//
// A crash leaves the destination either old or complete. Without Sync,
// "complete" holds only up to the filesystem's own ordering (ext4's
// auto_da_alloc, for one, flushes data before a rename-over).
//
// # Reading: mmap, pread and SIGBUS
//
// NewReaderAt maps regular files of MmapThreshold (2 MiB) and more and uses
// pread below that, for special files, and when mmap fails. The threshold is
// the measured break-even of "open, read once, close" on cached data (below
// it mmap's setup and munmap cost more than they save). Repeated reads favor
// mmap at any size (3.4× faster per 4 KiB read), and one-shot cold reads
// slightly favor pread (3-7%). OpenMmap sets no madvise hint:
// MADV_SEQUENTIAL, MADV_WILLNEED and MAP_POPULATE gain at most 10% on cached
// data and lose 9-96% on cold data (with this disk's 8 MiB readahead);
// Mapped.Advise is there for callers that know better.
//
// A file truncated below a mapped page raises SIGBUS on access, which
// normally kills a Go program. Mapped.ReadAt copies under
// debug.SetPanicOnFault and recovers the fault into a *FaultError wrapping
// EIO (TestMappedTruncated). The mapping is never exposed as a slice, so no
// access escapes that guard. The guard and the RWMutex that keeps Close
// from unmapping under a reader cost 16-18 ns of a 4 KiB ReadAt
// (mmap-unguarded below).
//
// # Measurements
//
// Commands (not pinned; then pinned to one CPU with taskset), medians of 5,
// on a 2-vCPU VM (Intel Xeon, kernel 6.18, ext4 on virtio, tmpfs) shared
// with other workloads:
//
//	go test -run x -bench . -benchtime 200ms -count 5 ./vfs/fileio/
//	taskset -c 0 go test -run x -bench . -benchtime 200ms -count 5 ./vfs/fileio/
//
// All data is page-cached unless marked cold. "same" is disk to disk,
// "cross" is disk to a tmpfs the benchmark mounts. auto is CopyData, rw32k a
// pread/pwrite loop with a fixed 32 KiB buffer, adaptive CopyData forced to
// its read/write loop.
//
//	benchmark (ns/op median)                   unpinned    pinned
//	Copy 4KiB   same   auto / rw32k / adaptive  4.4/3.9/4.2 µs   5.0/4.6/5.0 µs
//	Copy 4KiB   cross  auto / rw32k / adaptive  2.9/2.1/2.4 µs   3.5/2.4/2.8 µs
//	Copy 1MiB   same   auto / rw32k / adaptive  205/249/192 µs   203/306/229 µs
//	Copy 1MiB   cross  auto / rw32k / adaptive  242/279/255 µs   234/331/318 µs
//	Copy 100MiB same   auto / rw32k / adaptive  31.9/42.6/34.5 ms  31.7/47.4/37.9 ms
//	Copy 100MiB cross  auto / rw32k / adaptive  41.6/54.2/50.0 ms  38.9/59.4/52.2 ms
//	BufferSize 100MiB  32K/64K/256K/1M/4M       52.8/52.2/49.7/53.3/52.2 ms
//	                                             58.0/56.0/53.3/47.7/48.0 ms (pinned)
//	CopyFileAt 4KiB    tmpfile / named          91 / 96 µs        171 / 157 µs
//	CopyFileAt 1MiB    tmpfile / named          0.89 / 1.2 ms     0.95 / 0.96 ms
//	Read seq 64MiB     pread / mmap             3.5 / 3.0 ms      4.3 / 2.8 ms
//	Read seq 64MiB     mmap seq/willneed/populate  2.8/2.8/2.7 ms  2.7/2.8/2.7 ms
//	Read cold 64MiB    pread / mmap             34.3 / 36.7 ms    35.2 / 36.4 ms
//	Read cold 64MiB    mmap seq/willneed/populate  71.9/50.8/51.6 ms  57.8/39.5/45.5 ms
//	Read random 4KiB   pread / mmap / unguarded 576 / 168 / 150 ns  616 / 170 / 154 ns
//	ReaderSetup 1MiB   pread / mmap             30 / 54 µs        35 / 50 µs
//	ReaderSetup 2MiB   pread / mmap             75 / 75 µs        107 / 84 µs
//	ReaderSetup 4MiB   pread / mmap             182 / 173 µs      260 / 184 µs
//	ReaderSetup 16MiB  pread / mmap             751 / 617 µs      1500 / 703 µs
//
// What the numbers decided:
//   - The in-kernel chain stays first: 1.15-1.5× the fixed loop from 1 MiB up,
//     on the same filesystem (copy_file_range) and across (sendfile after
//     EXDEV). At 4 KiB it loses 0.4-1.1 µs to a bare loop, about 1% of a
//     CopyFileAt of that size (~90-170 µs, mostly creating the inode), so a
//     small-file special case would not pay for itself, and it would give
//     up reflinks.
//   - The adaptive buffer beats the fixed 32 KiB loop from 1 MiB up (4-25%);
//     sizes above 256 KiB buy nothing stable.
//   - mmap beats pread for repeated cached 4 KiB reads by 3.4-3.6×. That is
//     real but far from the 45× reported for a Rust rsync port's
//     block-matching benchmark, whose baseline we cannot reproduce. It also
//     wins a cached pass over 2 MiB or more, from a tie at 2 MiB up to 2× at
//     16 MiB. It does not win cold, where readahead decides.
//
// # Kernel pitfalls
//
//   - copy_file_range across filesystems: allowed 5.3-5.18, EXDEV again
//     since 5.19 for most pairs. Never rely on it; the fallback is the
//     normal cross-branch path.
//   - sendfile and copy_file_range are capped at 2 GiB - 4 KiB per call; the
//     loop asks for at most 1 GiB.
//   - CopyData's dst must not be O_APPEND: pwrite on an O_APPEND descriptor
//     appends on Linux, whatever the offset.
//   - FS_IOC_GETFLAGS/SETFLAGS transfer a 4-byte int even though the ioctl
//     number says long. Storage flags (extents, inline data, verity, DAX)
//     are never copied, and flags are only added, never cleared, so the
//     destination's own storage flags survive.
//   - Immutable or append-only forbid rename, chmod, utimens and setxattr on
//     the file itself, so they come last, after the rename.
//   - Mapped pages wholly beyond EOF fault (SIGBUS). The rest of the page
//     that holds EOF reads as zeros, so a truncation that keeps part of a
//     page shows up as zeros, not as an error.
package fileio
