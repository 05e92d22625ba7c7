package fusemode

import (
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// OpenDir takes the merged listing of the directory now: the snapshot the
// handle serves. READDIR offsets are indexes into it (entry i carries offset
// i+1, "where to continue"), so chunked reads, telldir and seekdir stay
// consistent however the branches change meanwhile.
func (r *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	n, rel, ok := r.nodes.get(in.NodeId)
	if n == nil || !ok {
		return fuse.Status(unix.ESTALE)
	}
	c := r.cred(&in.InHeader, 0)
	ents, e := r.pool.Readdir(bg, c, rel)
	r.trace("opendir", rel, &in.InHeader, e)
	if e != 0 {
		return r.reply("opendir", e)
	}
	out.Fh = r.handles.add(&handle{node: n, rel: rel, dirents: ents, cred: c})
	if r.options().CacheReaddir {
		out.OpenFlags |= fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_CACHE_DIR
	}
	return fuse.OK
}

func (r *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	h := r.handles.get(in.Fh)
	if h == nil || h.file != nil {
		return fuse.EBADF
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if in.Offset == 0 && h.served {
		// rewinddir(3): POSIX wants the listing to reflect the directory now.
		ents, e := r.pool.Readdir(bg, h.cred, h.rel)
		if e != 0 {
			return r.reply("readdir", e)
		}
		h.dirents = ents
	}
	h.served = true
	if in.Offset > uint64(len(h.dirents)) {
		return fuse.OK
	}
	for i := int(in.Offset); i < len(h.dirents); i++ {
		d := &h.dirents[i]
		ok := out.AddDirEntry(fuse.DirEntry{
			Name: d.Name,
			Mode: uint32(d.Type) << 12,
			Ino:  d.Ino,
			Off:  uint64(i + 1),
		})
		if !ok {
			break
		}
	}
	return fuse.OK
}

func (r *rawFS) ReleaseDir(in *fuse.ReleaseIn) {
	r.handles.remove(in.Fh)
}

// FsyncDir flushes the directory on every branch holding it.
func (r *rawFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	h := r.handles.get(in.Fh)
	if h == nil || h.file != nil {
		return fuse.EBADF
	}
	if e := r.pool.Fsyncdir(bg, h.cred, h.rel); e != 0 {
		return r.reply("fsyncdir", e)
	}
	return fuse.OK
}
