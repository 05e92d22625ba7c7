package vfs

import (
	"context"

	"golang.org/x/sys/unix"
)

// FS is the operations interface both front ends call. Paths are union paths
// relative to the union root, without a leading slash ("" is the root), as a
// FUSE front end has them after the kernel resolved the name; `mfs run` first
// turns raw syscall paths into these with a Resolver. Every method takes the
// caller's identity and returns a unix.Errno (0 = success), so a failure costs
// no allocation.
type FS interface {
	Getattr(ctx context.Context, c *Cred, rel string) (Attr, unix.Errno)
	Access(ctx context.Context, c *Cred, rel string, mode uint32) unix.Errno
	Readlink(ctx context.Context, c *Cred, rel string) (string, unix.Errno)
	Open(ctx context.Context, c *Cred, rel string, flags int) (*File, unix.Errno)
	Create(ctx context.Context, c *Cred, rel string, flags int, mode uint32) (*File, unix.Errno)
	Mkdir(ctx context.Context, c *Cred, rel string, mode uint32) unix.Errno
	Mknod(ctx context.Context, c *Cred, rel string, mode uint32, dev uint64) unix.Errno
	Symlink(ctx context.Context, c *Cred, target, rel string) unix.Errno
	Link(ctx context.Context, c *Cred, oldRel, newRel string) unix.Errno
	Unlink(ctx context.Context, c *Cred, rel string) unix.Errno
	Rmdir(ctx context.Context, c *Cred, rel string) unix.Errno
	Rename(ctx context.Context, c *Cred, oldRel, newRel string, flags uint) unix.Errno
	Chmod(ctx context.Context, c *Cred, rel string, mode uint32) unix.Errno
	Chown(ctx context.Context, c *Cred, rel string, uid, gid int) unix.Errno
	Utimens(ctx context.Context, c *Cred, rel string, atime, mtime unix.Timespec) unix.Errno
	Truncate(ctx context.Context, c *Cred, rel string, size int64) unix.Errno
	Getxattr(ctx context.Context, c *Cred, rel, name string, buf []byte) (int, unix.Errno)
	Listxattr(ctx context.Context, c *Cred, rel string, buf []byte) (int, unix.Errno)
	Setxattr(ctx context.Context, c *Cred, rel, name string, value []byte, flags int) unix.Errno
	Removexattr(ctx context.Context, c *Cred, rel, name string) unix.Errno
	Readdir(ctx context.Context, c *Cred, rel string) ([]Dirent, unix.Errno)
	Statfs(ctx context.Context, c *Cred, rel string) (unix.Statfs_t, unix.Errno)
}

var _ FS = (*Pool)(nil)
