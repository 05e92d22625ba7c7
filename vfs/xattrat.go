package vfs

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// getxattrat(2) and listxattrat(2) (Linux 6.13) read a file's extended
// attributes relative to a directory fd: below a remembered real directory
// (realDirs) that is one syscall, where the portable way is three (an O_PATH
// open, the call on its /proc/self/fd path — itself a procfs walk — and
// close). `ls -l` asks two xattrs of every file, so under `mfs run` this is
// most of a listing's cost. Kernels without them answer ENOSYS once.
var noXattrat atomic.Bool

// xattrArgs is struct xattr_args.
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// xattrKnown runs getxattrat (list=false) or listxattrat on rel of b when
// its parent is a remembered real directory. ok=false: use withPathFd.
func (b *branch) xattrKnown(rel, name string, buf []byte, list bool) (n int, e unix.Errno, ok bool) {
	if noXattrat.Load() || rel == "" {
		// rel "": the root fd is O_PATH, which the xattr calls refuse (EBADF).
		return 0, 0, false
	}
	root, e := b.rootFast()
	if e != 0 {
		return 0, e, true
	}
	if !b.knownBelow(rel) {
		return 0, 0, false
	}
	const flags = uintptr(unix.AT_SYMLINK_NOFOLLOW)
	// Names on the stack, as cpath_linux.go does for the lookups: this
	// runs for every xattr call below a known directory (ls -l makes two
	// per entry).
	var relb, nameb [cpathMax]byte
	if !cpath(&relb, rel) || !list && !cpath(&nameb, name) {
		return 0, 0, false // long or holding a NUL: withPathFd's x/sys calls judge it
	}
	pp := &relb[0]
	var bufp unsafe.Pointer
	if len(buf) > 0 {
		bufp = unsafe.Pointer(&buf[0])
	}
	var r uintptr
	var errno unix.Errno
	if list {
		r, _, errno = unix.Syscall6(unix.SYS_LISTXATTRAT, uintptr(root), uintptr(unsafe.Pointer(pp)), flags,
			uintptr(bufp), uintptr(len(buf)), 0)
	} else {
		np := &nameb[0]
		args := xattrArgs{value: uint64(uintptr(bufp)), size: uint32(len(buf))}
		r, _, errno = unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(root), uintptr(unsafe.Pointer(pp)), flags,
			uintptr(unsafe.Pointer(np)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	}
	if errno == unix.ENOSYS {
		noXattrat.Store(true)
		return 0, 0, false
	}
	if errno != 0 {
		return 0, errno, true
	}
	return int(r), 0, true
}
