package vfs

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Cred is the identity of the process a request comes from. Every operation
// runs with it, so a server running as root never acts as root for a user.
type Cred struct {
	Uid    uint32
	Gid    uint32
	Groups []uint32 // supplementary groups; nil means none
	Umask  uint32   // applied to modes of created entries
	Pid    int32    // for logs and per-process options; 0 when unknown
}

// RootCred is the identity of a privileged caller with umask 0.
var RootCred = &Cred{}

// serverEUID is this process's effective uid, read once: per-thread identity
// switching is only possible (and only needed) when the server runs as root.
var serverEUID = os.Geteuid()

// asCaller runs fn with the caller's filesystem identity on a locked OS thread.
// It uses the per-thread fsuid/fsgid and a per-thread supplementary group list
// (raw syscalls: Go's syscall.Setgroups changes every thread) and drops
// CAP_SYS_RESOURCE so quotas and root-reserved blocks apply to the caller.
// When the server is not root the kernel already checks with the server's own
// identity, which is the caller's (mfs run without privileges), so fn runs as is.
func asCaller(c *Cred, fn func() unix.Errno) unix.Errno {
	if serverEUID != 0 || c == nil || (c.Uid == 0 && c.Gid == 0) {
		return fn()
	}
	runtime.LockOSThread()
	restored := false
	defer func() {
		// A thread whose identity could not be restored is dropped by the runtime:
		// returning without UnlockOSThread makes it exit with the goroutine.
		if restored {
			runtime.UnlockOSThread()
		}
	}()
	if err := setThreadGroups(c.Groups); err != nil {
		restored = true
		return errnoOf(err)
	}
	unix.Setfsgid(int(c.Gid))
	unix.Setfsuid(int(c.Uid))
	capsDropped := dropSysResource()
	e := fn()
	unix.Setfsuid(0)
	unix.Setfsgid(0)
	okCaps := !capsDropped || restoreSysResource()
	okGroups := setThreadGroups(nil) == nil
	restored = okCaps && okGroups && threadIsRoot()
	return e
}

// threadIsRoot checks the restore: setfsuid returns the previous value, so
// asking to set an invalid id (-1) reports the current one without change.
func threadIsRoot() bool {
	u, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, ^uintptr(0), 0, 0)
	g, _, _ := unix.RawSyscall(unix.SYS_SETFSGID, ^uintptr(0), 0, 0)
	return u == 0 && g == 0
}

func dropSysResource() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	const bit = 1 << unix.CAP_SYS_RESOURCE
	if data[0].Effective&bit == 0 {
		return false
	}
	data[0].Effective &^= bit
	return unix.Capset(&hdr, &data[0]) == nil
}

func restoreSysResource() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	data[0].Effective |= 1 << unix.CAP_SYS_RESOURCE
	return unix.Capset(&hdr, &data[0]) == nil
}
