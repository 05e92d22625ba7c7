package vfs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const sysFchmodat2 = 452 // x86_64 and the generic table; Linux 6.6

func fchmodat2(dir int, name string, mode uint32, flags int) unix.Errno {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return unix.EINVAL
	}
	_, _, e := unix.Syscall6(sysFchmodat2, uintptr(dir), uintptr(unsafe.Pointer(p)), uintptr(mode), uintptr(flags), 0, 0)
	return e
}
