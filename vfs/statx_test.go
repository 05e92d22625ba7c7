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
