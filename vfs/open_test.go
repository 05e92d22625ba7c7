package vfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLinkCOW(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, []string{"link-cow=true"}, []string{"a=shared"})
	must(t, os.Link(filepath.Join(dirs[0], "a"), filepath.Join(dirs[0], "b")))
	f, e := p.Open(ctx, RootCred, "a", unix.O_WRONLY|unix.O_TRUNC)
	if e != 0 {
		t.Fatal(e)
	}
	f.WriteAt([]byte("private"), 0)
	f.Close()
	b, _ := os.ReadFile(filepath.Join(dirs[0], "b"))
	a, _ := os.ReadFile(filepath.Join(dirs[0], "a"))
	if string(b) != "shared" || string(a) != "private" {
		t.Fatalf("a=%q b=%q; want the write to stay private to a", a, b)
	}
	// Without link-cow the write shows through the other name.
	p2, dirs2 := newTestPool(t, nil, []string{"a=shared"})
	must(t, os.Link(filepath.Join(dirs2[0], "a"), filepath.Join(dirs2[0], "b")))
	f, e = p2.Open(ctx, RootCred, "a", unix.O_WRONLY)
	if e != 0 {
		t.Fatal(e)
	}
	f.WriteAt([]byte("SH"), 0)
	f.Close()
	if b, _ := os.ReadFile(filepath.Join(dirs2[0], "b")); string(b) != "SHared" {
		t.Fatalf("b=%q", b)
	}
}

func TestNFSOpenHack(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	for _, tc := range []struct {
		opt  string
		path string
		want unix.Errno
	}{
		{"nfsopenhack=off", "repo/.git/lock", unix.EACCES},
		{"nfsopenhack=git", "repo/.git/lock", 0},
		{"nfsopenhack=git", "repo/lock", unix.EACCES},
		{"nfsopenhack=all", "repo/lock", 0},
	} {
		t.Run(tc.opt+"/"+tc.path, func(t *testing.T) {
			p, dirs := newTestPool(t, []string{tc.opt}, []string{tc.path})
			openTree(t, dirs...)
			fp := filepath.Join(dirs[0], tc.path)
			must(t, os.Chown(filepath.Dir(fp), 65534, 65534))
			must(t, os.Chown(fp, 65534, 65534))
			must(t, os.Chmod(fp, 0o444))
			f, e := p.Open(ctx, nobody, tc.path, unix.O_WRONLY)
			if e == 0 {
				f.Close()
			}
			if e != tc.want {
				t.Fatalf("open for write: %v, want %v", e, tc.want)
			}
			fi, _ := os.Stat(fp)
			if fi.Mode().Perm() != 0o444 {
				t.Fatalf("mode left at %o", fi.Mode().Perm())
			}
		})
	}
}

func TestExplain(t *testing.T) {
	p, _ := newTestPool(t, []string{"category.create=epmfs", "func.getattr=newest"},
		[]string{"d/", "d/f"},
		[]string{"x/"},
		[]string{"d/"},
	)
	exps := p.Explain("d/new")
	byFunc := map[string]Explanation{}
	for _, e := range exps {
		byFunc[e.Func] = e
	}
	c := byFunc["create"]
	if c.Path != "/d" || len(c.Chosen) != 1 || c.Chosen[0] != 2 {
		t.Fatalf("create: %+v", c)
	}
	if c.Branches[1].Reason != "path does not exist" || c.Branches[0].Reason != "not chosen" {
		t.Fatalf("reasons: %q %q", c.Branches[0].Reason, c.Branches[1].Reason)
	}
	if g := byFunc["getattr"]; g.Errno == "" || g.Policy != "newest" {
		t.Fatalf("getattr of a missing file: %+v", g)
	}
	if len(exps) != 20 {
		t.Fatalf("%d explanations, want one per function (20)", len(exps))
	}
}

func TestReopenAndFdXattrs(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, nil, []string{"f=data"}, []string{"f=other"})
	f, e := p.Open(ctx, RootCred, "f", unix.O_RDWR)
	if e != 0 {
		t.Fatal(e)
	}
	defer f.Close()
	must(t, os.Remove(filepath.Join(dirs[0], "f"))) // unlinked but open
	g, e := f.Reopen(ctx, RootCred, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	if e != 0 {
		t.Fatal("reopen of an unlinked open file:", e)
	}
	defer g.Close()
	buf := make([]byte, 8)
	n, _ := g.ReadAt(buf, 0)
	if string(buf[:n]) != "data" || g.Branch() != 0 {
		t.Fatalf("reopened file reads %q on branch %d, want the same inode's \"data\" on 0", buf[:n], g.Branch())
	}
	if e := f.Fsetxattr(ctx, RootCred, "user.k", []byte("v"), 0); e != 0 {
		t.Fatal(e)
	}
	n, e = g.Fgetxattr(ctx, RootCred, "user.k", buf)
	if e != 0 || string(buf[:n]) != "v" {
		t.Fatalf("fgetxattr = %q %v", buf[:n], e)
	}
	if n, e := f.Flistxattr(ctx, RootCred, nil); e != 0 || n == 0 {
		t.Fatal(n, e)
	}
	if e := f.Fremovexattr(ctx, RootCred, "user.k"); e != 0 {
		t.Fatal(e)
	}
	if _, e := g.Fgetxattr(ctx, RootCred, "user.k", buf); e != unix.ENODATA {
		t.Fatalf("after removexattr: %v", e)
	}
}

// TestOpenFound: OpenFound opens on the branch Getattr reported when
// func.open is func.getattr's policy, searches again when they differ, and
// falls back to Open when the file left that branch.
func TestOpenFound(t *testing.T) {
	ctx := context.Background()
	read := func(f *File) string {
		t.Helper()
		buf := make([]byte, 16)
		n, e := f.ReadAt(buf, 0)
		if e != 0 && n == 0 {
			t.Fatal(e)
		}
		f.Close()
		return string(buf[:n])
	}
	p, dirs := newTestPool(t, nil, []string{"f=zero"}, []string{"f=one"})
	f, e := p.OpenFound(ctx, RootCred, "f", Attr{Branch: 1}, unix.O_RDONLY)
	if e != 0 || f.Branch() != 1 || read(f) != "one" {
		t.Fatalf("OpenFound on branch 1: %v", e)
	}
	must(t, os.Remove(filepath.Join(dirs[1], "f")))
	if f, e = p.OpenFound(ctx, RootCred, "f", Attr{Branch: 1}, unix.O_RDONLY); e != 0 || read(f) != "zero" {
		t.Fatalf("OpenFound after the file left branch 1: %v", e)
	}
	p2, _ := newTestPool(t, []string{"func.open=ff", "func.getattr=newest"}, []string{"f=zero"}, []string{"f=one"})
	if f, e = p2.OpenFound(ctx, RootCred, "f", Attr{Branch: 1}, unix.O_RDONLY); e != 0 || read(f) != "zero" {
		t.Fatalf("OpenFound with func.open != func.getattr must search with func.open (ff): %v", e)
	}
}
