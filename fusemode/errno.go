package fusemode

import (
	"errors"
	"io/fs"
	"log/slog"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// This file is the one place where errors become FUSE reply statuses.
//
// vfs already answers with a unix.Errno, which the kernel takes as is, with
// one trap: for ACCESS, FLUSH, FSYNC, the xattr calls, FALLOCATE, LSEEK,
// COPY_FILE_RANGE and others the kernel remembers an ENOSYS reply and never
// sends that operation again (so every later access(2) would succeed, every
// close would skip flush). ENOSYS therefore only reaches the kernel where it
// is meant: the xattr calls under xattr=nosys, which is how mergerfs tells
// the kernel to stop asking. Any other ENOSYS is logged and becomes EIO.

// enosysAllowed lists the operations that may answer ENOSYS on purpose.
var enosysAllowed = map[string]bool{
	"getxattr": true, "listxattr": true, "setxattr": true, "removexattr": true,
}

// reply turns the errno of operation op into the reply status.
func (r *rawFS) reply(op string, e unix.Errno) fuse.Status {
	if e == 0 {
		return fuse.OK
	}
	if e == unix.ENOSYS && !enosysAllowed[op] {
		r.log.Warn("fusemode: ENOSYS from the pool would disable the operation in the kernel; answering EIO", "op", op)
		return fuse.EIO
	}
	return fuse.Status(e)
}

// errnoOf maps a Go error to an errno: a wrapped unix.Errno (syscall.Errno)
// wins, then the io/fs sentinels. Anything else is logged with the operation
// and becomes EIO, never ENOSYS by accident.
func (r *rawFS) errnoOf(op string, err error) unix.Errno {
	if err == nil {
		return 0
	}
	if en, ok := err.(syscall.Errno); ok { // the common case, without reflection
		return unix.Errno(en)
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return unix.Errno(en)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return unix.ENOENT
	case errors.Is(err, fs.ErrExist):
		return unix.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return unix.EACCES
	case errors.Is(err, fs.ErrInvalid):
		return unix.EINVAL
	case errors.Is(err, fs.ErrClosed):
		return unix.EBADF
	}
	r.log.Warn("fusemode: unexpected error; answering EIO", "op", op, slog.Any("err", err))
	return unix.EIO
}
