package vfs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestGetxattrFound: the attribute is read on the branch Getattr found when
// func.getxattr is func.getattr's policy; when the file left that branch,
// or the policies differ, the search decides, as in GetxattrTyped.
func TestGetxattrFound(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts []string
		want string // the value read for the Attr from branch 1
	}{
		// getattr ff finds branch 0 first, but this Attr says branch 1 (as
		// if the copy on branch 0 appeared after the caller's stat): same
		// policy, so the attribute is read where the stat found the file.
		{[]string{"category.search=ff"}, "b1"},
		// Differing policies: func.getxattr=newest searches and picks b0.
		{[]string{"func.getxattr=newest"}, "b0"},
	} {
		t.Run(strings.Join(tc.opts, ","), func(t *testing.T) {
			p, dirs := newTestPool(t, tc.opts, []string{"d/", "d/f=zero"}, []string{"d/", "d/f=one"})
			must(t, unix.Setxattr(filepath.Join(dirs[0], "d/f"), "user.k", []byte("b0"), 0))
			must(t, unix.Setxattr(filepath.Join(dirs[1], "d/f"), "user.k", []byte("b1"), 0))
			future := time.Now().Add(time.Hour)
			must(t, os.Chtimes(filepath.Join(dirs[0], "d/f"), future, future))
			a, e := p.Getattr(ctx, RootCred, "d/f")
			if e != 0 {
				t.Fatal(e)
			}
			a.Branch = 1
			buf := make([]byte, 16)
			n, typ, e := p.GetxattrFound(ctx, RootCred, "d/f", "user.k", buf, a)
			if e != 0 || string(buf[:n]) != tc.want || typ != unix.S_IFREG {
				t.Fatalf("GetxattrFound = %q, %o, %v; want %q", buf[:n], typ, e, tc.want)
			}
			// Gone from the branch it was found on: the search decides.
			must(t, os.Remove(filepath.Join(dirs[1], "d/f")))
			n, _, e = p.GetxattrFound(ctx, RootCred, "d/f", "user.k", buf, a)
			if e != 0 || string(buf[:n]) != "b0" {
				t.Fatalf("after removal GetxattrFound = %q, %v; want b0", buf[:n], e)
			}
		})
	}
}
