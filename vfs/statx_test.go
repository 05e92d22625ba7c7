package vfs

import (
	"context"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStatxOn: StatxOn gives the branch object's own statx (birth time
// included), for the root, top-level and deeper names, before and after the
// parent is remembered, and does not follow a trailing symlink.
func TestStatxOn(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, nil, []string{"x"}, []string{"d/f=1", "top=2", "d/l -> f"})
	for round := 0; round < 2; round++ { // the second round runs below a remembered d
		for _, rel := range []string{"", "top", "d", "d/f", "d/l"} {
			var got, want unix.Statx_t
			if e := p.StatxOn(ctx, RootCred, rel, 1, 0, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &got); e != 0 {
				t.Fatalf("%q: %v", rel, e)
			}
			must(t, unix.Statx(unix.AT_FDCWD, filepath.Join(dirs[1], rel), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &want))
			if got.Ino != want.Ino || got.Mode != want.Mode || got.Btime != want.Btime || got.Mask != want.Mask {
				t.Fatalf("round %d %q: got ino %d mode %o btime %v mask %x, want %d %o %v %x", round, rel,
					got.Ino, got.Mode, got.Btime, got.Mask, want.Ino, want.Mode, want.Btime, want.Mask)
			}
		}
		if _, e := p.Getattr(ctx, RootCred, "d/f"); e != 0 {
			t.Fatal(e)
		}
	}
	var stx unix.Statx_t
	if e := p.StatxOn(ctx, RootCred, "d/f", 0, 0, unix.STATX_BASIC_STATS, &stx); e != unix.ENOENT {
		t.Fatalf("statx of a name missing on that branch: %v", e)
	}
}

// TestGetattrStatx: the Attr is Getattr's for every shape (deep, top-level,
// directory, symlink, missing, root, control file, below an unremembered
// parent, with follow-symlinks), and when it says filled the statx is the
// branch object's own (same as StatxOn), its basic fields what lstat gives.
func TestGetattrStatx(t *testing.T) {
	ctx := context.Background()
	for _, opts := range [][]string{nil, {"follow-symlinks=all"}} {
		p, _ := newTestPool(t, opts, []string{"x"}, []string{"d/", "e/"}, []string{"d/f=1", "top=2", "d/l -> f", "e/g=3"})
		for round := 0; round < 2; round++ {
			for _, rel := range []string{"d/f", "top", "d", "d/l", "d/none", "none/x", "", ControlFile, "e/g"} {
				want, we := p.Getattr(ctx, RootCred, rel)
				var stx unix.Statx_t
				got, filled, ge := p.GetattrStatx(ctx, RootCred, rel, 0, unix.STATX_MODE, &stx)
				if rel == ControlFile { // its times are "now"
					got.Stat.Atim, got.Stat.Mtim, got.Stat.Ctim = want.Stat.Atim, want.Stat.Mtim, want.Stat.Ctim
				}
				if ge != we || got != want {
					t.Fatalf("%v %q: GetattrStatx = %+v %v, Getattr = %+v %v", opts, rel, got, ge, want, we)
				}
				if !filled {
					if we == 0 && rel != "" && rel != ControlFile && !(opts != nil && rel == "d/l") {
						t.Errorf("%v %q: not filled", opts, rel)
					}
					continue
				}
				var on unix.Statx_t
				if e := p.StatxOn(ctx, RootCred, rel, got.Branch, 0, unix.STATX_BASIC_STATS, &on); e != 0 {
					t.Fatal(e)
				}
				if stx.Ino != on.Ino || stx.Mode != on.Mode || stx.Size != on.Size || stx.Btime != on.Btime || stx.Mtime != on.Mtime {
					t.Errorf("%v %q: statx %+v, the branch object's %+v", opts, rel, stx, on)
				}
				if st := statFromStatx(&stx); st != got.Stat {
					t.Errorf("%v %q: statFromStatx = %+v, lstat %+v", opts, rel, st, got.Stat)
				}
			}
			p.state().forgetRealDirs() // the first round remembered d and e
		}
	}
}
