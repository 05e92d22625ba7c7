package fileio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawFutimens is futimens(3): utimensat(fd, NULL, ts, 0). x/sys/unix offers
// only Futimes (microseconds, via /proc/self/fd) and UtimesNanoAt, which
// needs a path; utimensat with a NULL path is the one form that sets
// nanosecond times on an open descriptor on every kernel, without /proc and
// without AT_EMPTY_PATH (5.8+).
func rawFutimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
