package fusemode

import (
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// node is what one FUSE node id stands for: a name in a parent directory of
// the union, and the identity of the file found there when the node was made.
type node struct {
	parent *node
	name   string
	id     uint64
	// nlookup counts the entries replied for this node that the kernel has
	// not forgotten yet.
	nlookup uint64
	// mode is the file type (S_IFMT) the kernel was told; a FUSE inode must
	// never change type, the kernel marks it bad if it does.
	mode uint32
	// dev and ino are the branch file's own st_dev/st_ino (non-directories
	// only): a different file found under the same name gets a new node.
	dev, ino uint64
	// detached: the name no longer leads to this node (unlinked, renamed
	// over, replaced). Its path is then meaningless.
	detached bool
	// kids counts the names in the table under this directory node. A
	// node the kernel has forgotten stays while it has kids, so their paths
	// (computed through it) stay right (NFS export can forget a directory
	// whose children it still holds).
	kids int
	// fhs are the open file handles of the node, used to stat and change an
	// unlinked (detached) open file.
	fhs []uint64
	// cacheMtime and cacheSize are the attributes seen at the last open, for
	// cache.files=auto-full.
	cacheMtime unix.Timespec
	cacheSize  int64
	// plusHint (directories): the last listing of this directory was
	// stat-ed as it went (ls -l), so the next one's first READDIRPLUS
	// batch carries lookups (dir.go).
	plusHint atomic.Bool
	// fresh is when (UnixNano) the entry and attributes of the node's last
	// entry reply expire in the kernel's caches: until then a READDIRPLUS
	// need not stat it again (dir.go), and an xattr read goes to branch,
	// where that reply's lookup found it (GetXAttr).
	fresh  atomic.Int64
	branch atomic.Int32
}

type childKey struct {
	parent uint64
	name   string
}

// nodeTable maps node ids to nodes and (parent id, name) to the node the name
// currently leads to. One RWMutex guards all of it; it is never held across a
// call into the pool.
type nodeTable struct {
	mu     sync.RWMutex
	byID   map[uint64]*node
	byName map[childKey]*node
	next   uint64
	root   *node
	// remember (never-forget-nodes) keeps a forgotten node while its name
	// still leads to it, so NFS file handles naming it stay valid; it goes
	// once unlinked, renamed over or replaced. go-fuse's own RememberInodes
	// misses BATCH_FORGET, so the table does it.
	remember bool
}

func newNodeTable(remember bool) *nodeTable {
	root := &node{id: 1, mode: unix.S_IFDIR, nlookup: 1}
	return &nodeTable{
		byID:     map[uint64]*node{1: root},
		byName:   map[childKey]*node{},
		next:     2,
		root:     root,
		remember: remember,
	}
}

// pathLocked returns the union path of n and whether it is still valid (no
// detached node on the way to the root). Preconditions: t.mu held.
func (t *nodeTable) pathLocked(n *node) (string, bool) {
	if n.parent == nil {
		return "", !n.detached
	}
	depth := 0
	for p := n; p.parent != nil; p = p.parent {
		if p.detached {
			return "", false
		}
		depth++
	}
	if depth == 1 {
		return n.name, true
	}
	parts := make([]string, depth)
	i := depth
	for p := n; p.parent != nil; p = p.parent {
		i--
		parts[i] = p.name
	}
	return strings.Join(parts, "/"), true
}

// get returns the node for id with its union path. ok is false when the path
// is no longer valid; n is nil for an unknown id (e.g. an NFS file handle of
// a forgotten node).
func (t *nodeTable) get(id uint64) (n *node, rel string, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n = t.byID[id]
	if n == nil {
		return nil, "", false
	}
	rel, ok = t.pathLocked(n)
	return n, rel, ok
}

// dot resolves "." (n itself) and ".." (its parent; the root's parent is
// the root) with the path of the result.
func (t *nodeTable) dot(n *node, name string) (*node, string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	target := n
	if name == ".." && n.parent != nil {
		target = n.parent
	}
	rel, ok := t.pathLocked(target)
	return target, rel, ok
}

// childPath returns the union path of name inside directory id.
func (t *nodeTable) childPath(id uint64, name string) (*node, string, bool) {
	n, rel, ok := t.get(id)
	if n == nil || !ok {
		return n, "", ok
	}
	return n, join(rel, name), true
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// sameFile reports whether a lookup result a is still the file n stands for.
// Directories are one union object across branches, so only their type must
// match; other files must be the same branch file.
func (n *node) sameFile(a *vfs.Attr) bool {
	m := a.Stat.Mode & unix.S_IFMT
	if m != n.mode {
		return false
	}
	if m == unix.S_IFDIR {
		return true
	}
	return n.dev == a.Stat.Dev && n.ino == a.Stat.Ino
}

// putNameLocked and delNameLocked change the name index and keep the kids
// counts. Preconditions: t.mu held.
func (t *nodeTable) putNameLocked(k childKey, c *node) {
	if old := t.byName[k]; old != nil {
		t.delNameLocked(k)
		old.detached = true
	}
	t.byName[k] = c
	c.parent.kids++
}

func (t *nodeTable) delNameLocked(k childKey) {
	c := t.byName[k]
	if c == nil {
		return
	}
	delete(t.byName, k)
	p := c.parent
	p.kids--
	t.reapLocked(p)
}

// reapLocked drops n from the id index once the kernel has forgotten it and
// no name in the table hangs below it. Preconditions: t.mu held.
func (t *nodeTable) reapLocked(n *node) {
	if n == t.root || n.nlookup > 0 || n.kids > 0 || t.remember && !n.detached {
		return
	}
	if t.byID[n.id] == n {
		delete(t.byID, n.id)
	}
	if !n.detached && n.parent != nil {
		k := childKey{n.parent.id, n.name}
		if t.byName[k] == n {
			n.detached = true
			t.delNameLocked(k)
		}
	}
}

// enter records a positive lookup of name in parent with result a and returns
// the node to reply with, its lookup count raised by one. An existing node is
// reused only for the same file; otherwise it is detached (it lives on for
// open files until the kernel forgets it) and a fresh node takes the name.
func (t *nodeTable) enter(parent *node, name string, a *vfs.Attr) *node {
	k := childKey{parent.id, name}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byName[k]; c != nil {
		if c.sameFile(a) {
			c.nlookup++
			if t.byID[c.id] == nil {
				t.byID[c.id] = c
			}
			return c
		}
		t.delNameLocked(k)
		c.detached = true
		t.reapLocked(c)
	}
	c := &node{
		parent:  parent,
		name:    name,
		id:      t.next,
		nlookup: 1,
		mode:    a.Stat.Mode & unix.S_IFMT,
	}
	if c.mode != unix.S_IFDIR {
		c.dev, c.ino = a.Stat.Dev, a.Stat.Ino
	}
	t.next++
	t.byID[c.id] = c
	t.putNameLocked(k, c)
	return c
}

// child returns the node name in directory parent leads to now, or nil.
func (t *nodeTable) child(parent uint64, name string) *node {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byName[childKey{parent, name}]
}

// ref raises the lookup count of n for a "." or ".." reply and makes sure
// the id is known again (a forgotten directory kept for its kids).
func (t *nodeTable) ref(n *node) {
	t.mu.Lock()
	n.nlookup++
	t.byID[n.id] = n
	t.mu.Unlock()
}

// forget lowers the lookup count of id by n and drops the node at zero.
func (t *nodeTable) forget(id, n uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byID[id]
	if c == nil || c == t.root {
		return
	}
	if n < c.nlookup {
		c.nlookup -= n
		return
	}
	c.nlookup = 0
	t.reapLocked(c)
}

// unlink forgets that name in parent leads anywhere (unlink, rmdir).
func (t *nodeTable) unlink(parent uint64, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := childKey{parent, name}
	if c := t.byName[k]; c != nil {
		t.delNameLocked(k)
		c.detached = true
		t.reapLocked(c)
	}
}

// rename moves the name (op, on) to (np, nn) as a successful rename(2) did;
// with exchange the two names trade places.
func (t *nodeTable) rename(op uint64, on string, np uint64, nn string, exchange bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ok, nk := childKey{op, on}, childKey{np, nn}
	src, dst := t.byName[ok], t.byName[nk]
	oldParent, newParent := t.parentLocked(op, src), t.parentLocked(np, dst)
	// Hold both parents while names move so neither is reaped midway.
	for _, p := range []*node{oldParent, newParent} {
		if p != nil {
			p.kids++
		}
	}
	t.delNameLocked(ok)
	t.delNameLocked(nk)
	if dst != nil {
		dst.detached = true
		if exchange && oldParent != nil {
			dst.parent, dst.name, dst.detached = oldParent, on, false
			t.putNameLocked(ok, dst)
		}
	}
	if src != nil {
		src.detached = true
		if newParent != nil {
			src.parent, src.name, src.detached = newParent, nn, false
			t.putNameLocked(nk, src)
		}
	}
	for _, p := range []*node{oldParent, newParent} {
		if p != nil {
			p.kids--
		}
	}
	for _, n := range []*node{dst, src, oldParent, newParent} {
		if n != nil {
			t.reapLocked(n)
		}
	}
}

// parentLocked finds directory node id, by the id index or through a child
// that names it. Preconditions: t.mu held.
func (t *nodeTable) parentLocked(id uint64, child *node) *node {
	if p := t.byID[id]; p != nil {
		return p
	}
	if child != nil && child.parent != nil && child.parent.id == id {
		return child.parent
	}
	return nil
}

// addHandle and dropHandle keep the open handles of a node.
func (t *nodeTable) addHandle(n *node, fh uint64) {
	t.mu.Lock()
	n.fhs = append(n.fhs, fh)
	t.mu.Unlock()
}

func (t *nodeTable) dropHandle(n *node, fh uint64) {
	t.mu.Lock()
	for i, h := range n.fhs {
		if h == fh {
			n.fhs[i] = n.fhs[len(n.fhs)-1]
			n.fhs = n.fhs[:len(n.fhs)-1]
			break
		}
	}
	if len(n.fhs) == 0 {
		n.fhs = nil
	}
	t.mu.Unlock()
}

// anyHandle returns one open handle of n, or 0.
func (t *nodeTable) anyHandle(n *node) uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(n.fhs) == 0 {
		return 0
	}
	return n.fhs[0]
}

// autoCache reports whether the page cache of n may be kept for an open
// that sees attributes a (cache.files=auto-full: unchanged mtime and size),
// and remembers a for the next open.
func (t *nodeTable) autoCache(n *node, a *vfs.Attr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := n.cacheMtime == a.Stat.Mtim && n.cacheSize == a.Stat.Size && (n.cacheMtime != unix.Timespec{})
	n.cacheMtime, n.cacheSize = a.Stat.Mtim, a.Stat.Size
	return keep
}

// count returns the number of live nodes (root included), for tests.
func (t *nodeTable) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byID)
}
