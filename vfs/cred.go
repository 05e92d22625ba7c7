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
	// Each credential change commits a new cred in the kernel; skip the
	// group switch when neither side has supplementary groups.
	switchGroups := len(c.Groups) > 0 || serverHasGroups
	if switchGroups {
		if err := setThreadGroups(c.Groups); err != nil {
			restored = true
			return errnoOf(err)
		}
	}
	unix.Setfsgid(int(c.Gid))
	unix.Setfsuid(int(c.Uid))
	capsDropped := dropSysResource()
	e := fn()
	unix.Setfsuid(0)
	unix.Setfsgid(0)
	// setfsuid/setfsgid back to 0 cannot fail for a root process (they
	// return the previous id, not an error); caps and groups can.
	okCaps := !capsDropped || setCaps(serverCaps)
	okGroups := !switchGroups || setThreadGroups(serverGroups) == nil
	restored = okCaps && okGroups
	return e
}

// serverGroups are the server's supplementary groups, restored after a switch.
var serverGroups, serverHasGroups = func() ([]uint32, bool) {
	gs, _ := unix.Getgroups()
	out := make([]uint32, len(gs))
	for i, g := range gs {
		out[i] = uint32(g)
	}
	return out, len(out) > 0
}()

// serverCaps are the server's capability sets, read once: capabilities of a
// root server do not change while it runs, so switching needs no capget.
var serverCaps = func() [2]unix.CapUserData {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	unix.Capget(&hdr, &data[0])
	return data
}()

func setCaps(data [2]unix.CapUserData) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	return unix.Capset(&hdr, &data[0]) == nil
}

// dropSysResource removes CAP_SYS_RESOURCE from the thread's effective set.
func dropSysResource() bool {
	const bit = 1 << unix.CAP_SYS_RESOURCE
	if serverCaps[0].Effective&bit == 0 {
		return false
	}
	data := serverCaps
	data[0].Effective &^= bit
	return setCaps(data)
}
