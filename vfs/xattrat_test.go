package vfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestXattrKnownMatchesPathFd: the getxattrat/listxattrat shortcut gives
// what the O_PATH + /proc/self/fd way gives, for values, missing names,
// short buffers, size queries, symlinks (not followed) and top-level names.
func TestXattrKnownMatchesPathFd(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, nil, []string{"x"}, []string{"d/f=1", "top=2", "d/l -> f"})
	for _, f := range []string{"d/f", "top", "", "d"} {
		must(t, unix.Setxattr(filepath.Join(dirs[1], f), "user.k", []byte("value-"+f), 0))
	}
	if _, e := p.Getattr(ctx, RootCred, "d/f"); e != 0 { // remembers d on branch 1
		t.Fatal(e)
	}
	b := p.state().branches[1]
	if _, _, ok := b.xattrKnown("d/f", "user.k", nil, false); !ok {
		if noXattrat.Load() {
			t.Skip("kernel without getxattrat (Linux < 6.13): the shortcut is off, nothing to compare")
		}
		t.Fatal("d/f below a remembered directory did not take the shortcut")
	}
	slow := func(rel, name string, buf []byte, list bool) (int, unix.Errno) {
		var n int
		e := withPathFd(b, rel, func(pp string) unix.Errno {
			var err error
			if list {
				n, err = unix.Listxattr(pp, buf)
			} else {
				n, err = unix.Getxattr(pp, name, buf)
			}
			return errnoOf(err)
		})
		return n, e
	}
	if _, _, ok := b.xattrKnown("", "user.k", nil, false); ok {
		t.Fatal("the branch root took the shortcut (its fd is O_PATH: EBADF)")
	}
	for _, rel := range []string{"d/f", "top", "d", "d/l"} {
		for _, name := range []string{"user.k", "user.missing", "security.selinux"} {
			for _, size := range []int{0, 3, 256} {
				for _, list := range []bool{false, true} {
					fb, sb := make([]byte, size), make([]byte, size)
					fn, fe, ok := b.xattrKnown(rel, name, fb, list)
					if !ok {
						t.Fatalf("%q: no shortcut", rel)
					}
					sn, se := slow(rel, name, sb, list)
					if fe != se || (fe == 0 && (fn != sn || string(fb) != string(sb))) {
						t.Errorf("%q %s size %d list %v: shortcut %d %v %q, path fd %d %v %q",
							rel, name, size, list, fn, fe, clip(fb, fn), sn, se, clip(sb, sn))
					}
				}
			}
		}
	}
	// Not below a remembered directory: no shortcut.
	must(t, os.MkdirAll(filepath.Join(dirs[1], "e"), 0o755))
	must(t, os.WriteFile(filepath.Join(dirs[1], "e/g"), nil, 0o644))
	if _, _, ok := b.xattrKnown("e/g", "user.k", nil, false); ok {
		t.Fatal("shortcut taken below a directory never walked")
	}
}

func clip(b []byte, n int) []byte { return b[:min(max(n, 0), len(b))] }
