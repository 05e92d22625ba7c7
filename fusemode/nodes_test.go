package fusemode

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

func fileAttr(ino uint64) *vfs.Attr {
	var a vfs.Attr
	a.Stat.Mode = unix.S_IFREG | 0o644
	a.Stat.Dev, a.Stat.Ino = 1, ino
	return &a
}

func dirAttr(ino uint64) *vfs.Attr {
	var a vfs.Attr
	a.Stat.Mode = unix.S_IFDIR | 0o755
	a.Stat.Dev, a.Stat.Ino = 1, ino
	return &a
}

func pathOf(t *testing.T, nt *nodeTable, n *node) string {
	t.Helper()
	_, rel, ok := nt.get(n.id)
	if !ok {
		return "<stale>"
	}
	return rel
}

func TestNodeTable(t *testing.T) {
	nt := newNodeTable(false)
	d := nt.enter(nt.root, "d", dirAttr(10))
	f := nt.enter(d, "f", fileAttr(11))
	if got := pathOf(t, nt, f); got != "d/f" {
		t.Fatalf("path %q", got)
	}
	// Same file again: same node, one more lookup.
	if again := nt.enter(d, "f", fileAttr(11)); again != f || f.nlookup != 2 {
		t.Errorf("re-lookup gave node %d nlookup %d", again.id, f.nlookup)
	}
	// A different branch file under the same name gets its own node.
	g := nt.enter(d, "f", fileAttr(99))
	if g == f || !f.detached || pathOf(t, nt, f) != "<stale>" || pathOf(t, nt, g) != "d/f" {
		t.Errorf("replacement shares node or old node not detached")
	}
	// A directory stays one node across branches (type decides), but not a type change.
	if nt.enter(nt.root, "d", dirAttr(77)) != d {
		t.Errorf("directory node changed with its branch inode")
	}
	// Rename of the directory moves its children's paths.
	nt.rename(1, "d", 1, "e", false)
	if got := pathOf(t, nt, g); got != "e/f" {
		t.Errorf("after rename: %q", got)
	}
	// Exchange.
	x := nt.enter(nt.root, "x", fileAttr(20))
	y := nt.enter(nt.root, "y", fileAttr(21))
	nt.rename(1, "x", 1, "y", true)
	if pathOf(t, nt, x) != "y" || pathOf(t, nt, y) != "x" {
		t.Errorf("exchange: x at %q, y at %q", pathOf(t, nt, x), pathOf(t, nt, y))
	}
	// Rename over an existing name detaches the target.
	nt.rename(1, "x", 1, "y", false)
	if pathOf(t, nt, y) != "y" || !x.detached {
		t.Errorf("rename over: y at %q, x detached %v", pathOf(t, nt, y), x.detached)
	}
	// A forgotten directory with a remembered child stays for the child's path.
	nt.forget(d.id, d.nlookup)
	if got := pathOf(t, nt, g); got != "e/f" {
		t.Errorf("child path after its parent was forgotten: %q", got)
	}
	nt.forget(g.id, g.nlookup)
	nt.forget(f.id, f.nlookup)
	if nt.byID[d.id] != nil || nt.byID[g.id] != nil || nt.byID[f.id] != nil {
		t.Errorf("nodes not dropped after their last forget")
	}
	nt.forget(x.id, x.nlookup)
	nt.unlink(1, "y")
	nt.forget(y.id, y.nlookup)
	if nt.count() != 1 || len(nt.byName) != 0 || nt.root.kids != 0 {
		t.Errorf("table not empty: %d nodes, %d names, root kids %d", nt.count(), len(nt.byName), nt.root.kids)
	}
}

func TestNodeTableRemember(t *testing.T) {
	nt := newNodeTable(true)
	f := nt.enter(nt.root, "f", fileAttr(1))
	nt.forget(f.id, 1)
	if n, rel, ok := nt.get(f.id); n != f || !ok || rel != "f" {
		t.Errorf("never-forget: node gone after forget")
	}
	if again := nt.enter(nt.root, "f", fileAttr(1)); again != f {
		t.Errorf("never-forget: lookup made a new node")
	}
	nt.forget(f.id, 1)
	nt.unlink(1, "f")
	if n, _, _ := nt.get(f.id); n != nil {
		t.Errorf("never-forget: unlinked, forgotten node still there")
	}
}
