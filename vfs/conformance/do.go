package conformance

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Result is what one operation returned through a Client. It is a plain
// value (JSON-friendly) so a front end can run operations in another process.
type Result struct {
	Err    unix.Errno
	Out    string // read, readlink, getxattr and listxattr data
	N      int    // getxattr/listxattr size
	Stat   Stat
	Ents   []Dirent
	Statfs unix.Statfs_t
}

// Do performs op through cl. It panics on an unknown Op.Kind (a table bug).
func Do(cl Client, op Op) Result {
	var res Result
	switch op.Kind {
	case "lstat":
		res.Stat, res.Err = cl.Lstat(op.Path)
	case "stat":
		res.Stat, res.Err = cl.Stat(op.Path)
	case "access":
		res.Err = cl.Access(op.Path, uint32(op.Flags))
	case "read":
		res.Out, res.Err = cl.ReadFile(op.Path, op.Flags)
	case "write":
		res.Err = cl.WriteFile(op.Path, op.Flags, op.Mode, op.Data)
	case "mkdir":
		res.Err = cl.Mkdir(op.Path, op.Mode)
	case "mknod":
		res.Err = cl.Mknod(op.Path, op.Mode, op.Dev)
	case "symlink":
		res.Err = cl.Symlink(op.Data, op.Path)
	case "readlink":
		res.Out, res.Err = cl.Readlink(op.Path)
	case "link":
		res.Err = cl.Link(op.Path, op.Path2)
	case "unlink":
		res.Err = cl.Unlink(op.Path)
	case "rmdir":
		res.Err = cl.Rmdir(op.Path)
	case "rename":
		res.Err = cl.Rename(op.Path, op.Path2, uint(op.Flags))
	case "chmod":
		res.Err = cl.Chmod(op.Path, op.Mode)
	case "lchown":
		res.Err = cl.Lchown(op.Path, op.UID, op.GID)
	case "utimens":
		res.Err = cl.Utimens(op.Path, op.Atime, op.Mtime)
	case "truncate":
		res.Err = cl.Truncate(op.Path, op.Size)
	case "readdir":
		res.Ents, res.Err = cl.Readdir(op.Path)
	case "statfs":
		res.Statfs, res.Err = cl.Statfs(op.Path)
	case "getxattr":
		buf := xbuf(op.Buf)
		res.N, res.Err = cl.Getxattr(op.Path, op.Name, buf)
		if res.Err == 0 && buf != nil {
			res.Out = string(buf[:res.N])
		}
	case "listxattr":
		buf := xbuf(op.Buf)
		res.N, res.Err = cl.Listxattr(op.Path, buf)
		if res.Err == 0 && buf != nil {
			res.Out = string(buf[:res.N])
		}
	case "setxattr":
		res.Err = cl.Setxattr(op.Path, op.Name, []byte(op.Data), op.Flags)
	case "removexattr":
		res.Err = cl.Removexattr(op.Path, op.Name)
	default:
		panic(fmt.Sprintf("conformance: unknown op kind %q", op.Kind))
	}
	return res
}

// xbuf makes an xattr buffer: n < 0 a large one, 0 none (a size query).
func xbuf(n int) []byte {
	switch {
	case n < 0:
		return make([]byte, 64<<10)
	case n == 0:
		return nil
	}
	return make([]byte, n)
}

// Proxy returns a Client that turns every call into an Op and hands it to
// call, which performs it elsewhere, typically Do(NewOSClient(root, nil), op)
// inside an `mfs run` helper child, and returns the Result. root is what
// Root reports.
func Proxy(root string, call func(Op) Result) Client {
	return &proxy{root: root, call: call}
}

type proxy struct {
	root string
	call func(Op) Result
}

func (p *proxy) Root() string { return p.root }

func (p *proxy) err(op Op) unix.Errno { return p.call(op).Err }

func (p *proxy) Lstat(path string) (Stat, unix.Errno) {
	r := p.call(Op{Kind: "lstat", Path: path})
	return r.Stat, r.Err
}

func (p *proxy) Stat(path string) (Stat, unix.Errno) {
	r := p.call(Op{Kind: "stat", Path: path})
	return r.Stat, r.Err
}

func (p *proxy) Access(path string, mode uint32) unix.Errno {
	return p.err(Op{Kind: "access", Path: path, Flags: int(mode)})
}

func (p *proxy) ReadFile(path string, flags int) (string, unix.Errno) {
	r := p.call(Op{Kind: "read", Path: path, Flags: flags})
	return r.Out, r.Err
}

func (p *proxy) WriteFile(path string, flags int, mode uint32, data string) unix.Errno {
	return p.err(Op{Kind: "write", Path: path, Flags: flags, Mode: mode, Data: data})
}

func (p *proxy) Mkdir(path string, mode uint32) unix.Errno {
	return p.err(Op{Kind: "mkdir", Path: path, Mode: mode})
}

func (p *proxy) Mknod(path string, mode uint32, dev uint64) unix.Errno {
	return p.err(Op{Kind: "mknod", Path: path, Mode: mode, Dev: dev})
}

func (p *proxy) Symlink(target, path string) unix.Errno {
	return p.err(Op{Kind: "symlink", Path: path, Data: target})
}

func (p *proxy) Readlink(path string) (string, unix.Errno) {
	r := p.call(Op{Kind: "readlink", Path: path})
	return r.Out, r.Err
}

func (p *proxy) Link(oldp, newp string) unix.Errno {
	return p.err(Op{Kind: "link", Path: oldp, Path2: newp})
}

func (p *proxy) Unlink(path string) unix.Errno { return p.err(Op{Kind: "unlink", Path: path}) }
func (p *proxy) Rmdir(path string) unix.Errno  { return p.err(Op{Kind: "rmdir", Path: path}) }

func (p *proxy) Rename(oldp, newp string, flags uint) unix.Errno {
	return p.err(Op{Kind: "rename", Path: oldp, Path2: newp, Flags: int(flags)})
}

func (p *proxy) Chmod(path string, mode uint32) unix.Errno {
	return p.err(Op{Kind: "chmod", Path: path, Mode: mode})
}

func (p *proxy) Lchown(path string, uid, gid int) unix.Errno {
	return p.err(Op{Kind: "lchown", Path: path, UID: uid, GID: gid})
}

func (p *proxy) Utimens(path string, atime, mtime unix.Timespec) unix.Errno {
	return p.err(Op{Kind: "utimens", Path: path, Atime: atime, Mtime: mtime})
}

func (p *proxy) Truncate(path string, size int64) unix.Errno {
	return p.err(Op{Kind: "truncate", Path: path, Size: size})
}

func (p *proxy) Readdir(path string) ([]Dirent, unix.Errno) {
	r := p.call(Op{Kind: "readdir", Path: path})
	return r.Ents, r.Err
}

func (p *proxy) Statfs(path string) (unix.Statfs_t, unix.Errno) {
	r := p.call(Op{Kind: "statfs", Path: path})
	return r.Statfs, r.Err
}

// bufResult copies a remote getxattr/listxattr result into the caller's buffer.
func bufResult(r Result, buf []byte) (int, unix.Errno) {
	if r.Err != 0 {
		return 0, r.Err
	}
	if len(buf) > 0 {
		copy(buf, r.Out)
	}
	return r.N, 0
}

func (p *proxy) Getxattr(path, name string, buf []byte) (int, unix.Errno) {
	return bufResult(p.call(Op{Kind: "getxattr", Path: path, Name: name, Buf: len(buf)}), buf)
}

func (p *proxy) Listxattr(path string, buf []byte) (int, unix.Errno) {
	return bufResult(p.call(Op{Kind: "listxattr", Path: path, Buf: len(buf)}), buf)
}

func (p *proxy) Setxattr(path, name string, value []byte, flags int) unix.Errno {
	return p.err(Op{Kind: "setxattr", Path: path, Name: name, Data: string(value), Flags: flags})
}

func (p *proxy) Removexattr(path, name string) unix.Errno {
	return p.err(Op{Kind: "removexattr", Path: path, Name: name})
}
