package vfs

import (
	"strings"
	"sync"
	"time"
)

// realDirs remembers, per branch, directories that a confined walk
// (RESOLVE_NO_SYMLINKS) passed through recently, so a lookup below one of
// them can be a single fstatat instead of openat2 + fstat + close: every
// syscall costs about half a microsecond on the VMs mfs is measured on, and
// a stat under `mfs run` is a handful of them.
//
// The promise of the confined walk is that no symlink inside a branch is
// followed on the way to rel. A remembered directory keeps that promise
// until something replaces it with a symlink, which takes a rename or rmdir
// followed by a symlink or rename: vfs's own such operations forget every
// branch's set (forgetRealDirs), and the whole set expires after
// realDirsTTL, which bounds how long a change made behind mfs's back (on the
// branch directly) can go unseen.
type realDirs struct {
	mu    sync.Mutex
	since time.Time
	m     map[string]struct{}
}

const (
	realDirsTTL = time.Second
	realDirsMax = 4096
)

// known reports whether dir was verified recently.
func (r *realDirs) known(dir string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		return false
	}
	if time.Since(r.since) > realDirsTTL {
		clear(r.m)
		return false
	}
	_, ok := r.m[dir]
	return ok
}

// learn records dir as verified now.
func (r *realDirs) learn(dir string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= realDirsMax || time.Since(r.since) > realDirsTTL {
		if r.m == nil {
			r.m = make(map[string]struct{}, 64)
		}
		clear(r.m)
		r.since = time.Now()
	}
	r.m[dir] = struct{}{}
}

func (r *realDirs) forget() {
	r.mu.Lock()
	clear(r.m)
	r.mu.Unlock()
}

// forgetRealDirs drops what every branch remembers; called by operations
// that can turn a directory path into something else.
func (s *state) forgetRealDirs() {
	for _, b := range s.branches {
		b.real.forget()
	}
}

// knownBelow reports whether rel (not "") can be looked up from the root fd
// with a plain *at call: a top-level name, or a name in a remembered real
// directory, and short enough for one syscall.
func (b *branch) knownBelow(rel string) bool {
	if len(rel) > chunkMax {
		return false
	}
	i := strings.LastIndexByte(rel, '/')
	return i < 0 || b.real.known(rel[:i])
}
