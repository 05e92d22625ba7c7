package fusemode

import "github.com/hanwen/go-fuse/v2/fuse"

// gatedFS is the rawFS with at most cap(slots) requests processed at once
// (read-thread-count / process-thread-count, see threads.go). A request
// beyond that waits for a slot on the goroutine go-fuse read it with, as a
// request waits in mergerfs's queue for a processing thread. FORGET, INIT
// and unmount bypass the gate: they do no branch I/O and must never wait.
// Mount uses it only when a bound is set, so an unbounded mount pays nothing.
type gatedFS struct {
	*rawFS
	slots chan struct{}
}

var _ fuse.RawFileSystem = (*gatedFS)(nil)

func (g *gatedFS) acquire() { g.slots <- struct{}{} }
func (g *gatedFS) release() { <-g.slots }

func (g *gatedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Lookup(cancel, header, name, out)
}

func (g *gatedFS) GetAttr(cancel <-chan struct{}, input *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.GetAttr(cancel, input, out)
}

func (g *gatedFS) SetAttr(cancel <-chan struct{}, input *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.SetAttr(cancel, input, out)
}

func (g *gatedFS) Mknod(cancel <-chan struct{}, input *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Mknod(cancel, input, name, out)
}

func (g *gatedFS) Mkdir(cancel <-chan struct{}, input *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Mkdir(cancel, input, name, out)
}

func (g *gatedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Unlink(cancel, header, name)
}

func (g *gatedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Rmdir(cancel, header, name)
}

func (g *gatedFS) Rename(cancel <-chan struct{}, input *fuse.RenameIn, oldName string, newName string) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Rename(cancel, input, oldName, newName)
}

func (g *gatedFS) Link(cancel <-chan struct{}, input *fuse.LinkIn, filename string, out *fuse.EntryOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Link(cancel, input, filename, out)
}

func (g *gatedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, pointedTo string, linkName string, out *fuse.EntryOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Symlink(cancel, header, pointedTo, linkName, out)
}

func (g *gatedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	g.acquire()
	defer g.release()
	return g.rawFS.Readlink(cancel, header)
}

func (g *gatedFS) Access(cancel <-chan struct{}, input *fuse.AccessIn) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Access(cancel, input)
}

func (g *gatedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	g.acquire()
	defer g.release()
	return g.rawFS.GetXAttr(cancel, header, attr, dest)
}

func (g *gatedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	g.acquire()
	defer g.release()
	return g.rawFS.ListXAttr(cancel, header, dest)
}

func (g *gatedFS) SetXAttr(cancel <-chan struct{}, input *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.SetXAttr(cancel, input, attr, data)
}

func (g *gatedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.RemoveXAttr(cancel, header, attr)
}

func (g *gatedFS) Create(cancel <-chan struct{}, input *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Create(cancel, input, name, out)
}

func (g *gatedFS) Tmpfile(cancel <-chan struct{}, input *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Tmpfile(cancel, input, out)
}

func (g *gatedFS) Open(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Open(cancel, input, out)
}

func (g *gatedFS) Read(cancel <-chan struct{}, input *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	g.acquire()
	defer g.release()
	return g.rawFS.Read(cancel, input, buf)
}

func (g *gatedFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Lseek(cancel, in, out)
}

func (g *gatedFS) GetLk(cancel <-chan struct{}, input *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.GetLk(cancel, input, out)
}

func (g *gatedFS) SetLk(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.SetLk(cancel, input)
}

func (g *gatedFS) SetLkw(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.SetLkw(cancel, input)
}

func (g *gatedFS) Release(cancel <-chan struct{}, input *fuse.ReleaseIn) {
	g.acquire()
	defer g.release()
	g.rawFS.Release(cancel, input)
}

func (g *gatedFS) Write(cancel <-chan struct{}, input *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	g.acquire()
	defer g.release()
	return g.rawFS.Write(cancel, input, data)
}

func (g *gatedFS) Writev(cancel <-chan struct{}, input *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	g.acquire()
	defer g.release()
	return g.rawFS.Writev(cancel, input, data)
}

func (g *gatedFS) CopyFileRange(cancel <-chan struct{}, input *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	g.acquire()
	defer g.release()
	return g.rawFS.CopyFileRange(cancel, input)
}

func (g *gatedFS) Ioctl(cancel <-chan struct{}, input *fuse.IoctlIn, inbuf []byte, output *fuse.IoctlOut, outbuf []byte) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Ioctl(cancel, input, inbuf, output, outbuf)
}

func (g *gatedFS) Flush(cancel <-chan struct{}, input *fuse.FlushIn) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Flush(cancel, input)
}

func (g *gatedFS) Fsync(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Fsync(cancel, input)
}

func (g *gatedFS) Fallocate(cancel <-chan struct{}, input *fuse.FallocateIn) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Fallocate(cancel, input)
}

func (g *gatedFS) OpenDir(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.OpenDir(cancel, input, out)
}

func (g *gatedFS) ReadDir(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.ReadDir(cancel, input, out)
}

func (g *gatedFS) ReadDirPlus(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.ReadDirPlus(cancel, input, out)
}

func (g *gatedFS) ReleaseDir(input *fuse.ReleaseIn) {
	g.acquire()
	defer g.release()
	g.rawFS.ReleaseDir(input)
}

func (g *gatedFS) FsyncDir(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.FsyncDir(cancel, input)
}

func (g *gatedFS) StatFs(cancel <-chan struct{}, input *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.StatFs(cancel, input, out)
}

func (g *gatedFS) Statx(cancel <-chan struct{}, input *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	g.acquire()
	defer g.release()
	return g.rawFS.Statx(cancel, input, out)
}
