package vfs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The lookups every union operation makes (fstatat and openat2 of a
// branch-relative name) hand the kernel a NUL-terminated copy of the name.
// x/sys/unix allocates that copy on the heap for every call; these wrappers
// build it on the stack when it is short, which is nearly always, and fall
// back to x/sys otherwise. Same system calls, same results.

// cpathMax bounds the names copied on the stack (NUL included).
const cpathMax = 256

// cpath copies p into b with a terminating NUL, or reports false when p does
// not fit or holds a NUL (x/sys then returns the EINVAL it returns for it).
func cpath(b *[cpathMax]byte, p string) bool {
	if len(p) >= cpathMax {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == 0 {
			return false
		}
		b[i] = p[i]
	}
	b[len(p)] = 0
	return true
}

// fstatat is unix.Fstatat without the allocation.
func fstatat(dirfd int, path string, st *unix.Stat_t, flags int) error {
	var b [cpathMax]byte
	if !cpath(&b, path) {
		return unix.Fstatat(dirfd, path, st, flags)
	}
	_, _, e := unix.Syscall6(sysFstatat, uintptr(dirfd), uintptr(unsafe.Pointer(&b[0])),
		uintptr(unsafe.Pointer(st)), uintptr(flags), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// openat2 is unix.Openat2 without the allocations.
func openat2(dirfd int, path string, how unix.OpenHow) (int, error) {
	var b [cpathMax]byte
	if !cpath(&b, path) {
		return unix.Openat2(dirfd, path, &how)
	}
	fd, _, e := unix.Syscall6(unix.SYS_OPENAT2, uintptr(dirfd), uintptr(unsafe.Pointer(&b[0])),
		uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// statx is unix.Statx without the allocation.
func statx(dirfd int, path string, flags int, mask uint32, stx *unix.Statx_t) error {
	var b [cpathMax]byte
	if !cpath(&b, path) {
		return unix.Statx(dirfd, path, flags, int(mask), stx)
	}
	_, _, e := unix.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(&b[0])),
		uintptr(flags), uintptr(mask), uintptr(unsafe.Pointer(stx)), 0)
	if e != 0 {
		return e
	}
	return nil
}

// statfs is unix.Statfs without the allocation: a create policy reads the
// space of every branch on every create.
func statfs(path string, st *unix.Statfs_t) error {
	var b [cpathMax]byte
	if !cpath(&b, path) {
		return unix.Statfs(path, st)
	}
	_, _, e := unix.Syscall(unix.SYS_STATFS, uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(st)), 0)
	if e != 0 {
		return e
	}
	return nil
}
