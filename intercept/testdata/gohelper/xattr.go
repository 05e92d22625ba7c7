package main

import (
	"fmt"
	"strings"
	"syscall"
	"unsafe"
)

// xattrEdges: getxattr(2) of PATH's attribute NAME with the strings where a
// supervisor reading them meets page ends: each string ending on the last
// byte of a page that is followed by an inaccessible one, a 256-byte name
// (ERANGE), a name pointer into the inaccessible page (EFAULT). One line
// per case: the value or the errno.
func xattrEdges(path, name string) error {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return err
	}
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		return err
	}
	// atEnd copies s with its NUL so that the NUL is the page's last byte.
	atEnd := func(s string, off int) *byte {
		start := page - off - len(s) - 1
		copy(mem[start:], s)
		mem[start+len(s)] = 0
		return &mem[start]
	}
	get := func(p, n *byte) string {
		buf := make([]byte, 256)
		r, _, e := syscall.Syscall6(syscall.SYS_GETXATTR, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(n)),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		if e != 0 {
			return e.Error()
		}
		return string(buf[:r])
	}
	cstr := func(s string) *byte {
		b := append([]byte(s), 0)
		return &b[0]
	}
	fmt.Println(get(cstr(path), cstr(name)))
	fmt.Println(get(cstr(path), atEnd(name, 0)))
	fmt.Println(get(atEnd(path, 0), cstr(name)))
	// path and name both ending at the page end (the name first in memory)
	n := atEnd(name, len(path)+1)
	fmt.Println(get(atEnd(path, 0), n))
	fmt.Println(get(cstr(path), cstr("user."+strings.Repeat("a", 251))))
	fmt.Println(get(cstr(path), &mem[page]))
	return nil
}
