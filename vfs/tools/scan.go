package tools

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/fileio"
)

// fileInfo is one regular file or directory of one branch.
type fileInfo struct {
	rel      string
	mode     uint32 // st_mode: type and permission bits
	uid, gid uint32
	size     int64
	alloc    int64 // st_blocks * 512
	mtime    unix.Timespec
	dev, ino uint64
	nlink    uint64
	mark     string // the move marker (markAttr), "" for none
}

func (f *fileInfo) isDir() bool { return f.mode&unix.S_IFMT == unix.S_IFDIR }

// tempDir lists the temp files (fileio.IsTempName) of one directory.
type tempDir struct {
	dir   string
	names []string
	alloc int64
	open  bool // one of them is held open by a process
}

// branchScan is the walk of one branch (below the scope).
type branchScan struct {
	root  int // O_PATH descriptor of the branch root, -1 if it failed
	stat  branchStat
	files []*fileInfo // regular files and (with dirs) directories, walk order
	temps []*tempDir
	notes []Note
	err   error
}

// copyRef is the copy of a path on one branch.
type copyRef struct {
	br int
	f  *fileInfo
}

// pathCopies is one relative path and its copies, in branch order.
type pathCopies struct {
	rel    string
	copies []copyRef
}

func (pc *pathCopies) on(br int) *fileInfo {
	for _, c := range pc.copies {
		if c.br == br {
			return c.f
		}
	}
	return nil
}

// snapshot is the state of the pool a plan is computed from.
type snapshot struct {
	pool  *Pool
	scope string
	br    []*branchScan
	paths []*pathCopies // sorted by rel
	byRel map[string]*pathCopies
	open  *openFiles

	recovery  []Action // finish/abandon/clean actions, planned first
	tempGrace time.Duration
	notes     []Note
}

// scanOptions select what a walk collects.
type scanOptions struct {
	dirs      bool          // directories too (fsck)
	tempGrace time.Duration // temp files younger than this are left alone
}

// takeSnapshot walks every branch below scope (in parallel, one goroutine
// per branch), reads /proc for open files and plans the recovery of
// earlier interrupted runs. Branches that cannot be opened are noted and
// left out; the caller closes the snapshot.
func takeSnapshot(p *Pool, scope string, so scanOptions) (*snapshot, error) {
	s := &snapshot{pool: p, scope: scope, byRel: map[string]*pathCopies{}, tempGrace: so.tempGrace}
	s.br = make([]*branchScan, len(p.Branches))
	var wg sync.WaitGroup
	for i, b := range p.Branches {
		bs := &branchScan{root: -1}
		s.br[i] = bs
		wg.Add(1)
		go func() {
			defer wg.Done()
			bs.walk(b.Path, scope, so)
		}()
	}
	wg.Wait()
	ok := 0
	for i, bs := range s.br {
		if bs.err != nil {
			s.notes = append(s.notes, Note{Path: scope, Branch: p.Branches[i].Path, Reason: "branch left out: " + bs.err.Error()})
			continue
		}
		ok++
		s.notes = append(s.notes, bs.notes...)
	}
	if ok == 0 {
		s.close()
		return nil, fmt.Errorf("no branch of the pool could be read: %v", s.br[0].err)
	}
	s.open = scanOpenFiles(branchPaths(p.Branches))
	for i, bs := range s.br {
		for _, f := range bs.files {
			pc := s.byRel[f.rel]
			if pc == nil {
				pc = &pathCopies{rel: f.rel}
				s.byRel[f.rel] = pc
				s.paths = append(s.paths, pc)
			}
			pc.copies = append(pc.copies, copyRef{br: i, f: f})
		}
	}
	sort.Slice(s.paths, func(i, j int) bool { return s.paths[i].rel < s.paths[j].rel })
	s.planRecovery()
	s.planClean()
	return s, nil
}

func (s *snapshot) close() {
	for _, bs := range s.br {
		if bs.root >= 0 {
			unix.Close(bs.root)
			bs.root = -1
		}
	}
}

// stats returns the statfs of every branch.
func (s *snapshot) stats() []branchStat {
	out := make([]branchStat, len(s.br))
	for i, bs := range s.br {
		out[i] = bs.stat
	}
	return out
}

// walk reads the branch below scope.
func (bs *branchScan) walk(root, scope string, so scanOptions) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		bs.err = &os.PathError{Op: "open", Path: root, Err: err}
		return
	}
	bs.root = fd
	bs.stat = statBranch(fd)
	if !bs.stat.ok {
		bs.err = &os.PathError{Op: "statfs", Path: root, Err: bs.stat.err}
		return
	}
	start, err := openBeneath(fd, scope, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		if err != unix.ENOENT {
			bs.notes = append(bs.notes, Note{Path: scope, Branch: root, Reason: "cannot open: " + err.Error()})
		}
		return
	}
	w := walker{bs: bs, root: root, dev: bs.stat.dev, so: so, cutoff: time.Now().Add(-so.tempGrace)}
	w.dir(start, scope)
}

type walker struct {
	bs     *branchScan
	root   string
	dev    uint64
	so     scanOptions
	cutoff time.Time
}

// dir walks the directory open as fd (and closes it); rel is its path.
func (w *walker) dir(fd int, rel string) {
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		w.bs.notes = append(w.bs.notes, Note{Path: rel, Branch: w.root, Reason: "cannot read directory: " + err.Error()})
	}
	sort.Strings(names)
	var temps *tempDir
	for _, name := range names {
		child := path.Join(rel, name)
		var st unix.Stat_t
		if err := fstatat(fd, name, &st); err != nil {
			if err != unix.ENOENT {
				w.bs.notes = append(w.bs.notes, Note{Path: child, Branch: w.root, Reason: "cannot stat: " + err.Error()})
			}
			continue
		}
		typ := st.Mode & unix.S_IFMT
		if typ == unix.S_IFREG && fileio.IsTempName(name) {
			changed := time.Unix(st.Ctim.Unix())
			if m := time.Unix(st.Mtim.Unix()); m.After(changed) {
				changed = m
			}
			if changed.After(w.cutoff) {
				continue // young: perhaps a copy in progress
			}
			if temps == nil {
				temps = &tempDir{dir: rel}
				w.bs.temps = append(w.bs.temps, temps)
			}
			temps.names = append(temps.names, name)
			temps.alloc += st.Blocks * 512
			continue
		}
		if typ != unix.S_IFREG && typ != unix.S_IFDIR {
			continue // symlinks, devices, FIFOs, sockets: the tools move regular files only
		}
		if uint64(st.Dev) != w.dev {
			w.bs.notes = append(w.bs.notes, Note{Path: child, Branch: w.root, Reason: "another filesystem is mounted here; not crossed"})
			continue
		}
		fi := &fileInfo{rel: child, mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size,
			alloc: st.Blocks * 512, mtime: st.Mtim, dev: uint64(st.Dev), ino: st.Ino, nlink: uint64(st.Nlink)}
		if typ == unix.S_IFDIR {
			if w.so.dirs {
				w.bs.files = append(w.bs.files, fi)
			}
			sub, err := openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
			if err != nil {
				if err != unix.ENOENT {
					w.bs.notes = append(w.bs.notes, Note{Path: child, Branch: w.root, Reason: "cannot open directory: " + err.Error()})
				}
				continue
			}
			w.dir(sub, child)
			continue
		}
		fi.mark = readMark(fd, name)
		w.bs.files = append(w.bs.files, fi)
	}
}

// readMark returns the move marker of name in dir, or "".
func readMark(dir int, name string) string {
	// lgetxattr through /proc/self/fd keeps the lookup relative to dir
	// without opening the file (an open could break a lease or block on a
	// mandatory lock).
	var buf [256]byte
	p := "/proc/self/fd/" + itoa(dir) + "/" + name
	for {
		n, err := unix.Lgetxattr(p, markAttr, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return ""
		}
		return string(buf[:n])
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// markAttr is the move marker. A move sets it on the source inode before it
// copies; the copy inherits it with the other xattrs (fileio.CopyMeta), and
// the move clears it once the source is gone. Its value is
// "<16 hex digits>:<target branch path>". A run that finds it knows a move
// was interrupted, whether the copy on the target is complete (the target
// has the path, marked with the same id: fileio publishes complete copies
// only) and which copy to keep.
const markAttr = "user.mfs.move"

// parseMark splits a marker into its id and target branch.
func parseMark(v string) (id, to string, ok bool) {
	id, to, ok = strings.Cut(v, ":")
	if !ok || len(id) != 16 || to == "" {
		return "", "", false
	}
	return id, to, true
}

// planRecovery turns move markers into finish/abandon actions and removes
// from the index the copies that finishing will remove.
func (s *snapshot) planRecovery() {
	byID := map[string][]marked{}
	var ids []string
	for _, pc := range s.paths {
		for _, c := range pc.copies {
			if c.f.mark == "" {
				continue
			}
			id, _, ok := parseMark(c.f.mark)
			if !ok {
				continue
			}
			if _, seen := byID[id]; !seen {
				ids = append(ids, id)
			}
			byID[id] = append(byID[id], marked{c.br, c.f})
		}
	}
	for _, id := range ids {
		ms := byID[id]
		_, to, _ := parseMark(ms[0].f.mark)
		t := -1
		for i, b := range s.pool.Branches {
			if b.Path == to {
				t = i
			}
		}
		if t < 0 {
			s.notes = append(s.notes, Note{Path: ms[0].f.rel, Reason: "interrupted move to " + to + ", which is not a branch of this pool; left as it is (remove the " + markAttr + " xattr by hand)"})
			continue
		}
		var onT []marked
		srcs := map[int][]marked{} // source branch -> its marked names
		var srcOrder []int
		for _, m := range ms {
			if m.br == t {
				onT = append(onT, m)
				continue
			}
			if _, ok := srcs[m.br]; !ok {
				srcOrder = append(srcOrder, m.br)
			}
			srcs[m.br] = append(srcs[m.br], m)
		}
		if len(onT) == 0 {
			// Never published: the source stays, only the marker goes.
			for _, b := range srcOrder {
				for _, group := range groupByInode(srcs[b]) {
					a := Action{Op: OpAbandon, Path: group[0].f.rel, From: s.pool.Branches[b].Path, from: b, to: -1,
						mark: group[0].f.mark, ino: group[0].f.ino, Reason: "interrupted move to " + to + " never completed"}
					for _, m := range group[1:] {
						a.Links = append(a.Links, m.f.rel)
					}
					s.recovery = append(s.recovery, a)
					for _, m := range group {
						m.f.mark = ""
					}
				}
			}
			continue
		}
		if len(srcOrder) == 0 {
			s.recovery = append(s.recovery, Action{Op: OpFinish, Path: onT[0].f.rel, To: s.pool.Branches[t].Path,
				from: -1, to: t, LinkTo: onT[0].f.rel, mark: onT[0].f.mark, ino: onT[0].f.ino,
				Reason: "clear the marker of a completed move"})
			onT[0].f.mark = ""
			continue
		}
		ref := onT[0].f
		finished := false
		for _, b := range srcOrder {
			for _, group := range groupByInode(srcs[b]) {
				if g := group[0].f; g.size != ref.size || g.mtime != ref.mtime {
					// Written to after the copy was made: both are kept.
					a := Action{Op: OpAbandon, Path: g.rel, From: s.pool.Branches[b].Path, from: b, to: -1,
						mark: g.mark, ino: g.ino, Reason: "the source changed after an interrupted move copied it; both copies kept (see fsck)"}
					for _, m := range group[1:] {
						a.Links = append(a.Links, m.f.rel)
					}
					s.recovery = append(s.recovery, a)
					for _, m := range group {
						m.f.mark = ""
					}
					continue
				}
				a := Action{Op: OpFinish, Path: group[0].f.rel, From: s.pool.Branches[b].Path, To: s.pool.Branches[t].Path,
					from: b, to: t, LinkTo: onT[0].f.rel, mark: group[0].f.mark, ino: group[0].f.ino,
					Bytes: group[0].f.size, alloc: group[0].f.alloc, Reason: "interrupted move: the copy on the target is complete"}
				for _, m := range group[1:] {
					a.Links = append(a.Links, m.f.rel)
				}
				s.recovery = append(s.recovery, a)
				finished = true
				for _, m := range group {
					s.drop(m.f.rel, b)
				}
			}
		}
		if !finished {
			s.recovery = append(s.recovery, Action{Op: OpFinish, Path: ref.rel, To: s.pool.Branches[t].Path,
				from: -1, to: t, LinkTo: ref.rel, mark: ref.mark, ino: ref.ino,
				Reason: "clear the marker of an interrupted move"})
		}
		for _, m := range onT {
			m.f.mark = ""
		}
	}
}

// marked is a file carrying a move marker, on branch br.
type marked struct {
	br int
	f  *fileInfo
}

// groupByInode splits marked names of one branch by inode, keeping order.
func groupByInode(ms []marked) [][]marked {
	var out [][]marked
	idx := map[uint64]int{}
	for _, m := range ms {
		i, ok := idx[m.f.ino]
		if !ok {
			i = len(out)
			idx[m.f.ino] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], m)
	}
	return out
}

// drop removes branch br's copy of rel from the index.
func (s *snapshot) drop(rel string, br int) {
	pc := s.byRel[rel]
	if pc == nil {
		return
	}
	for i, c := range pc.copies {
		if c.br == br {
			pc.copies = append(pc.copies[:i:i], pc.copies[i+1:]...)
			break
		}
	}
}

// planClean turns the temp files the walk found into clean actions. A temp
// file some process holds open is a copy in progress and is left alone.
func (s *snapshot) planClean() {
	for i, bs := range s.br {
		for _, td := range bs.temps {
			var keep []string
			for _, name := range td.names {
				var st unix.Stat_t
				if d, err := openBeneath(bs.root, td.dir, unix.O_PATH|unix.O_DIRECTORY); err == nil {
					err = fstatat(d, name, &st)
					unix.Close(d)
					if err == nil && s.open.isOpen(uint64(st.Dev), st.Ino) {
						td.open = true
						continue
					}
				}
				keep = append(keep, name)
			}
			if len(keep) == 0 {
				continue
			}
			s.recovery = append(s.recovery, Action{Op: OpClean, Path: td.dir, From: s.pool.Branches[i].Path,
				from: i, to: -1, Names: keep, alloc: td.alloc, partial: td.open, grace: s.tempGrace,
				Reason: "temp files of an interrupted copy"})
		}
	}
}
