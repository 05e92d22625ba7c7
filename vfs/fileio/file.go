package fileio

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// CopyOptions tunes CopyFileAt. The zero value is a plain crash-safe copy:
// no fsync, no verification, replace an existing destination.
type CopyOptions struct {
	// Sync fsyncs the copy before it is renamed into place and the
	// destination directory after, so the new name and its contents survive
	// a power loss. Without Sync the copy is still atomic (readers see the
	// old file or the complete new one) but not durable.
	Sync bool
	// Verify checks, before the rename, that the copy has the source's
	// size and that the source's size and mtime did not change while it was
	// copied (a concurrent writer would make the copy inconsistent).
	Verify bool
	// Checksum implies Verify and also compares the contents of source and
	// copy, byte for byte, re-reading both. With Sync the copy's cached pages
	// are dropped first (posix_fadvise DONTNEED after the fsync), so its
	// bytes come back from the device rather than from the page cache.
	Checksum bool
	// NoReplace fails with EEXIST instead of replacing an existing
	// destination (renameat2 RENAME_NOREPLACE, or linkat where that flag is
	// not supported). The check and the publication are one atomic step.
	NoReplace bool

	// noTmpfile forces the named-temp path (tests and benchmarks).
	noTmpfile bool
	// first forces the first method of the data copy (benchmarks).
	first Method
}

// Error reports the failed step of CopyFileAt. It unwraps to the cause,
// usually a unix.Errno, so errors.Is(err, unix.ENOSPC) works.
type Error struct {
	Op  string // step: "open source", "create temp", "copy data", ...
	Src string // source name, relative to the source directory
	Dst string // destination name, relative to the destination directory
	Err error
}

func (e *Error) Error() string {
	return "fileio: " + e.Op + " (" + strconv.Quote(e.Src) + " -> " + strconv.Quote(e.Dst) + "): " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrVerify is wrapped by CopyFileAt errors when CopyOptions.Verify or
// Checksum found a difference between source and copy.
var ErrVerify = errors.New("verification failed")

var errNotRegular = fmt.Errorf("not a regular file: %w", unix.EINVAL)

// tmpfileLink records whether an O_TMPFILE copy can be given a name in this
// process: 0 unknown, 1 via linkat AT_EMPTY_PATH (needs
// CAP_DAC_READ_SEARCH), 2 via /proc/self/fd, 3 neither (use named temps).
var tmpfileLink atomic.Int32

const (
	linkUnknown = iota
	linkEmptyPath
	linkProc
	linkNone
)

// procSelfFd is where a descriptor can be re-opened by path (a variable so
// tests can make /proc disappear).
var procSelfFd = "/proc/self/fd/"

// errRetryNamed: the O_TMPFILE copy could not be linked; redo it named.
var errRetryNamed = errors.New("fileio: cannot link O_TMPFILE")

// CopyFileAt copies the regular file srcName (relative to srcDir) to dstName
// (a single name in dstDir) crash-safely: readers of dstName see either the
// old file or the complete copy, never a partial one, and on any failure no
// temporary file is left behind.
//
// Protocol (doc.go explains the crash-safety argument):
//
//  1. open srcName O_RDONLY|O_NOFOLLOW|O_NONBLOCK (and O_NOATIME where
//     allowed, so the copy does not touch the source's atime); it must be a
//     regular file.
//  2. create the copy: an unnamed O_TMPFILE inode in dstDir, or, where the
//     filesystem lacks O_TMPFILE, TempName(dstName) with O_EXCL, mode 0600.
//  3. layout flags (NOCOW, compression), CopyData, [Sync: fsync, Checksum:
//     drop cache], [Verify], CopyMeta minus immutable/append-only, [Sync:
//     fsync], close.
//  4. publish: renameat(temp → dstName), or renameat2 RENAME_NOREPLACE with
//     NoReplace. An O_TMPFILE copy is first linked to a temp name (or, with
//     NoReplace, straight to dstName, which is atomic and needs no rename).
//  5. re-apply immutable/append-only flags if the source had them (best
//     effort: errors are ignored, the copy is already in place), and with
//     Sync fsync dstDir.
//
// Errors are *Error values naming the step and both names. Until step 4
// succeeds the destination is untouched and the temp file is removed. A
// failing directory fsync in step 5 is reported although dstName is already
// in place.
func CopyFileAt(srcDir int, srcName string, dstDir int, dstName string, opt CopyOptions) error {
	fail := func(op string, err error) error { return &Error{Op: op, Src: srcName, Dst: dstName, Err: err} }
	if dstName == "" || dstName == "." || dstName == ".." || len(dstName) > nameMax || strings.IndexByte(dstName, '/') >= 0 {
		return fail("check destination name", unix.EINVAL)
	}
	src, err := openSource(srcDir, srcName)
	if err != nil {
		return fail("open source", err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := fstat(src, &st); err != nil {
		return fail("stat source", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail("check source", errNotRegular)
	}
	if opt.Checksum {
		opt.Verify = true
	}
	srcFlags, err := getFlags(src)
	if err != nil {
		if !ignorableFlags(err) {
			return fail("copy metadata", fmt.Errorf("FS_IOC_GETFLAGS: %w", err))
		}
		srcFlags = 0
	}
	c := fileCopy{src: src, st: &st, srcFlags: srcFlags, dstDir: dstDir, dstName: dstName, opt: opt}
	anon := !opt.noTmpfile && tmpfileLink.Load() != linkNone
	op, err := c.run(anon)
	if err == errRetryNamed {
		op, err = c.run(false)
	}
	if err != nil {
		return fail(op, err)
	}
	if srcFlags&flSeal != 0 {
		if fd, err := openat(dstDir, dstName, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0); err == nil {
			_ = applyFlags(fd, srcFlags, flSeal) // best effort, see step 5
			unix.Close(fd)
		}
	}
	if opt.Sync {
		if err := syncDir(dstDir); err != nil {
			return fail("sync directory", err)
		}
	}
	return nil
}

// openSource opens a copy source without following a final symlink, without
// blocking on a FIFO, and without updating atime where the caller owns the
// file (O_NOATIME is EPERM otherwise, then it is retried without).
func openSource(dir int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK
	fd, err := openat(dir, name, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM {
		fd, err = openat(dir, name, flags, 0)
	}
	return fd, err
}

// syncDir fsyncs dir through a fresh descriptor: dir may be an O_PATH
// descriptor, on which fsync fails with EBADF.
func syncDir(dir int) error {
	fd, err := openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	err = fsync(fd)
	unix.Close(fd)
	return err
}

// fileCopy is one CopyFileAt call.
type fileCopy struct {
	src      int
	st       *unix.Stat_t
	srcFlags uint32
	dstDir   int
	dstName  string
	opt      CopyOptions

	fd   int    // the copy, -1 once closed
	name string // the copy's name in dstDir, "" while it has none
}

// run does steps 2-4 and returns the failed step's name with the error.
// Whatever happens, it leaves no temp file behind.
func (c *fileCopy) run(anon bool) (op string, err error) {
	c.fd, c.name = -1, ""
	if err := c.create(anon); err != nil {
		return "create temp", err
	}
	defer func() {
		if err != nil {
			c.discard()
		}
	}()
	if err := applyFlags(c.fd, c.srcFlags, flLayout); err != nil {
		return "copy metadata", err
	}
	first := c.opt.first
	if first == MethodNone {
		first = MethodCopyFileRange
	}
	if _, _, err := copyData(c.fd, c.src, c.st.Size, first); err != nil {
		return "copy data", err
	}
	if c.opt.Verify {
		if c.opt.Sync && c.opt.Checksum {
			if err := fsync(c.fd); err != nil {
				return "sync", err
			}
			_ = fadvise(c.fd, 0, 0, unix.FADV_DONTNEED) // advisory
		}
		// Before the metadata: reading the copy would update the atime
		// CopyMeta is about to set.
		if err := verify(c.fd, c.src, c.st, c.opt.Checksum); err != nil {
			return "verify", err
		}
	}
	if err := copyMeta(c.fd, c.src, c.st); err != nil {
		return "copy metadata", err
	}
	if err := applyFlags(c.fd, c.srcFlags, flCopy&^flSeal); err != nil {
		return "copy metadata", err
	}
	if c.opt.Sync {
		if err := fsync(c.fd); err != nil {
			return "sync", err
		}
	}
	return c.publish()
}

// create makes the copy's inode: O_TMPFILE if anon and the filesystem
// supports it, else a fresh TempName with O_EXCL. O_RDWR because Verify
// reads the copy back.
func (c *fileCopy) create(anon bool) error {
	if anon {
		fd, err := openat(c.dstDir, ".", unix.O_RDWR|unix.O_TMPFILE, 0o600)
		switch err {
		case nil:
			c.fd = fd
			return nil
		case unix.EOPNOTSUPP, unix.EISDIR, unix.EINVAL:
			// No O_TMPFILE here (FUSE, NFS, vfat, ...; EISDIR: a kernel
			// older than 3.11 that only sees O_DIRECTORY).
		default:
			return err
		}
	}
	for range 16 {
		name := TempName(c.dstName)
		fd, err := openat(c.dstDir, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return err
		}
		c.fd, c.name = fd, name
		return nil
	}
	return unix.EEXIST
}

// discard closes and removes the copy.
func (c *fileCopy) discard() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	if c.name != "" {
		_ = unlinkat(c.dstDir, c.name)
		c.name = ""
	}
}

// closeCopy closes the copy and reports close's error: on NFS and FUSE it
// carries write-back failures, which must stop the publication.
func (c *fileCopy) closeCopy() error {
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// publish is step 4.
func (c *fileCopy) publish() (string, error) {
	if c.name == "" { // O_TMPFILE
		if c.opt.NoReplace {
			if err := c.link(c.dstName); err != nil {
				return "link", err
			}
			// dstName did not exist (linkat would have failed): it is ours,
			// and is removed again if close fails.
			c.name = c.dstName
			if err := c.closeCopy(); err != nil {
				return "close", err
			}
			c.name = ""
			return "", nil
		}
		var err error
		for range 16 {
			name := TempName(c.dstName)
			if err = c.link(name); err != unix.EEXIST {
				if err == nil {
					c.name = name
				}
				break
			}
		}
		if err != nil {
			return "link", err
		}
	}
	if err := c.closeCopy(); err != nil {
		return "close", err
	}
	if err := c.rename(); err != nil {
		return "rename", err
	}
	c.name = ""
	return "", nil
}

// rename moves the named temp over dstName.
func (c *fileCopy) rename() error {
	if !c.opt.NoReplace {
		return renameat2(c.dstDir, c.name, c.dstDir, c.dstName, 0)
	}
	err := renameat2(c.dstDir, c.name, c.dstDir, c.dstName, unix.RENAME_NOREPLACE)
	switch err {
	case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
		return linkNoReplace(c.dstDir, c.name, c.dstName)
	}
	return err
}

// linkNoReplace renames old to new in dir unless new exists, for
// filesystems without RENAME_NOREPLACE: link(2) fails with EEXIST just as
// atomically; then the old name is dropped.
func linkNoReplace(dir int, old, new string) error {
	if err := linkat(dir, old, dir, new, 0); err != nil {
		return err
	}
	_ = unlinkat(dir, old)
	return nil
}

// link gives the O_TMPFILE copy the name name in dstDir. It returns
// errRetryNamed when this process cannot link O_TMPFILE files at all.
func (c *fileCopy) link(name string) error {
	way := tmpfileLink.Load()
	if way == linkUnknown || way == linkEmptyPath {
		err := linkat(c.fd, "", c.dstDir, name, unix.AT_EMPTY_PATH)
		if err == nil {
			tmpfileLink.Store(linkEmptyPath)
			return nil
		}
		if err != unix.ENOENT && err != unix.EPERM && err != unix.EINVAL {
			return err
		}
		// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH.
	}
	proc := procSelfFd + strconv.Itoa(c.fd)
	err := linkat(unix.AT_FDCWD, proc, c.dstDir, name, unix.AT_SYMLINK_FOLLOW)
	if err == nil {
		tmpfileLink.Store(linkProc)
		return nil
	}
	var st unix.Stat_t
	if fstatat(unix.AT_FDCWD, proc, &st, 0) == nil {
		// /proc works, so the error is about the destination.
		tmpfileLink.CompareAndSwap(linkUnknown, linkProc)
		return err
	}
	// No /proc: this process cannot name O_TMPFILE files. Remember that and
	// redo this copy with a named temp.
	tmpfileLink.Store(linkNone)
	return errRetryNamed
}

// verify is CopyOptions.Verify (and Checksum).
func verify(dst, src int, st *unix.Stat_t, contents bool) error {
	var dt, now unix.Stat_t
	if err := fstat(dst, &dt); err != nil {
		return err
	}
	if dt.Size != st.Size {
		return fmt.Errorf("%w: copy has %d bytes, source %d", ErrVerify, dt.Size, st.Size)
	}
	if err := fstat(src, &now); err != nil {
		return err
	}
	if now.Size != st.Size || now.Mtim != st.Mtim {
		return fmt.Errorf("%w: source changed during the copy", ErrVerify)
	}
	if !contents {
		return nil
	}
	cls := bufClass(st.Size)
	a, b := getBuf(cls), getBuf(cls)
	defer putBuf(cls, a)
	defer putBuf(cls, b)
	for off := int64(0); off < st.Size; {
		want := int(min(int64(len(*a)), st.Size-off))
		if err := preadFull(src, (*a)[:want], off); err != nil {
			return err
		}
		if err := preadFull(dst, (*b)[:want], off); err != nil {
			return err
		}
		if !bytes.Equal((*a)[:want], (*b)[:want]) {
			i := 0
			for (*a)[i] == (*b)[i] {
				i++
			}
			return fmt.Errorf("%w: contents differ at byte %d", ErrVerify, off+int64(i))
		}
		off += int64(want)
	}
	return nil
}

// preadFull fills p from off; a short file is io.ErrUnexpectedEOF.
func preadFull(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := pread(fd, p, off)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: file ended early", ErrVerify)
		}
		p = p[n:]
		off += int64(n)
	}
	return nil
}
