package vfs

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// Dirent is one entry of a merged directory listing.
type Dirent struct {
	Name    string
	Type    uint8  // DT_* from the winning branch
	Ino     uint64 // inodecalc result (what a mount reports)
	RealIno uint64 // d_ino on the branch (what `mfs run` reports)
	Branch  int
}

// Readdir lists directory rel: every branch in configured order, RO and NC
// included, no policy. Names are deduplicated and the first branch holding a
// name wins. "." and ".." come first, from the first branch holding the
// directory. The control file is never listed. The listing succeeds if any
// branch could be read, otherwise it fails with the first error.
// func.readdir=cosr/cor reads branches concurrently; cosr merges in branch
// order (deterministic), cor in completion order.
// The result is a snapshot: front ends serve offsets into it, so seekdir and
// chunked reads stay consistent.
func (p *Pool) Readdir(ctx context.Context, c *Cred, rel string) ([]Dirent, unix.Errno) {
	s := p.state()
	var out []Dirent
	e := asCaller(c, func() unix.Errno {
		var e unix.Errno
		out, e = s.readdir(rel)
		return e
	})
	return out, e
}

type branchListing struct {
	i     int
	ents  []rawDirent
	errno unix.Errno
}

type rawDirent struct {
	ino  uint64
	typ  uint8
	name string
}

func (s *state) readdir(rel string) ([]Dirent, unix.Errno) {
	n := len(s.branches)
	lists := make([]branchListing, 0, n)
	switch s.opts.Readdir.Mode {
	case config.ReaddirCOSR, config.ReaddirCOR:
		ch := make(chan branchListing, n)
		threads := s.opts.Readdir.Threads
		if threads <= 0 {
			threads = min(8, runtime.NumCPU())
		}
		sem := make(chan struct{}, threads)
		var wg sync.WaitGroup
		for i := range s.branches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				ents, e := s.branches[i].list(rel)
				<-sem
				ch <- branchListing{i, ents, e}
			}()
		}
		wg.Wait()
		close(ch)
		byIdx := make([]branchListing, n)
		for l := range ch {
			if s.opts.Readdir.Mode == config.ReaddirCOR {
				lists = append(lists, l)
			}
			byIdx[l.i] = l
		}
		if s.opts.Readdir.Mode == config.ReaddirCOSR {
			lists = byIdx
		}
	default:
		for i, b := range s.branches {
			ents, e := b.list(rel)
			lists = append(lists, branchListing{i, ents, e})
		}
	}
	var first unix.Errno
	ok := false
	total := 0
	for _, l := range lists {
		total += len(l.ents)
	}
	// Sized for the sum: most names are on one branch. With one branch
	// listed there is nothing to deduplicate.
	var seen map[string]struct{}
	switch {
	case len(lists) > 1 && total > maxPooledSeen:
		seen = make(map[string]struct{}, total)
	case len(lists) > 1:
		seen = seenSets.Get().(map[string]struct{})
		defer func() {
			clear(seen)
			seenSets.Put(seen)
		}()
	}
	out := make([]Dirent, 0, total)
	mode := string(s.opts.InodeCalc)
	for _, l := range lists {
		if l.errno != 0 {
			if first == 0 {
				first = l.errno
			}
			continue
		}
		ok = true
		seed := fnvString(fnvOffset, s.branches[l.i].path)
		for _, d := range l.ents {
			if rel == "" && d.name == ControlFile {
				continue
			}
			if seen != nil {
				if _, dup := seen[d.name]; dup {
					continue
				}
				seen[d.name] = struct{}{}
			}
			isDir := d.typ == unix.DT_DIR
			var crel string
			if inodeNeedsPath(mode, isDir) {
				switch {
				case d.name == ".":
					crel = rel
				case d.name == "..":
					crel = parentRel(rel)
				case rel == "":
					crel = d.name
				default:
					crel = rel + "/" + d.name
				}
			}
			ino := inodeOf(mode, seed, crel, d.ino, isDir)
			out = append(out, Dirent{Name: d.name, Type: d.typ, Ino: ino, RealIno: d.ino, Branch: l.i})
		}
	}
	if !ok {
		if rel == "" && first == unix.ENOENT {
			return []Dirent{
				{Name: ".", Type: unix.DT_DIR, Ino: 1, Branch: -1},
				{Name: "..", Type: unix.DT_DIR, Ino: 1, Branch: -1},
				{Name: "error: no valid mergerfs branch found, check config", Type: unix.DT_REG, Ino: 2, Branch: -1},
			}, 0
		}
		return nil, first
	}
	for _, l := range lists {
		putRawDirents(l.ents)
	}
	sortDots(out)
	return out, 0
}

// sortDots moves "." and ".." to the front, keeping the rest in order.
func sortDots(ents []Dirent) {
	k := 0
	for _, want := range []string{".", ".."} {
		for j := k; j < len(ents); j++ {
			if ents[j].Name == want {
				d := ents[j]
				copy(ents[k+1:j+1], ents[k:j])
				ents[k] = d
				k++
				break
			}
		}
	}
}

// direntBufs recycles getdents buffers: a listing of three branches
// allocated 96 KiB of them, garbage the daemon then collected on every
// OPENDIR.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// seenSets recycles the deduplication sets of merged listings of up to
// maxPooledSeen names; larger ones are made to size and left to the
// collector rather than kept forever.
var seenSets = sync.Pool{New: func() any { return make(map[string]struct{}) }}

const maxPooledSeen = 4096

// rawDirentSlices recycles the per-branch listings a merge consumes (the
// merged []Dirent is what lives on); a pooled slice is cleared first so it
// pins no name arena.
var rawDirentSlices = sync.Pool{New: func() any { return make([]rawDirent, 0, 256) }}

// putRawDirents returns a branch listing to rawDirentSlices.
func putRawDirents(ents []rawDirent) {
	if ents == nil || cap(ents) > 4*maxPooledSeen {
		return
	}
	clear(ents)
	rawDirentSlices.Put(ents[:0])
}

// list reads directory rel on the branch with getdents64.
func (b *branch) list(rel string) ([]rawDirent, unix.Errno) {
	fd, e := b.openPath(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if e != 0 {
		return nil, e
	}
	defer unix.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	var out []rawDirent
	var arena nameArena
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			if errnoOf(err) == unix.EINTR {
				continue
			}
			return nil, errnoOf(err)
		}
		if n <= 0 {
			return out, 0
		}
		if out == nil {
			out = rawDirentSlices.Get().([]rawDirent)[:0]
		}
		out = parseDirents(buf[:n], out, &arena)
	}
}

// parseDirents decodes linux_dirent64 records: d_ino u64, d_off s64,
// d_reclen u16, d_type u8, then the NUL-terminated name. Names go into
// arena when it is not nil.
func parseDirents(buf []byte, out []rawDirent, arena *nameArena) []rawDirent {
	for len(buf) >= 19 {
		reclen := int(binary.LittleEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			break
		}
		rec := buf[:reclen]
		name := rec[19:]
		for i, ch := range name {
			if ch == 0 {
				name = name[:i]
				break
			}
		}
		var n string
		if arena != nil {
			n = arena.str(name, len(buf))
		} else {
			n = string(name)
		}
		out = append(out, rawDirent{
			ino:  binary.LittleEndian.Uint64(rec[0:8]),
			typ:  rec[18],
			name: n,
		})
		buf = buf[reclen:]
	}
	return out
}
