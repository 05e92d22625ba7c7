package fusemode

import (
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Flag ioctls forwarded to the branch: chattr(1) and lsattr(1) use
// FS_IOC_GETFLAGS/SETFLAGS (also in their int-sized encoding); the kernel's
// fileattr code turns a SETFLAGS into FS_IOC_FSGETXATTR (reading the old
// attributes) followed by SETFLAGS, and xfs_io uses FS_IOC_FS[GS]ETXATTR.
const (
	fsIOC32GetFlags   = 0x80046601 // _IOR('f', 1, int)
	fsIOC32SetFlags   = 0x40046602 // _IOW('f', 2, int)
	fsIOCFSGetXattr   = 0x801c581f // _IOR('X', 31, struct fsxattr)
	fsIOCFSSetXattr   = 0x401c5820 // _IOW('X', 32, struct fsxattr)
	fsxattrSize       = 28
	inodeFlagsSize    = 4 // FS_IOC_[GS]ETFLAGS move an int whatever _IOC_SIZE says
	flagsScratchBytes = 8 // room for a branch that writes a long
)

// Ioctl forwards the inode flag ioctls (above) to the branch file; every
// other command answers ENOTTY, btrfs's (type 0x94) included, as in
// mergerfs. FS_IOC_GETFLAGS/SETFLAGS move 4 bytes whatever the command's
// size field says (it says long, every filesystem reads and writes an int,
// and the kernel's fileattr path sends 4 bytes). The kernel's VFS has
// already checked ownership (inode_owner_or_capable) and
// CAP_LINUX_IMMUTABLE for the immutable and append-only flags against the
// mount's inode, so the daemon applies the change with its own rights. A
// directory handle has no branch fd: the directory is opened on the branch
// func.open picks for the call.
func (r *rawFS) Ioctl(cancel <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	var cmd uint
	var size int
	var set bool
	switch in.Cmd {
	case unix.FS_IOC_GETFLAGS, fsIOC32GetFlags:
		cmd, size = unix.FS_IOC_GETFLAGS, inodeFlagsSize
	case unix.FS_IOC_SETFLAGS, fsIOC32SetFlags:
		cmd, size, set = unix.FS_IOC_SETFLAGS, inodeFlagsSize, true
	case fsIOCFSGetXattr:
		cmd, size = fsIOCFSGetXattr, fsxattrSize
	case fsIOCFSSetXattr:
		cmd, size, set = fsIOCFSSetXattr, fsxattrSize, true
	default:
		return fuse.Status(unix.ENOTTY)
	}
	if set && len(inbuf) < size || !set && len(outbuf) < size {
		return fuse.EINVAL
	}
	fd, done, e := r.ioctlFd(in)
	if e != 0 {
		return r.reply("ioctl", e)
	}
	defer done()
	buf := make([]byte, max(size, flagsScratchBytes))
	if set {
		copy(buf, inbuf[:size])
	}
	if err := ioctlBuf(fd, cmd, buf); err != nil {
		return r.reply("ioctl", r.errnoOf("ioctl", err))
	}
	if !set {
		clear(outbuf)
		copy(outbuf, buf[:size])
	}
	return fuse.OK
}

// ioctlFd returns the branch fd an ioctl acts on and a function to call when
// done with it.
func (r *rawFS) ioctlFd(in *fuse.IoctlIn) (int, func(), unix.Errno) {
	h := r.handles.get(in.Fh)
	if h == nil {
		return -1, nil, unix.EBADF
	}
	if h.file != nil {
		return h.file.Fd(), func() {}, 0
	}
	_, rel, ok := r.nodes.get(h.node.id)
	if !ok {
		return -1, nil, unix.ESTALE
	}
	f, e := r.pool.Open(bg, r.cred(&in.InHeader, 0), rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK)
	if e != 0 {
		return -1, nil, e
	}
	return f.Fd(), func() { f.Close() }, 0
}
