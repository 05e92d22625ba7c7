package fusemode

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// rawFS adapts the FUSE wire protocol (go-fuse's RawFileSystem) onto a
// vfs.Pool. Operations it does not serve (locks, tmpfile, statx, poll)
// fall through to go-fuse's default implementation, which answers ENOSYS so
// the kernel handles them itself or stops asking.
type rawFS struct {
	fuse.RawFileSystem

	pool    *vfs.Pool
	log     *slog.Logger
	debug   bool
	asRoot  bool
	gen     uint64 // generation of every node id of this mount (NFS handles)
	opts    atomic.Pointer[config.Options]
	nodes   *nodeTable
	handles *handleTable
	creds   *credCache

	// srv is the go-fuse server (set by Init, before any request is
	// served): backing files and kernel notifications go through it.
	srv *fuse.Server
	// ptMode is passthrough.io (a mount-only option); backings holds the
	// per-node backing files while it is on.
	ptMode   config.PassthroughIO
	backings *backingTable
	// notify tracks kernel notifications sent after a reply.
	notify notifier
	stats  opStats
	// testHook, when set by a test, runs at the start of LOOKUP, READ,
	// WRITE and FLUSH (op "lookup", "read", "write", "flush").
	testHook atomic.Pointer[func(op string)]
}

// runTestHook calls testHook, if set, with op.
func (r *rawFS) runTestHook(op string) {
	if hook := r.testHook.Load(); hook != nil {
		(*hook)(op)
	}
}

// opStats counts what tests need to see: requests that passthrough should
// keep away from the daemon, and backing-file registrations.
type opStats struct {
	reads, writes, copies, backingOpens atomic.Int64
	lookups, plusEntries, plusFresh     atomic.Int64
	getattrs                            atomic.Int64
}

// activity counts the path-walk requests (LOOKUP, GETATTR) served so far;
// watchUnmount takes an unchanged count as an idle connection.
func (r *rawFS) activity() int64 { return r.stats.lookups.Load() + r.stats.getattrs.Load() }

var _ fuse.RawFileSystem = (*rawFS)(nil)

func newRawFS(pool *vfs.Pool, opts *config.Options, log *slog.Logger) *rawFS {
	r := &rawFS{
		RawFileSystem: fuse.NewDefaultRawFileSystem(),
		pool:          pool,
		log:           log,
		debug:         log.Enabled(context.Background(), slog.LevelDebug),
		asRoot:        os.Geteuid() == 0,
		gen:           uint64(time.Now().UnixNano()),
		nodes:         newNodeTable(opts.NeverForgetNodes),
		handles:       newHandleTable(),
		creds:         newCredCache(),
		ptMode:        opts.PassthroughIO,
		backings:      newBackingTable(),
	}
	if !passthroughOn(r.ptMode) {
		r.ptMode = config.PassthroughOff
	}
	r.opts.Store(opts)
	return r
}

// bg is the context handed to the pool. go-fuse signals interrupts through a
// channel per request; vfs operations are short branch syscalls that finish
// anyway, so they are not wired to it.
var bg = context.Background()

func (r *rawFS) String() string      { return "mfs" }
func (r *rawFS) SetDebug(bool)       {}
func (r *rawFS) Init(s *fuse.Server) { r.srv = s }
func (r *rawFS) OnUnmount()          { r.closeAll() }

// options returns the current options. The control file can change some
// mount-level options at run time (cache.files, cache.attr, ...); they are
// reloaded after each successful setxattr on it.
func (r *rawFS) options() *config.Options { return r.opts.Load() }

func (r *rawFS) reloadOptions() {
	o := r.pool.Options()
	old := r.opts.Load()
	// The mount words are the mount's own (the caller may have passed
	// options beside the pool's); everything a user can change at run
	// time comes from the pool.
	o.MountOpts = old.MountOpts
	r.opts.Store(o)
}

func (r *rawFS) trace(op, rel string, h *fuse.InHeader, e unix.Errno) {
	if r.debug {
		r.log.Debug("fuse", "op", op, "path", rel, "pid", h.Pid, "uid", h.Uid, "errno", e)
	}
}

// --- attributes --------------------------------------------------------------

// fillAttr copies a vfs attribute into the wire format. st_ino is the
// inodecalc result, never the branch's own number.
func fillAttr(out *fuse.Attr, a *vfs.Attr) {
	st := &a.Stat
	out.Ino = a.Ino
	out.Size = uint64(st.Size)
	out.Blocks = uint64(st.Blocks)
	out.Atime, out.Atimensec = uint64(st.Atim.Sec), uint32(st.Atim.Nsec)
	out.Mtime, out.Mtimensec = uint64(st.Mtim.Sec), uint32(st.Mtim.Nsec)
	out.Ctime, out.Ctimensec = uint64(st.Ctim.Sec), uint32(st.Ctim.Nsec)
	out.Mode = st.Mode
	out.Nlink = uint32(st.Nlink)
	out.Uid, out.Gid = st.Uid, st.Gid
	out.Rdev = encodeDev(st.Rdev)
	out.Blksize = uint32(st.Blksize)
}

// encodeDev and decodeDev convert between glibc's dev_t and the kernel's
// 32-bit new_encode_dev form FUSE uses.
func encodeDev(dev uint64) uint32 {
	major, minor := unix.Major(dev), unix.Minor(dev)
	return (minor & 0xff) | (major&0xfff)<<8 | (minor&^0xff)<<12
}

func decodeDev(d uint32) uint64 {
	major := (d & 0xfff00) >> 8
	minor := (d & 0xff) | ((d >> 12) & 0xfff00)
	return unix.Mkdev(major, minor)
}

func (r *rawFS) fillEntry(out *fuse.EntryOut, n *node, a *vfs.Attr, o *config.Options) {
	out.NodeId = n.id
	out.Generation = r.gen
	out.SetEntryTimeout(o.CacheEntry)
	out.SetAttrTimeout(o.CacheAttr)
	fillAttr(&out.Attr, a)
	n.branch.Store(int32(a.Branch)) // before fresh, which readers check first
	n.fresh.Store(time.Now().Add(min(o.CacheEntry, o.CacheAttr)).UnixNano())
}

// --- lookup and forget -------------------------------------------------------

func (r *rawFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	r.stats.lookups.Add(1)
	r.runTestHook("lookup")
	o := r.options()
	parent, prel, ok := r.nodes.get(h.NodeId)
	if parent == nil {
		return fuse.Status(unix.ESTALE)
	}
	if !ok {
		return fuse.ENOENT
	}
	c := r.cred(h, 0)
	// "." and ".." arrive only from NFS export (exportfs asks a node for
	// itself and for its parent); the kernel resolves them otherwise.
	if name == "." || name == ".." {
		target, trel, tok := r.nodes.dot(parent, name)
		if !tok {
			return fuse.Status(unix.ESTALE)
		}
		a, e := r.pool.Getattr(bg, c, trel)
		if e != 0 {
			return r.reply("lookup", e)
		}
		r.nodes.ref(target)
		r.fillEntry(out, target, &a, o)
		return fuse.OK
	}
	rel := join(prel, name)
	a, e := r.pool.Getattr(bg, c, rel)
	r.trace("lookup", rel, h, e)
	if e == unix.ENOENT && o.CacheNegativeEntry > 0 {
		// A negative entry: node id 0 with a timeout.
		*out = fuse.EntryOut{}
		out.SetEntryTimeout(o.CacheNegativeEntry)
		return fuse.OK
	}
	if e != 0 {
		return r.reply("lookup", e)
	}
	n := r.nodes.enter(parent, name, &a)
	r.fillEntry(out, n, &a, o)
	return fuse.OK
}

func (r *rawFS) Forget(nodeid, nlookup uint64) {
	r.nodes.forget(nodeid, nlookup)
}

// --- getattr / setattr -------------------------------------------------------

// nodeAttr returns the attributes of n: through open handle fh if given,
// else by path; an unlinked or replaced file that is still open is stat'ed
// through one of its handles. A node whose name now leads to another file
// and that has no open handle is stale: ESTALE makes stat(2) redo the lookup.
func (r *rawFS) nodeAttr(c *vfs.Cred, n *node, rel string, ok bool, fh uint64) (vfs.Attr, unix.Errno) {
	if fh != 0 {
		if hd := r.handles.get(fh); hd != nil && hd.file != nil {
			return hd.file.Fgetattr(bg)
		}
	}
	if ok {
		a, e := r.pool.Getattr(bg, c, rel)
		if e == 0 && n.sameFile(&a) {
			return a, 0
		}
		if e != 0 && e != unix.ENOENT {
			return a, e
		}
	}
	if hd := r.handles.get(r.nodes.anyHandle(n)); hd != nil && hd.file != nil {
		return hd.file.Fgetattr(bg)
	}
	// Unlinked, gone or a different file now: let the kernel look it up again.
	return vfs.Attr{}, unix.ESTALE
}

func (r *rawFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	var fh uint64
	if in.Flags()&fuse.FUSE_GETATTR_FH != 0 {
		fh = in.Fh()
	}
	a, _, _, _, st := r.attrRequest("getattr", &in.InHeader, fh)
	if st != fuse.OK {
		return st
	}
	out.SetTimeout(r.options().CacheAttr)
	fillAttr(&out.Attr, &a)
	return fuse.OK
}

// attrRequest is what GETATTR and STATX share: the node's attributes
// (through handle fh when non-zero), with the caller's credentials, its
// path and whether that still leads to it.
func (r *rawFS) attrRequest(op string, h *fuse.InHeader, fh uint64) (a vfs.Attr, c *vfs.Cred, rel string, ok bool, st fuse.Status) {
	r.stats.getattrs.Add(1)
	r.waitNotified()
	n, rel, ok := r.nodes.get(h.NodeId)
	if n == nil {
		return a, nil, "", false, fuse.Status(unix.ESTALE)
	}
	c = r.cred(h, 0)
	a, e := r.nodeAttr(c, n, rel, ok, fh)
	r.trace(op, rel, h, e)
	if e != 0 {
		return a, c, rel, ok, r.reply(op, e)
	}
	return a, c, rel, ok, fuse.OK
}

// Statx answers FUSE_STATX (Linux ≥ 6.6 sends it for statx calls asking
// for more than the basic fields): GETATTR's attributes, plus the birth
// time and the attribute flags of the branch object they came from
// (vfs.StatxOn), when it still is that object. Through a handle (an
// unlinked open file) only the basic fields are known.
func (r *rawFS) Statx(cancel <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	var fh uint64
	if in.GetattrFlags&fuse.FUSE_GETATTR_FH != 0 {
		fh = in.Fh
	}
	a, c, rel, ok, st := r.attrRequest("statx", &in.InHeader, fh)
	if st != fuse.OK {
		return st
	}
	out.SetTimeout(r.options().CacheAttr)
	fillStatx(&out.Statx, &a)
	if !ok || fh != 0 || a.Branch < 0 {
		return fuse.OK
	}
	var stx unix.Statx_t
	sync := int(in.SxFlags) & (unix.AT_STATX_FORCE_SYNC | unix.AT_STATX_DONT_SYNC)
	if r.pool.StatxOn(bg, c, rel, a.Branch, sync, unix.STATX_BTIME, &stx) == 0 && stx.Ino == a.Stat.Ino {
		if stx.Mask&unix.STATX_BTIME != 0 {
			out.Mask |= unix.STATX_BTIME
			out.Btime = fuse.SxTime{Sec: uint64(stx.Btime.Sec), Nsec: stx.Btime.Nsec}
		}
		out.Attributes, out.AttributesMask = stx.Attributes, stx.Attributes_mask
	}
	return fuse.OK
}

// fillStatx is fillAttr for FUSE_STATX: the basic fields.
func fillStatx(out *fuse.Statx, a *vfs.Attr) {
	st := &a.Stat
	out.Mask = unix.STATX_BASIC_STATS
	out.Ino = a.Ino
	out.Size = uint64(st.Size)
	out.Blocks = uint64(st.Blocks)
	out.Blksize = uint32(st.Blksize)
	out.Atime = fuse.SxTime{Sec: uint64(st.Atim.Sec), Nsec: uint32(st.Atim.Nsec)}
	out.Mtime = fuse.SxTime{Sec: uint64(st.Mtim.Sec), Nsec: uint32(st.Mtim.Nsec)}
	out.Ctime = fuse.SxTime{Sec: uint64(st.Ctim.Sec), Nsec: uint32(st.Ctim.Nsec)}
	out.Mode = uint16(st.Mode)
	out.Nlink = uint32(st.Nlink)
	out.Uid, out.Gid = st.Uid, st.Gid
	out.RdevMajor, out.RdevMinor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
}

// setattrFile returns the open file a SETATTR acts on: the handle the kernel
// named, or, for an unlinked open file, any handle of the node.
func (r *rawFS) setattrFile(in *fuse.SetAttrIn, n *node, ok bool) *vfs.File {
	if fh, has := in.GetFh(); has {
		if hd := r.handles.get(fh); hd != nil && hd.file != nil {
			return hd.file
		}
	}
	if !ok {
		if hd := r.handles.get(r.nodes.anyHandle(n)); hd != nil && hd.file != nil {
			return hd.file
		}
	}
	return nil
}

func timeArg(valid uint32, set, now uint32, sec uint64, nsec uint32) unix.Timespec {
	switch {
	case valid&set == 0:
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	case valid&now != 0:
		return unix.Timespec{Nsec: unix.UTIME_NOW}
	}
	return unix.Timespec{Sec: int64(sec), Nsec: int64(nsec)}
}

func (r *rawFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	n, rel, ok := r.nodes.get(in.NodeId)
	if n == nil {
		return fuse.Status(unix.ESTALE)
	}
	c := r.cred(&in.InHeader, 0)
	f := r.setattrFile(in, n, ok)
	if f == nil && !ok {
		return fuse.Status(unix.ESTALE)
	}
	e := r.setattr(c, in, f, rel)
	r.trace("setattr", rel, &in.InHeader, e)
	if e != 0 {
		return r.reply("setattr", e)
	}
	var a vfs.Attr
	if f != nil {
		a, e = f.Fgetattr(bg)
	} else {
		a, e = r.nodeAttr(c, n, rel, ok, 0)
	}
	if e != 0 {
		return r.reply("setattr", e)
	}
	out.SetTimeout(r.options().CacheAttr)
	fillAttr(&out.Attr, &a)
	return fuse.OK
}

// setattr applies the fields of a SETATTR in chmod, chown, truncate,
// utimens order, on the open file f when there is one.
func (r *rawFS) setattr(c *vfs.Cred, in *fuse.SetAttrIn, f *vfs.File, rel string) unix.Errno {
	if mode, ok := in.GetMode(); ok {
		var e unix.Errno
		if f != nil {
			e = f.Fchmod(bg, c, mode)
		} else {
			e = r.pool.Chmod(bg, c, rel, mode)
		}
		if e != 0 {
			return e
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		var e unix.Errno
		if f != nil {
			e = f.Fchown(bg, c, u, g)
		} else {
			e = r.pool.Chown(bg, c, rel, u, g)
		}
		if e != 0 {
			return e
		}
	}
	if size, ok := in.GetSize(); ok {
		var e unix.Errno
		if f != nil {
			e = f.Ftruncate(bg, c, int64(size))
		} else {
			e = r.pool.Truncate(bg, c, rel, int64(size))
		}
		if e != 0 {
			return e
		}
	}
	if in.Valid&(fuse.FATTR_ATIME|fuse.FATTR_MTIME) != 0 {
		at := timeArg(in.Valid, fuse.FATTR_ATIME, fuse.FATTR_ATIME_NOW, in.Atime, in.Atimensec)
		mt := timeArg(in.Valid, fuse.FATTR_MTIME, fuse.FATTR_MTIME_NOW, in.Mtime, in.Mtimensec)
		if f != nil {
			return f.Futimens(bg, c, at, mt)
		}
		return r.pool.Utimens(bg, c, rel, at, mt)
	}
	return 0
}

// --- namespace ---------------------------------------------------------------

// newEntry replies for a name just created (mkdir, mknod, symlink, link).
func (r *rawFS) newEntry(op string, h *fuse.InHeader, c *vfs.Cred, parent *node, name, rel string, out *fuse.EntryOut) fuse.Status {
	a, e := r.pool.Getattr(bg, c, rel)
	if e != 0 {
		return r.reply(op, e)
	}
	n := r.nodes.enter(parent, name, &a)
	r.fillEntry(out, n, &a, r.options())
	return fuse.OK
}

// dirChild resolves (directory node id, name) for a namespace operation.
func (r *rawFS) dirChild(id uint64, name string) (*node, string, unix.Errno) {
	parent, rel, ok := r.nodes.childPath(id, name)
	if parent == nil {
		return nil, "", unix.ESTALE
	}
	if !ok {
		return nil, "", unix.ENOENT
	}
	return parent, rel, 0
}

func (r *rawFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	parent, rel, e := r.dirChild(in.NodeId, name)
	if e != 0 {
		return r.reply("mkdir", e)
	}
	c := r.cred(&in.InHeader, in.Umask)
	e = r.pool.Mkdir(bg, c, rel, in.Mode)
	r.trace("mkdir", rel, &in.InHeader, e)
	if e != 0 {
		return r.reply("mkdir", e)
	}
	return r.newEntry("mkdir", &in.InHeader, c, parent, name, rel, out)
}

func (r *rawFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	parent, rel, e := r.dirChild(in.NodeId, name)
	if e != 0 {
		return r.reply("mknod", e)
	}
	c := r.cred(&in.InHeader, in.Umask)
	e = r.pool.Mknod(bg, c, rel, in.Mode, decodeDev(in.Rdev))
	r.trace("mknod", rel, &in.InHeader, e)
	if e != 0 {
		return r.reply("mknod", e)
	}
	return r.newEntry("mknod", &in.InHeader, c, parent, name, rel, out)
}

func (r *rawFS) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	parent, rel, e := r.dirChild(h.NodeId, name)
	if e != 0 {
		return r.reply("symlink", e)
	}
	c := r.cred(h, 0)
	e = r.pool.Symlink(bg, c, target, rel)
	r.trace("symlink", rel, h, e)
	if e != 0 {
		return r.reply("symlink", e)
	}
	return r.newEntry("symlink", h, c, parent, name, rel, out)
}

func (r *rawFS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	_, rel, ok := r.nodes.get(h.NodeId)
	if !ok {
		return nil, fuse.Status(unix.ESTALE)
	}
	t, e := r.pool.Readlink(bg, r.cred(h, 0), rel)
	r.trace("readlink", rel, h, e)
	if e != 0 {
		return nil, r.reply("readlink", e)
	}
	return []byte(t), fuse.OK
}

func (r *rawFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	old, orel, ok := r.nodes.get(in.Oldnodeid)
	if old == nil || !ok {
		return fuse.Status(unix.ESTALE)
	}
	parent, rel, e := r.dirChild(in.NodeId, name)
	if e != 0 {
		return r.reply("link", e)
	}
	c := r.cred(&in.InHeader, 0)
	e = r.pool.Link(bg, c, orel, rel)
	r.trace("link", rel, &in.InHeader, e)
	if e != 0 {
		return r.reply("link", e)
	}
	a, e := r.pool.Getattr(bg, c, rel)
	if e != 0 {
		return r.reply("link", e)
	}
	if a.Stat.Mode&unix.S_IFMT != old.mode {
		// link-exdev made a symlink. The kernel insists that link(2)
		// returns an inode of the old file's type, so answer with the old
		// file's attributes and no caching; the next lookup of the name
		// finds the symlink under a fresh node.
		oa, e := r.pool.Getattr(bg, c, orel)
		if e != 0 {
			return r.reply("link", e)
		}
		n := r.nodes.enter(parent, name, &oa)
		r.fillEntry(out, n, &oa, r.options())
		out.SetEntryTimeout(0)
		out.SetAttrTimeout(0)
		return fuse.OK
	}
	n := r.nodes.enter(parent, name, &a)
	r.fillEntry(out, n, &a, r.options())
	return fuse.OK
}

func (r *rawFS) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	_, rel, e := r.dirChild(h.NodeId, name)
	if e != 0 {
		return r.reply("unlink", e)
	}
	e = r.pool.Unlink(bg, r.cred(h, 0), rel)
	r.trace("unlink", rel, h, e)
	if e != 0 {
		return r.reply("unlink", e)
	}
	r.nodes.unlink(h.NodeId, name)
	return fuse.OK
}

func (r *rawFS) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	_, rel, e := r.dirChild(h.NodeId, name)
	if e != 0 {
		return r.reply("rmdir", e)
	}
	e = r.pool.Rmdir(bg, r.cred(h, 0), rel)
	r.trace("rmdir", rel, h, e)
	if e != 0 {
		return r.reply("rmdir", e)
	}
	r.nodes.unlink(h.NodeId, name)
	return fuse.OK
}

func (r *rawFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	_, orel, e := r.dirChild(in.NodeId, oldName)
	if e != 0 {
		return r.reply("rename", e)
	}
	_, nrel, e := r.dirChild(in.Newdir, newName)
	if e != 0 {
		return r.reply("rename", e)
	}
	flags := uint(in.Flags)
	if flags&^uint(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 ||
		flags&unix.RENAME_NOREPLACE != 0 && flags&unix.RENAME_EXCHANGE != 0 {
		// RENAME_WHITEOUT needs overlay semantics a union of branches
		// does not have.
		return fuse.EINVAL
	}
	e = r.pool.Rename(bg, r.cred(&in.InHeader, 0), orel, nrel, flags)
	r.trace("rename", orel+" -> "+nrel, &in.InHeader, e)
	if e != 0 {
		return r.reply("rename", e)
	}
	r.nodes.rename(in.NodeId, oldName, in.Newdir, newName, flags&unix.RENAME_EXCHANGE != 0)
	if flags&unix.RENAME_EXCHANGE == 0 && r.options().RenameEXDEV != config.RenameEXDEVPassthrough {
		r.renamedExdev(&in.InHeader, in.Newdir, newName, nrel)
	}
	return fuse.OK
}

// renamedExdev handles a rename that rename-exdev may have turned into a
// move of old to .mergerfs_rename_exdev plus a symlink at new. The kernel
// moves its entry of old (a file, say) to new as it does after every
// rename, so new would keep showing the old file until cache.entry runs
// out. If new is not the file the moved node stands for, the node leaves
// the name and the kernel's entry is invalidated once this reply is out.
func (r *rawFS) renamedExdev(h *fuse.InHeader, newdir uint64, newName, nrel string) {
	moved := r.nodes.child(newdir, newName)
	if moved == nil {
		return
	}
	a, e := r.pool.Getattr(bg, r.cred(h, 0), nrel)
	if e != 0 || moved.sameFile(&a) {
		return
	}
	r.nodes.unlink(newdir, newName)
	r.invalidateEntry(newdir, newName)
}

func (r *rawFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	_, rel, ok := r.nodes.get(in.NodeId)
	if !ok {
		return fuse.Status(unix.ESTALE)
	}
	e := r.pool.Access(bg, r.cred(&in.InHeader, 0), rel, in.Mask)
	r.trace("access", rel, &in.InHeader, e)
	return r.reply("access", e)
}

func (r *rawFS) StatFs(cancel <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	_, rel, ok := r.nodes.get(h.NodeId)
	if !ok {
		rel = ""
	}
	st, e := r.pool.Statfs(bg, r.cred(h, 0), rel)
	if e != 0 {
		return r.reply("statfs", e)
	}
	*out = fuse.StatfsOut{
		Blocks:  st.Blocks,
		Bfree:   st.Bfree,
		Bavail:  st.Bavail,
		Files:   st.Files,
		Ffree:   st.Ffree,
		Bsize:   uint32(st.Bsize),
		NameLen: uint32(st.Namelen),
		Frsize:  uint32(st.Frsize),
	}
	return fuse.OK
}

// --- extended attributes -----------------------------------------------------

// openOf returns an open file of a node whose name no longer leads to it
// (unlinked or replaced while open), for the xattr calls on it.
func (r *rawFS) openOf(id uint64) *vfs.File {
	n, _, _ := r.nodes.get(id)
	if n == nil {
		return nil
	}
	if hd := r.handles.get(r.nodes.anyHandle(n)); hd != nil {
		return hd.file
	}
	return nil
}

func (r *rawFS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string, dest []byte) (uint32, fuse.Status) {
	node, rel, ok := r.nodes.get(h.NodeId)
	if !ok {
		if f := r.openOf(h.NodeId); f != nil {
			n, e := f.Fgetxattr(bg, r.cred(h, 0), name, dest)
			return uint32(n), r.reply("getxattr", e)
		}
		return 0, fuse.Status(unix.ESTALE)
	}
	var n int
	var e unix.Errno
	if node.fresh.Load() > time.Now().UnixNano() {
		// ls -l reads two attributes of every entry it has just looked
		// up: read them where that lookup found the file, as long as the
		// kernel holds its reply (vfs.GetxattrFound searches again if the
		// file left that branch, or the policies differ).
		found := vfs.Attr{Branch: int(node.branch.Load()), Stat: unix.Stat_t{Mode: node.mode}}
		n, _, e = r.pool.GetxattrFound(bg, r.cred(h, 0), rel, name, dest, found)
	} else {
		n, e = r.pool.Getxattr(bg, r.cred(h, 0), rel, name, dest)
	}
	if e != 0 {
		return 0, r.reply("getxattr", e)
	}
	return uint32(n), fuse.OK
}

func (r *rawFS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	_, rel, ok := r.nodes.get(h.NodeId)
	if !ok {
		if f := r.openOf(h.NodeId); f != nil {
			n, e := f.Flistxattr(bg, r.cred(h, 0), dest)
			return uint32(n), r.reply("listxattr", e)
		}
		return 0, fuse.Status(unix.ESTALE)
	}
	n, e := r.pool.Listxattr(bg, r.cred(h, 0), rel, dest)
	if e != 0 {
		return 0, r.reply("listxattr", e)
	}
	return uint32(n), fuse.OK
}

func (r *rawFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, name string, value []byte) fuse.Status {
	_, rel, ok := r.nodes.get(in.NodeId)
	if !ok {
		if f := r.openOf(in.NodeId); f != nil {
			return r.reply("setxattr", f.Fsetxattr(bg, r.cred(&in.InHeader, 0), name, value, int(in.Flags)))
		}
		return fuse.Status(unix.ESTALE)
	}
	e := r.pool.Setxattr(bg, r.cred(&in.InHeader, 0), rel, name, value, int(in.Flags))
	r.trace("setxattr", rel, &in.InHeader, e)
	if e == 0 && rel == vfs.ControlFile {
		r.reloadOptions()
	}
	return r.reply("setxattr", e)
}

func (r *rawFS) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	_, rel, ok := r.nodes.get(h.NodeId)
	if !ok {
		if f := r.openOf(h.NodeId); f != nil {
			return r.reply("removexattr", f.Fremovexattr(bg, r.cred(h, 0), name))
		}
		return fuse.Status(unix.ESTALE)
	}
	e := r.pool.Removexattr(bg, r.cred(h, 0), rel, name)
	return r.reply("removexattr", e)
}
