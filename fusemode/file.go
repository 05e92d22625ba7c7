package fusemode

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// handle is an open file or directory of the mount (the FUSE fh).
type handle struct {
	node *node
	file *vfs.File // nil for a directory
	// Directory handles: the merged listing taken at opendir, served by
	// offset; rewinding to offset 0 after a read takes a fresh one.
	mu      sync.Mutex
	rel     string
	dirents []vfs.Dirent
	served  bool
	cred    *vfs.Cred
	// ptCounted: the handle is counted in the node's passthrough state
	// (passthrough.io on); pt: it is served by kernel passthrough.
	ptCounted, pt bool
}

type handleTable struct {
	mu   sync.RWMutex
	m    map[uint64]*handle
	next uint64
}

func newHandleTable() *handleTable {
	return &handleTable{m: map[uint64]*handle{}, next: 1}
}

func (t *handleTable) add(h *handle) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	fh := t.next
	t.next++
	t.m[fh] = h
	return fh
}

func (t *handleTable) get(fh uint64) *handle {
	if fh == 0 {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[fh]
}

// count returns the number of open handles (files and directories).
func (t *handleTable) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

func (t *handleTable) remove(fh uint64) *handle {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.m[fh]
	delete(t.m, fh)
	return h
}

// closeAll closes every handle still open (the mount went away with files
// open, e.g. after a lazy unmount or an abort).
func (r *rawFS) closeAll() {
	r.handles.mu.Lock()
	hs := r.handles.m
	r.handles.m = map[uint64]*handle{}
	r.handles.mu.Unlock()
	for _, h := range hs {
		if h.file != nil {
			h.file.Close()
		}
	}
}

// openFlags derives the branch open(2) flags from the kernel's. O_DIRECT is
// not passed on: the kernel already bypasses its page cache for the mount,
// and a branch O_DIRECT fd would need block-aligned buffers go-fuse does not
// guarantee. Under cache.writeback the kernel may read a write-only file to
// fill pages and sends appends with explicit offsets, so O_WRONLY becomes
// O_RDWR and O_APPEND is dropped (as mergerfs does).
func openFlags(kflags uint32, o *config.Options) int {
	f := int(kflags) &^ (unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_DIRECT)
	if o.CacheWriteback {
		if f&unix.O_ACCMODE == unix.O_WRONLY {
			f = f&^unix.O_ACCMODE | unix.O_RDWR
		}
		f &^= unix.O_APPEND
	}
	return f | unix.O_CLOEXEC
}

// fopenFlags computes the FOPEN_* reply flags of an open: the page-cache mode
// of cache.files and the flush-on-close choice.
func (r *rawFS) fopenFlags(o *config.Options, n *node, f *vfs.File, pid uint32, kflags uint32) uint32 {
	var out uint32
	direct := func() {
		out |= fuse.FOPEN_DIRECT_IO
		if o.ParallelDirectWrites {
			out |= fuse.FOPEN_PARALLEL_DIRECT_WRITES
		}
	}
	switch o.CacheFiles {
	case config.CacheFilesOff:
		direct()
	case config.CacheFilesFull:
		out |= fuse.FOPEN_KEEP_CACHE
	case config.CacheFilesAutoFull:
		if a, e := f.Fgetattr(bg); e == 0 && r.nodes.autoCache(n, &a) {
			out |= fuse.FOPEN_KEEP_CACHE
		}
	case config.CacheFilesPerProcess:
		if !slices.Contains(o.CacheFilesProcessNames, procComm(pid)) {
			direct()
		}
	}
	return out | noflush(o, kflags)
}

// noflush is FOPEN_NOFLUSH when flush-on-close says a close of this open
// needs no FLUSH.
func noflush(o *config.Options, kflags uint32) uint32 {
	if kflags&fuse.O_ANYWRITE == 0 && o.FlushOnClose == config.FlushOpenedForWrite ||
		o.FlushOnClose == config.FlushNever {
		return fuse.FOPEN_NOFLUSH
	}
	return 0
}

// procComm returns the command name of pid ("" when unknown).
func procComm(pid uint32) string {
	if pid == 0 {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// openFile registers the handle of a new open file and fills the open reply:
// the handle, and either kernel passthrough with the node's backing file or
// the page-cache flags of cache.files.
func (r *rawFS) openFile(o *config.Options, n *node, f *vfs.File, pid, kflags uint32, out *fuse.OpenOut) {
	h := &handle{node: n, file: f}
	if r.ptMode != config.PassthroughOff {
		h.ptCounted = true
		if id := r.passthrough(n, f, kflags); id != 0 {
			h.pt = true
			out.BackingID = id
			// KEEP_CACHE and DIRECT_IO may not accompany PASSTHROUGH: the
			// kernel would answer the open with EIO, or serve I/O itself.
			out.OpenFlags = fuse.FOPEN_PASSTHROUGH | noflush(o, kflags)
		}
	}
	if !h.pt {
		out.OpenFlags = r.fopenFlags(o, n, f, pid, kflags)
	}
	out.Fh = r.handles.add(h)
	r.nodes.addHandle(n, out.Fh)
}

// staleOpen tells whether an open of n that failed with e did so because the
// name no longer leads to the file the kernel knows (rename-exdev put a
// symlink there, another process replaced it): ESTALE then makes the kernel
// look the name up again and retry the open.
func (r *rawFS) staleOpen(c *vfs.Cred, n *node, rel string, e unix.Errno) bool {
	if e != unix.ELOOP && e != unix.ENOENT && e != unix.EISDIR {
		return false
	}
	a, ge := r.pool.Getattr(bg, c, rel)
	return ge == unix.ENOENT || ge == 0 && !n.sameFile(&a)
}

func (r *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	n, rel, ok := r.nodes.get(in.NodeId)
	if n == nil || !ok {
		return fuse.Status(unix.ESTALE)
	}
	o := r.options()
	c := r.cred(&in.InHeader, 0)
	var f *vfs.File
	var e unix.Errno
	if hd := r.handles.get(r.nodes.anyHandle(n)); hd != nil && hd.file != nil {
		// The node is open already: reach the same branch file again, as
		// mergerfs ≥2.41 does, so every open of a node (and its passthrough
		// backing) is one inode even when copies exist on other branches.
		f, e = hd.file.Reopen(bg, c, openFlags(in.Flags, o))
	}
	if f == nil && (e == 0 || e == unix.EBADF) {
		// Not open, or the handle was released meanwhile.
		f, e = r.pool.Open(bg, c, rel, openFlags(in.Flags, o))
	}
	r.trace("open", rel, &in.InHeader, e)
	if e != 0 {
		if r.staleOpen(c, n, rel, e) {
			return fuse.Status(unix.ESTALE)
		}
		return r.reply("open", e)
	}
	r.openFile(o, n, f, in.Pid, in.Flags, out)
	return fuse.OK
}

func (r *rawFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	parent, rel, e := r.dirChild(in.NodeId, name)
	if e != 0 {
		return r.reply("create", e)
	}
	o := r.options()
	c := r.cred(&in.InHeader, in.Umask)
	flags := openFlags(in.Flags, o) | int(in.Flags)&unix.O_EXCL
	// The kernel sends CREATE only for a name its LOOKUP just found absent
	// (under the directory lock): no second lookup.
	f, e := r.pool.CreateAbsent(bg, c, rel, flags, in.Mode&^unix.S_IFMT)
	r.trace("create", rel, &in.InHeader, e)
	if e != 0 {
		return r.reply("create", e)
	}
	a, e := f.Fgetattr(bg)
	if e != 0 {
		f.Close()
		return r.reply("create", e)
	}
	n := r.nodes.enter(parent, name, &a)
	r.fillEntry(&out.EntryOut, n, &a, o)
	r.openFile(o, n, f, in.Pid, in.Flags, &out.OpenOut)
	return fuse.OK
}

func (r *rawFS) fileOf(fh uint64) *vfs.File {
	if h := r.handles.get(fh); h != nil {
		return h.file
	}
	return nil
}

func (r *rawFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	f := r.fileOf(in.Fh)
	if f == nil {
		return nil, fuse.EBADF
	}
	r.stats.reads.Add(1)
	r.runTestHook("read")
	size := min(int(in.Size), len(buf))
	if r.options().NullRW {
		// nullrw: report the read as done without touching the branch.
		// Reply buffers are reused: zero it, or the reply would carry
		// whatever an earlier reply (another user's listing) left there.
		clear(buf[:size])
		return inPlace(buf[:size]), fuse.OK
	}
	n, e := f.ReadAt(buf[:size], int64(in.Offset))
	if e != 0 {
		return nil, r.reply("read", e)
	}
	return inPlace(buf[:n]), fuse.OK
}

func (r *rawFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	f := r.fileOf(in.Fh)
	if f == nil {
		return 0, fuse.EBADF
	}
	r.stats.writes.Add(1)
	r.runTestHook("write")
	if r.options().NullRW {
		return uint32(len(data)), fuse.OK
	}
	// vfs.File.Write retries on another branch when this one is full
	// (moveonenospc); the move runs as the server and keeps the owner.
	n, e := f.Write(bg, vfs.RootCred, data, int64(in.Offset))
	if e != 0 {
		return 0, r.reply("write", e)
	}
	return uint32(n), fuse.OK
}

// Writev takes a write whose data go-fuse received in several pieces and
// hands them to pwritev, saving the copy into one buffer.
func (r *rawFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	if len(data) == 1 {
		return r.Write(cancel, in, data[0])
	}
	f := r.fileOf(in.Fh)
	if f == nil {
		return 0, fuse.EBADF
	}
	r.stats.writes.Add(1)
	r.runTestHook("write")
	if r.options().NullRW {
		total := 0
		for _, d := range data {
			total += len(d)
		}
		return uint32(total), fuse.OK
	}
	for {
		n, err := unix.Pwritev(f.Fd(), data, int64(in.Offset))
		if err == unix.EINTR {
			continue
		}
		if err == unix.ENOSPC || err == unix.EDQUOT {
			// Rare: let the single-buffer path move the file and retry.
			return r.Write(cancel, in, bytes.Join(data, nil))
		}
		if err != nil {
			return 0, r.reply("write", r.errnoOf("write", err))
		}
		return uint32(n), fuse.OK
	}
}

// Flush runs on every close(2) of a descriptor (unless FOPEN_NOFLUSH): closing
// a duplicate of the branch fd gives the branch filesystem its own flush
// (NFS close-to-open, error reporting) without closing the handle.
func (r *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	r.runTestHook("flush")
	f := r.fileOf(in.Fh)
	if f == nil {
		return fuse.EBADF
	}
	fd, err := unix.Dup(f.Fd())
	if err != nil {
		return r.reply("flush", r.errnoOf("flush", err))
	}
	return r.reply("flush", r.errnoOf("flush", unix.Close(fd)))
}

func (r *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	h := r.handles.remove(in.Fh)
	if h == nil || h.file == nil {
		return
	}
	r.nodes.dropHandle(h.node, in.Fh)
	if h.ptCounted {
		r.endPassthrough(h.node, h.pt)
	}
	if r.options().DropCacheOnClose {
		unix.Fadvise(h.file.Fd(), 0, 0, unix.FADV_DONTNEED)
	}
	h.file.Close()
}

func (r *rawFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	f := r.fileOf(in.Fh)
	if f == nil {
		return fuse.EBADF
	}
	return r.reply("fsync", f.Fsync(bg, in.FsyncFlags&1 != 0))
}

func (r *rawFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	f := r.fileOf(in.Fh)
	if f == nil {
		return fuse.EBADF
	}
	e := f.Fallocate(bg, r.cred(&in.InHeader, 0), in.Mode, int64(in.Offset), int64(in.Length))
	return r.reply("fallocate", e)
}

// Lseek answers SEEK_DATA and SEEK_HOLE (the kernel handles the other
// whences itself) from the branch file. The fd's own offset is never used
// for I/O (pread/pwrite), so moving it is harmless.
func (r *rawFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	f := r.fileOf(in.Fh)
	if f == nil {
		return fuse.EBADF
	}
	off, err := unix.Seek(f.Fd(), int64(in.Offset), int(in.Whence))
	if err != nil {
		return r.reply("lseek", r.errnoOf("lseek", err))
	}
	out.Offset = uint64(off)
	return fuse.OK
}

// copyChunk is the largest piece the read/write fallback of copy_file_range
// moves at once.
const copyChunk = 1 << 20

// CopyFileRange copies between two open files of the mount with
// copy_file_range(2) on their branch fds, so a copy within one branch
// filesystem stays in the kernel (reflinks included). When the branch
// filesystems cannot (EXDEV between two filesystems, no support: the errors
// vfs/fileio.CopyData falls back on) or the target is full, it copies with
// pread and vfs.File.Write, which moves a full file to another branch
// (moveonenospc) like a WRITE. The reply carries 32 bits, so one request
// copies less than 4 GiB; the caller's copy_file_range loop continues.
func (r *rawFS) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	src, dst := r.fileOf(in.FhIn), r.fileOf(in.FhOut)
	if src == nil || dst == nil {
		return 0, fuse.EBADF
	}
	if in.Flags != 0 {
		return 0, fuse.EINVAL
	}
	r.stats.copies.Add(1)
	length := int(min(in.Len, uint64(math.MaxUint32&^0xfff)))
	offIn, offOut := int64(in.OffIn), int64(in.OffOut)
	n, err := ignoringEINTR(func() (int, error) {
		return unix.CopyFileRange(src.Fd(), &offIn, dst.Fd(), &offOut, length, 0)
	})
	switch {
	case err == nil && (n > 0 || length == 0):
		return uint32(n), fuse.OK
	case err == nil, copyFallback(err):
		// Nothing copied (some filesystems copy nothing instead of saying
		// they cannot), or cannot: copy through the daemon.
	default:
		return 0, r.reply("copy_file_range", r.errnoOf("copy_file_range", err))
	}
	done, e := r.copyReadWrite(src, dst, int64(in.OffIn), int64(in.OffOut), length)
	if e != 0 && done == 0 {
		return 0, r.reply("copy_file_range", e)
	}
	return uint32(done), fuse.OK
}

// copyFallback reports the copy_file_range errors that mean "copy another
// way" (as vfs/fileio does), plus a full target (the write path can move the
// file).
func copyFallback(err error) bool {
	switch err {
	case unix.ENOSYS, unix.EXDEV, unix.EINVAL, unix.EOPNOTSUPP, unix.EPERM, unix.EIO,
		unix.ENOSPC, unix.EDQUOT:
		return true
	}
	return false
}

// copyReadWrite copies up to length bytes from src at offIn to dst at offOut,
// stopping early at the end of src. An error after some bytes were copied
// is reported with the count, as a short copy.
func (r *rawFS) copyReadWrite(src, dst *vfs.File, offIn, offOut int64, length int) (int, unix.Errno) {
	buf := make([]byte, min(length, copyChunk))
	done := 0
	for done < length {
		p := buf[:min(len(buf), length-done)]
		k, e := src.ReadAt(p, offIn+int64(done))
		if e == unix.EINTR {
			continue
		}
		if e != 0 || k == 0 {
			return done, e
		}
		w, e := dst.Write(bg, vfs.RootCred, p[:k], offOut+int64(done))
		done += w
		if e != 0 {
			return done, e
		}
	}
	return done, 0
}

// ignoringEINTR retries a syscall interrupted by a signal (the Go runtime
// sends SIGURG for preemption).
func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}
