package vfs

import "sync"

// dirLocks serialises the save-and-restore of a directory's times on one branch
// (clonepath) against other clonepaths into the same directory.
type dirLocks struct {
	mu sync.Mutex
	m  map[dirKey]*dirLock
}

type dirKey struct {
	branch int
	rel    string
}

type dirLock struct {
	mu   sync.Mutex
	refs int
}

func (d *dirLocks) lock(branch int, rel string) (unlock func()) {
	k := dirKey{branch, rel}
	d.mu.Lock()
	if d.m == nil {
		d.m = map[dirKey]*dirLock{}
	}
	l := d.m[k]
	if l == nil {
		l = &dirLock{}
		d.m[k] = l
	}
	l.refs++
	d.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		d.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(d.m, k)
		}
		d.mu.Unlock()
	}
}
