package fileio

import (
	"bytes"
	"fmt"

	"golang.org/x/sys/unix"
)

// Inode flags (linux/fs.h FS_*_FL; x/sys/unix does not define most of them).
const (
	flSecRm       = 0x00000001 // FS_SECRM_FL
	flUnRm        = 0x00000002 // FS_UNRM_FL
	flCompr       = 0x00000004 // FS_COMPR_FL
	flSync        = 0x00000008 // FS_SYNC_FL
	flImmutable   = 0x00000010 // FS_IMMUTABLE_FL
	flAppend      = 0x00000020 // FS_APPEND_FL
	flNoDump      = 0x00000040 // FS_NODUMP_FL
	flNoAtime     = 0x00000080 // FS_NOATIME_FL
	flNoComp      = 0x00000400 // FS_NOCOMP_FL
	flJournalData = 0x00004000 // FS_JOURNAL_DATA_FL
	flNoTail      = 0x00008000 // FS_NOTAIL_FL
	flNoCOW       = 0x00800000 // FS_NOCOW_FL

	// flCopy is what CopyMeta transfers: the chattr(1) flags that mean
	// something for a regular file. Flags that describe the inode's storage
	// (extents, inline data, encryption, verity, casefold, DAX) belong to the
	// destination filesystem and are left alone; directory-only flags
	// (DIRSYNC, TOPDIR, PROJINHERIT) don't apply.
	flCopy = flSecRm | flUnRm | flCompr | flSync | flImmutable | flAppend |
		flNoDump | flNoAtime | flNoComp | flJournalData | flNoTail | flNoCOW
	// flLayout must be set while the file is still empty to take effect
	// (btrfs ignores NOCOW on a non-empty file); CopyFileAt sets them
	// before copying data.
	flLayout = flCompr | flNoComp | flNoCOW
	// flSeal forbids later changes (utimens, chmod, xattrs, and rename of the
	// file itself), so it is applied last, after the temp file is in place.
	flSeal = flImmutable | flAppend
)

// CopyMeta copies ownership, permission bits, timestamps, extended attributes
// and inode flags from src to dst, best effort, in the order that keeps each
// step from undoing another:
//
//  1. fchown (only if different). It comes first because chown clears the
//     setuid/setgid bits and the security.capability xattr.
//  2. xattrs (flistxattr/fgetxattr/fsetxattr), including system.posix_acl_*
//     and security.*.
//  3. fchmod with the full 07777 bits, restoring setuid/setgid after chown.
//  4. futimens with src's atime and mtime, nanoseconds included.
//  5. inode flags (FS_IOC_GETFLAGS/SETFLAGS) last, because immutable and
//     append-only forbid steps 1-4. src's chattr flags are added to dst's;
//     storage flags (extents, inline data, encryption, verity, DAX) and
//     flags dst already has are left alone.
//
// Every step runs even when an earlier one failed; the first error that is
// not ignorable is returned, wrapped with the step and naming the xattr.
//
// Ignored errors (they mean "this cannot be expressed here", not "I/O
// failed"):
//   - fchown: EPERM (an unprivileged caller cannot give files away; the copy
//     keeps the caller's ownership) and EINVAL (id not mapped in this user
//     namespace).
//   - xattrs: ENOTSUP/EOPNOTSUPP (the filesystem or namespace has no xattrs,
//     e.g. user.* on tmpfs before 6.6), EPERM and EACCES (trusted.* without
//     CAP_SYS_ADMIN, security.* refused by the LSM, user.* on special
//     files) and ENODATA (the attribute vanished between list and get).
//   - flags: ENOTTY, ENOTSUP/EOPNOTSUPP and EINVAL (no flag support, or not
//     this flag, on the destination) and EPERM (immutable, append-only and
//     data-journalling need CAP_LINUX_IMMUTABLE / CAP_SYS_RESOURCE).
//
// fchmod and futimens errors are never ignored. Call CopyMeta before reading
// src if its atime matters; CopyFileAt takes the stat before it copies.
func CopyMeta(dst, src int) error {
	var st unix.Stat_t
	if err := fstat(src, &st); err != nil {
		return fmt.Errorf("fileio: copy metadata: fstat source: %w", err)
	}
	err := copyMeta(dst, src, &st)
	if err2 := copyFlags(dst, src, flCopy); err == nil {
		err = err2
	}
	return err
}

// copyMeta performs steps 1-4 of CopyMeta with st, src's stat.
func copyMeta(dst, src int, st *unix.Stat_t) error {
	var first error
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	var dt unix.Stat_t
	if err := fstat(dst, &dt); err != nil {
		return fmt.Errorf("fileio: copy metadata: fstat destination: %w", err)
	}
	if dt.Uid != st.Uid || dt.Gid != st.Gid {
		if err := fchown(dst, int(st.Uid), int(st.Gid)); err != nil && err != unix.EPERM && err != unix.EINVAL {
			keep(fmt.Errorf("fileio: copy metadata: fchown %d:%d: %w", st.Uid, st.Gid, err))
		}
	}
	keep(copyXattrs(dst, src))
	if err := fchmod(dst, st.Mode&07777); err != nil {
		keep(fmt.Errorf("fileio: copy metadata: fchmod %#o: %w", st.Mode&07777, err))
	}
	ts := [2]unix.Timespec{st.Atim, st.Mtim}
	if err := futimens(dst, &ts); err != nil {
		keep(fmt.Errorf("fileio: copy metadata: futimens: %w", err))
	}
	return first
}

func ignorableXattr(err error) bool {
	switch err {
	case unix.ENOTSUP, unix.EPERM, unix.EACCES, unix.ENODATA:
		return true
	}
	return false
}

// copyXattrs copies every extended attribute of src to dst.
func copyXattrs(dst, src int) error {
	var stack [1024]byte
	list, err := readXattr(stack[:], func(b []byte) (int, error) { return flistxattr(src, b) })
	if err != nil {
		if ignorableXattr(err) {
			return nil
		}
		return fmt.Errorf("fileio: copy metadata: flistxattr: %w", err)
	}
	var first error
	var vstack [1024]byte
	for len(list) > 0 {
		i := bytes.IndexByte(list, 0)
		if i < 0 {
			i = len(list)
		}
		name := string(list[:i])
		list = list[min(i+1, len(list)):]
		if name == "" {
			continue
		}
		val, err := readXattr(vstack[:], func(b []byte) (int, error) { return fgetxattr(src, name, b) })
		if err == nil {
			err = fsetxattr(dst, name, val)
			if err != nil && !ignorableXattr(err) && first == nil {
				first = fmt.Errorf("fileio: copy metadata: fsetxattr %q: %w", name, err)
			}
			continue
		}
		if !ignorableXattr(err) && first == nil {
			first = fmt.Errorf("fileio: copy metadata: fgetxattr %q: %w", name, err)
		}
	}
	return first
}

// readXattr calls get with buf, growing it on ERANGE (the attribute or list
// may grow between the size query and the read).
func readXattr(buf []byte, get func([]byte) (int, error)) ([]byte, error) {
	for {
		n, err := get(buf)
		if err == nil {
			return buf[:n], nil
		}
		if err != unix.ERANGE {
			return nil, err
		}
		need, err := get(nil)
		if err != nil {
			return nil, err
		}
		buf = make([]byte, max(need, 2*len(buf)))
	}
}

func ignorableFlags(err error) bool {
	switch err {
	case unix.ENOTTY, unix.ENOTSUP, unix.EINVAL, unix.EPERM:
		return true
	}
	return false
}

// copyFlags adds src's flags in mask to dst. Flags dst already has (a
// NOCOW or NODUMP inherited from its directory, EXTENTS set by ext4) are
// kept: a copy should not strip what the destination chose. The ioctl is
// skipped when nothing changes, the common case of no chattr flags at all.
func copyFlags(dst, src int, mask uint32) error {
	sf, err := getFlags(src)
	if err != nil {
		if ignorableFlags(err) {
			return nil
		}
		return fmt.Errorf("fileio: copy metadata: FS_IOC_GETFLAGS source: %w", err)
	}
	return applyFlags(dst, sf, mask)
}

// applyFlags adds srcFlags&mask to dst's flags.
func applyFlags(dst int, srcFlags, mask uint32) error {
	if srcFlags&mask == 0 {
		return nil
	}
	df, err := getFlags(dst)
	if err != nil {
		if ignorableFlags(err) {
			return nil
		}
		return fmt.Errorf("fileio: copy metadata: FS_IOC_GETFLAGS: %w", err)
	}
	want := df | srcFlags&mask
	if want == df {
		return nil
	}
	if err := setFlags(dst, want); err != nil && !ignorableFlags(err) {
		return fmt.Errorf("fileio: copy metadata: FS_IOC_SETFLAGS %#x: %w", want, err)
	}
	return nil
}
