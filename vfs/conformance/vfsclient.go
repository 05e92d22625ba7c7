package conformance

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// VFS is the target that calls a vfs.Pool directly, as root (vfs.RootCred),
// resolving paths the way `mfs run` does (vfs.Resolver, symlinks followed in
// the union namespace) with the union shown at VFSRoot.
type VFS struct {
	// Label names the target ("vfs" when empty).
	Label string
	// Inodes picks which inode number the client reports: Attr.Ino and
	// Dirent.Ino (inodecalc, what a mount shows) or the branch's st_ino.
	Inodes InodeMode
	// Rand pins the pool's random source (RandFirst: RandN returns 0,
	// RandLast: n-1); RandFree keeps real randomness.
	Rand RandPin
}

// VFSRoot is where the VFS client's union appears (it need not exist).
const VFSRoot = "/mfs-conformance"

func (v VFS) Name() string {
	if v.Label == "" {
		return "vfs"
	}
	return v.Label
}

func (v VFS) Features() Features {
	return Features{Union: true, Inodes: v.Inodes, Rand: v.Rand}
}

func (v VFS) Open(t *testing.T, u UnionSpec) Client {
	t.Helper()
	opts, err := config.Parse(append(u.Args(), "mountpoint="+VFSRoot))
	if err != nil {
		t.Fatalf("vfs: options %q: %v", u.Args(), err)
	}
	var set vfs.Settings
	switch v.Rand {
	case RandFirst:
		set.RandN = func(n uint64) uint64 { return 0 }
	case RandLast:
		set.RandN = func(n uint64) uint64 { return n - 1 }
	}
	p, err := vfs.New(opts, set)
	if err != nil {
		t.Fatalf("vfs: New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return &vfsClient{
		ctx:    context.Background(),
		pool:   p,
		res:    &vfs.Resolver{Unions: []vfs.Union{{Target: VFSRoot, Pool: p}}},
		inodes: v.Inodes,
	}
}

type vfsClient struct {
	ctx    context.Context
	pool   *vfs.Pool
	res    *vfs.Resolver
	inodes InodeMode
}

var cred = vfs.RootCred

func (c *vfsClient) Root() string { return VFSRoot }

// rel resolves a client path to a union path: intermediate symlinks are
// always followed, the last one only with follow. A path that leaves the
// union is EXDEV (the cases never need one).
func (c *vfsClient) rel(p string, follow bool) (string, unix.Errno) {
	raw := VFSRoot
	if p != "" {
		raw += "/" + p
	}
	r, e := c.res.Resolve(c.ctx, cred, VFSRoot, raw, follow)
	if e != 0 {
		return "", e
	}
	if r.Union == nil {
		return "", unix.EXDEV
	}
	return r.Rel, 0
}

func (c *vfsClient) stat(p string, follow bool) (Stat, unix.Errno) {
	rel, e := c.rel(p, follow)
	if e != 0 {
		return Stat{}, e
	}
	a, e := c.pool.Getattr(c.ctx, cred, rel)
	if e != 0 {
		return Stat{}, e
	}
	s := StatOf(&a.Stat)
	if c.inodes == InodeCalc {
		s.Ino = a.Ino
	}
	return s, 0
}

func (c *vfsClient) Lstat(p string) (Stat, unix.Errno) { return c.stat(p, false) }
func (c *vfsClient) Stat(p string) (Stat, unix.Errno)  { return c.stat(p, true) }

func (c *vfsClient) Access(p string, mode uint32) unix.Errno {
	rel, e := c.rel(p, true)
	if e != 0 {
		return e
	}
	return c.pool.Access(c.ctx, cred, rel, mode)
}

func (c *vfsClient) ReadFile(p string, flags int) (string, unix.Errno) {
	rel, e := c.rel(p, flags&unix.O_NOFOLLOW == 0)
	if e != 0 {
		return "", e
	}
	f, e := c.pool.Open(c.ctx, cred, rel, unix.O_RDONLY|flags)
	if e != 0 {
		return "", e
	}
	defer f.Close()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, e := f.ReadAt(buf, int64(len(out)))
		if e != 0 {
			return "", e
		}
		if n == 0 {
			return string(out), 0
		}
		out = append(out, buf[:n]...)
	}
}

// WriteFile opens (Pool.Open) or, with O_CREAT, creates (Pool.Create, which
// opens an existing name as open(2) would) and writes data at offset 0 with
// File.Write, so moveonenospc applies. O_CREAT|O_EXCL does not follow a
// final symlink.
func (c *vfsClient) WriteFile(p string, flags int, mode uint32, data string) unix.Errno {
	excl := flags&unix.O_CREAT != 0 && flags&unix.O_EXCL != 0
	rel, e := c.rel(p, flags&unix.O_NOFOLLOW == 0 && !excl)
	if e != 0 {
		return e
	}
	var f *vfs.File
	if flags&unix.O_CREAT != 0 {
		f, e = c.pool.Create(c.ctx, cred, rel, flags&^unix.O_CREAT, mode)
	} else {
		f, e = c.pool.Open(c.ctx, cred, rel, flags)
	}
	if e != 0 {
		return e
	}
	defer f.Close()
	if data == "" {
		return 0
	}
	_, e = f.Write(c.ctx, cred, []byte(data), 0)
	return e
}

func (c *vfsClient) Mkdir(p string, mode uint32) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Mkdir(c.ctx, cred, rel, mode)
}

func (c *vfsClient) Mknod(p string, mode uint32, dev uint64) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Mknod(c.ctx, cred, rel, mode, dev)
}

func (c *vfsClient) Symlink(target, p string) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Symlink(c.ctx, cred, target, rel)
}

func (c *vfsClient) Readlink(p string) (string, unix.Errno) {
	rel, e := c.rel(p, false)
	if e != 0 {
		return "", e
	}
	return c.pool.Readlink(c.ctx, cred, rel)
}

func (c *vfsClient) Link(oldp, newp string) unix.Errno {
	orel, e := c.rel(oldp, false)
	if e != 0 {
		return e
	}
	nrel, e := c.rel(newp, false)
	if e != 0 {
		return e
	}
	return c.pool.Link(c.ctx, cred, orel, nrel)
}

func (c *vfsClient) Unlink(p string) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Unlink(c.ctx, cred, rel)
}

func (c *vfsClient) Rmdir(p string) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Rmdir(c.ctx, cred, rel)
}

func (c *vfsClient) Rename(oldp, newp string, flags uint) unix.Errno {
	orel, e := c.rel(oldp, false)
	if e != 0 {
		return e
	}
	nrel, e := c.rel(newp, false)
	if e != 0 {
		return e
	}
	return c.pool.Rename(c.ctx, cred, orel, nrel, flags)
}

func (c *vfsClient) Chmod(p string, mode uint32) unix.Errno {
	rel, e := c.rel(p, true)
	if e != 0 {
		return e
	}
	return c.pool.Chmod(c.ctx, cred, rel, mode)
}

func (c *vfsClient) Lchown(p string, uid, gid int) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Chown(c.ctx, cred, rel, uid, gid)
}

func (c *vfsClient) Utimens(p string, atime, mtime unix.Timespec) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Utimens(c.ctx, cred, rel, atime, mtime)
}

func (c *vfsClient) Truncate(p string, size int64) unix.Errno {
	rel, e := c.rel(p, true)
	if e != 0 {
		return e
	}
	return c.pool.Truncate(c.ctx, cred, rel, size)
}

func (c *vfsClient) Readdir(p string) ([]Dirent, unix.Errno) {
	rel, e := c.rel(p, true)
	if e != 0 {
		return nil, e
	}
	ents, e := c.pool.Readdir(c.ctx, cred, rel)
	if e != 0 {
		return nil, e
	}
	out := make([]Dirent, 0, len(ents))
	for _, d := range ents {
		if d.Name == "." || d.Name == ".." {
			continue
		}
		ino := d.Ino
		if c.inodes == InodeReal {
			ino = d.RealIno
		}
		out = append(out, Dirent{Name: d.Name, Type: d.Type, Ino: ino})
	}
	return out, 0
}

// Statfs looks the path up first, as the kernel does before it asks a
// filesystem: vfs.Pool.Statfs itself always succeeds (like mergerfs's).
func (c *vfsClient) Statfs(p string) (unix.Statfs_t, unix.Errno) {
	rel, e := c.rel(p, true)
	if e != 0 {
		return unix.Statfs_t{}, e
	}
	if _, e := c.pool.Getattr(c.ctx, cred, rel); e != 0 {
		return unix.Statfs_t{}, e
	}
	return c.pool.Statfs(c.ctx, cred, rel)
}

func (c *vfsClient) Getxattr(p, name string, buf []byte) (int, unix.Errno) {
	rel, e := c.rel(p, false)
	if e != 0 {
		return 0, e
	}
	return c.pool.Getxattr(c.ctx, cred, rel, name, buf)
}

func (c *vfsClient) Listxattr(p string, buf []byte) (int, unix.Errno) {
	rel, e := c.rel(p, false)
	if e != 0 {
		return 0, e
	}
	return c.pool.Listxattr(c.ctx, cred, rel, buf)
}

func (c *vfsClient) Setxattr(p, name string, value []byte, flags int) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Setxattr(c.ctx, cred, rel, name, value, flags)
}

func (c *vfsClient) Removexattr(p, name string) unix.Errno {
	rel, e := c.rel(p, false)
	if e != 0 {
		return e
	}
	return c.pool.Removexattr(c.ctx, cred, rel, name)
}
