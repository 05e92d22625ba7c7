package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// dirPins keeps a directory's identity stable for front ends that report
// real branch st_dev/st_ino (mfs run): once a directory has been reported
// from one branch, it keeps coming from that branch while a directory
// exists there. Without this, a create that clones the directory onto an
// earlier branch silently changes the answer of stat (the search policy
// now finds the earlier copy) and programs that compare a directory's
// identity before and after work in it fail: GNU tar's "Directory renamed
// before its status could be extracted", fts's "changed during traversal".
// A mount has no such problem: it presents inodecalc numbers.
//
// Pins are keyed by the branch path (indexes change when branches are
// added or removed at runtime) and checked lazily: a pin whose branch no
// longer holds a directory at rel is replaced by the search policy's
// answer. Stale pins cost nothing but memory, which is bounded.
type dirPins struct {
	on atomic.Bool
	m  sync.Map // rel → branch path
	n  atomic.Int64
}

// KeepDirIdentity makes the pool report a directory from the branch it was
// first reported from while a directory exists there (see dirPins), in
// Getattr and in Open. For front ends that show real st_dev/st_ino.
func (p *Pool) KeepDirIdentity() { p.pins.on.Store(true) }

// maxDirPins bounds the map; past it the map starts over (a directory
// cloned after that may change identity once, as it would without pins).
const maxDirPins = 1 << 17

// pinDir applies the pin of directory rel whose search result is branch
// first with stat st: it records first when rel has no pin, and otherwise
// returns the pinned branch's index and stat when that still holds a
// directory. Runs as the caller (inside asCaller).
func (s *state) pinDir(rel string, first int) (int, unix.Stat_t, bool) {
	pins := &s.pool.pins
	fp := s.branches[first].path
	v, ok := pins.m.Load(rel)
	if ok && v.(string) == fp {
		return 0, unix.Stat_t{}, false
	}
	if ok {
		if j := s.branchIndex(v.(string)); j >= 0 {
			if st, e := s.branches[j].lstat(rel); e == 0 && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				return j, st, true
			}
		}
	} else if pins.n.Add(1) > maxDirPins {
		pins.m.Clear()
		pins.n.Store(1)
	}
	pins.m.Store(rel, fp)
	return 0, unix.Stat_t{}, false
}

// pinnedOpen opens directory rel on its pinned branch when that is not
// branch first (the search policy's answer). ok=false: open as usual.
func (s *state) pinnedOpen(rel string, first int, flags int) (fd, branch int, ok bool) {
	v, found := s.pool.pins.m.Load(rel)
	if !found || v.(string) == s.branches[first].path {
		return -1, -1, false
	}
	j := s.branchIndex(v.(string))
	if j < 0 {
		return -1, -1, false
	}
	fd, e := s.branches[j].openPath(rel, flags|unix.O_DIRECTORY, 0)
	if e != 0 {
		return -1, -1, false
	}
	return fd, j, true
}

func (s *state) branchIndex(path string) int {
	for i, b := range s.branches {
		if b.path == path {
			return i
		}
	}
	return -1
}
