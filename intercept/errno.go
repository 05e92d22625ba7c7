package intercept

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// reply is the single answer to one notification. Handlers return one; only
// the receive loop sends it, so each notification gets exactly one response.
type reply struct {
	kind  replyKind
	val   int64      // replyValue: the syscall's return value
	errno unix.Errno // replyErrno
	fd    int        // replyFD: supervisor fd injected with ADDFD|SEND, then closed
	flags uint32     // replyFD: newfd_flags (O_CLOEXEC or 0)
}

type replyKind uint8

const (
	// replyContinue lets the kernel run the syscall as the task issued it:
	// the decision for every path outside the unions.
	replyContinue replyKind = iota
	replyValue
	replyErrno
	replyFD
	// replyGone: the task died or the syscall was interrupted while we
	// looked (ID_VALID failed): nothing can be sent.
	replyGone
)

func cont() reply             { return reply{kind: replyContinue} }
func value(v int64) reply     { return reply{kind: replyValue, val: v} }
func fail(e unix.Errno) reply { return reply{kind: replyErrno, errno: e} }
func gone() reply             { return reply{kind: replyGone} }
func injectFD(fd int, cloexec bool) reply {
	r := reply{kind: replyFD, fd: fd}
	if cloexec {
		r.flags = unix.O_CLOEXEC
	}
	return r
}

// result turns an errno from vfs (0 = success) into a reply of value 0.
func result(e unix.Errno) reply {
	if e != 0 {
		return fail(e)
	}
	return value(0)
}

// resp encodes a reply in the kernel's convention: a failed syscall is a
// negative errno in error with val 0; CONTINUE must carry neither.
func (r reply) resp(id uint64) notifResp {
	switch r.kind {
	case replyContinue:
		return notifResp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	case replyErrno:
		e := r.errno
		if e == 0 {
			e = unix.EIO
		}
		return notifResp{ID: id, Error: -int32(e)}
	default:
		return notifResp{ID: id, Val: r.val}
	}
}

func (r reply) String() string {
	switch r.kind {
	case replyContinue:
		return "continue"
	case replyErrno:
		return r.errno.Error()
	case replyFD:
		return fmt.Sprintf("fd(%d)", r.fd)
	case replyGone:
		return "gone"
	}
	return fmt.Sprint(r.val)
}

// errnoOf is the one mapping from Go errors to an errno in this package:
// errors.As to unix.Errno, then the io/fs sentinels; anything else is EIO.
func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(unix.Errno); ok { // the common case, without reflection
		return e
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return unix.ENOENT
	case errors.Is(err, fs.ErrExist):
		return unix.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return unix.EACCES
	}
	return unix.EIO
}

type errSizes struct{ s notifSizes }

func (e errSizes) Error() string {
	return fmt.Sprintf("kernel seccomp notification sizes %d/%d/%d differ from mfs's %d/%d/%d",
		e.s.Notif, e.s.Resp, e.s.Data, sizeofNotif, sizeofResp, sizeofData)
}
