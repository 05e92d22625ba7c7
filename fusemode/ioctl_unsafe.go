package fusemode

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlBuf runs ioctl(fd, cmd, buf): the branch reads its argument from buf
// or writes its result there.
func ioctlBuf(fd int, cmd uint, buf []byte) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), uintptr(unsafe.Pointer(&buf[0])))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}
