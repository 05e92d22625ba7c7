package fusemode

import (
	"time"

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
	if st := r.rewind(h, in.Offset, "readdir"); st != fuse.OK {
		return st
	}
	if in.Offset > uint64(len(h.dirents)) {
		return fuse.OK
	}
	if in.Offset > 0 {
		// READDIR past the first batch under READDIRPLUS_AUTO: the kernel
		// saw no lookup in this directory since the last batch, so the
		// caller lists without stat-ing (ls, find -name, Readdirnames).
		h.node.plusHint.Store(false)
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

// ReadDirPlus serves the snapshot like ReadDir and adds each entry's lookup
// (node id, attributes, timeouts), saving `ls -l` a LOOKUP per name. Every
// entry with a node id counts as a lookup the kernel will FORGET; "." and
// ".." and names that vanished since the snapshot carry no node id (the
// kernel then treats them as plain entries).
//
// Under READDIRPLUS_AUTO the kernel asks READDIRPLUS for every listing's
// first batch (offset 0), whether or not the caller will stat the names,
// and for later batches only when it saw lookups in the directory since the
// previous one. Stat-ing every name of a first batch (up to the caller's
// getdents buffer, 32 KiB for ls: about 200 names, each a search-policy
// stat on up to every branch) made a plain listing 4-5× slower than
// mergerfs, which answers plain READDIR. So the first batch carries the
// lookups only when the directory's previous listing showed the caller
// stat-ing (plusHint: a READDIRPLUS past offset 0 sets it, a plain READDIR
// past offset 0 clears it); otherwise its entries have node id 0, which the
// kernel takes as names without attributes, and the batches after it follow
// the kernel's own choice.
func (r *rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	h := r.handles.get(in.Fh)
	if h == nil || h.file != nil {
		return fuse.EBADF
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := r.rewind(h, in.Offset, "readdirplus"); st != fuse.OK {
		return st
	}
	if in.Offset > uint64(len(h.dirents)) {
		return fuse.OK
	}
	if in.Offset > 0 {
		h.node.plusHint.Store(true)
	} else if !h.node.plusHint.Load() {
		return r.readDirNames(h, in.Offset, out)
	}
	o := r.options()
	// Entries whose cached lookup outlives this margin are not stat-ed
	// again; the margin covers the time until the caller uses them.
	now := time.Now().Add(freshMargin).UnixNano()
	dir, rel, ok := r.nodes.get(h.node.id)
	if dir != h.node {
		ok = false
	}
	for i := int(in.Offset); i < len(h.dirents); i++ {
		d := &h.dirents[i]
		e := out.AddDirLookupEntry(fuse.DirEntry{
			Name: d.Name,
			Mode: uint32(d.Type) << 12,
			Ino:  d.Ino,
			Off:  uint64(i + 1),
		})
		if e == nil {
			break
		}
		if !ok || d.Name == "." || d.Name == ".." {
			continue
		}
		if c := r.nodes.child(h.node.id, d.Name); c != nil && c.fresh.Load() > now {
			// The kernel still holds this entry and its attributes
			// from an earlier reply: stat-ing it again would only
			// cost time (ls -l run again within cache.entry and
			// cache.attr). Without a node id the entry changes no
			// kernel cache.
			r.stats.plusFresh.Add(1)
			continue
		}
		a, errno := r.pool.Getattr(bg, h.cred, join(rel, d.Name))
		if errno != 0 || a.Stat.Mode>>12 != uint32(d.Type) {
			continue
		}
		n := r.nodes.enter(h.node, d.Name, &a)
		r.fillEntry(e, n, &a, o)
		r.stats.plusEntries.Add(1)
	}
	return fuse.OK
}

// freshMargin: a READDIRPLUS entry is stat-ed again unless the kernel's
// cached lookup of it stays valid at least this much longer.
const freshMargin = 100 * time.Millisecond

// readDirNames fills a READDIRPLUS reply with names only (node id 0: no
// lookup counted, the kernel caches nothing but the dirent).
// Preconditions: h.mu held.
func (r *rawFS) readDirNames(h *handle, off uint64, out *fuse.DirEntryList) fuse.Status {
	for i := int(off); i < len(h.dirents); i++ {
		d := &h.dirents[i]
		if out.AddDirLookupEntry(fuse.DirEntry{
			Name: d.Name,
			Mode: uint32(d.Type) << 12,
			Ino:  d.Ino,
			Off:  uint64(i + 1),
		}) == nil {
			break
		}
	}
	return fuse.OK
}

// rewind takes a fresh snapshot when a listing that was already served is
// read again from offset 0: rewinddir(3) must reflect the directory now.
// Preconditions: h.mu held.
func (r *rawFS) rewind(h *handle, off uint64, op string) fuse.Status {
	if off == 0 && h.served {
		ents, e := r.pool.Readdir(bg, h.cred, h.rel)
		if e != 0 {
			return r.reply(op, e)
		}
		h.dirents = ents
	}
	h.served = true
	return fuse.OK
}
