package vfs

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// layout creates files described by lines under dir: "d/" a directory,
// "f" an empty file, "f=text" a file with content, "a -> b" a symlink.
func layout(t *testing.T, dir string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		switch {
		case strings.Contains(l, " -> "):
			parts := strings.SplitN(l, " -> ", 2)
			p := filepath.Join(dir, parts[0])
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.Symlink(parts[1], p))
		case strings.HasSuffix(l, "/"):
			must(t, os.MkdirAll(filepath.Join(dir, l), 0o755))
		default:
			name, content, _ := strings.Cut(l, "=")
			p := filepath.Join(dir, name)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, []byte(content), 0o644))
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newTestPool makes n branch dirs with the given layouts and a pool over them.
func newTestPool(t *testing.T, opts []string, layouts ...[]string) (*Pool, []string) {
	t.Helper()
	root := t.TempDir()
	var dirs []string
	for i, l := range layouts {
		d := filepath.Join(root, "b"+string(rune('0'+i)))
		must(t, os.MkdirAll(d, 0o755))
		layout(t, d, l...)
		dirs = append(dirs, d)
	}
	// "=RW" keeps test names containing '=' (subtest names) from reading as a mode.
	o, err := config.Parse(append([]string{"branches=" + strings.Join(dirs, "=RW:") + "=RW", "minfreespace=1M"}, opts...))
	must(t, err)
	p, err := New(o, Settings{RandN: func(n uint64) uint64 { return 0 }})
	must(t, err)
	t.Cleanup(func() { p.Close() })
	return p, dirs
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, []string{"category.create=ff"},
		[]string{"a/", "a/x=one", "same=b0"},
		[]string{"a/", "a/y=two", "same=b1", "only1/z=3"},
	)
	a, e := p.Getattr(ctx, RootCred, "a/y")
	if e != 0 || a.Branch != 1 || a.Stat.Size != 3 {
		t.Fatalf("getattr a/y = %+v %v", a, e)
	}
	ents, e := p.Readdir(ctx, RootCred, "")
	if e != 0 {
		t.Fatal(e)
	}
	var names []string
	for _, d := range ents {
		names = append(names, d.Name)
	}
	sort.Strings(names[2:])
	if got := strings.Join(names, ","); got != ".,..,a,only1,same" {
		t.Fatalf("readdir = %s", got)
	}
	// ff create on a parent that exists only on branch 1 clones it to branch 0.
	f, e := p.Create(ctx, RootCred, "only1/new", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if !exists(filepath.Join(dirs[0], "only1/new")) {
		t.Fatal("ff create did not land on branch 0")
	}
	if e := p.Unlink(ctx, RootCred, "same"); e != 0 {
		t.Fatal(e)
	}
	if exists(filepath.Join(dirs[0], "same")) || exists(filepath.Join(dirs[1], "same")) {
		t.Fatal("epall unlink left a copy")
	}
	if e := p.Rename(ctx, RootCred, "a/x", "a/y", 0); e != 0 {
		t.Fatal(e)
	}
	if exists(filepath.Join(dirs[1], "a/y")) {
		t.Fatal("rename left the target on the other branch")
	}
	n, e := p.Getxattr(ctx, RootCred, ".mergerfs", "user.mergerfs.category.create", nil)
	if e != 0 || n != 2 {
		t.Fatalf("control getxattr size = %d %v", n, e)
	}
	if e := p.Setxattr(ctx, RootCred, ".mergerfs", "user.mergerfs.category.create", []byte("mfs"), 0); e != 0 {
		t.Fatal(e)
	}
	buf := make([]byte, 64)
	n, e = p.Getxattr(ctx, RootCred, ".mergerfs", "user.mergerfs.func.create", buf)
	if e != 0 || string(buf[:n]) != "mfs" {
		t.Fatalf("func.create = %q %v", buf[:n], e)
	}
	n, e = p.Getxattr(ctx, RootCred, "a/y", "user.mergerfs.allpaths", buf[:0])
	if e != 0 || n == 0 {
		t.Fatal(n, e)
	}
}

func parseOpts(t *testing.T, items ...string) *config.Options {
	t.Helper()
	o, err := config.Parse(items)
	must(t, err)
	return o
}

type configOptions = config.Options

var parseConfig = config.Parse

func TestCreateExisting(t *testing.T) {
	ctx := context.Background()
	// lfs ties go to the last branch; the name exists on the first.
	p, dirs := newTestPool(t, []string{"category.create=lfs"}, []string{"d/", "d/f=old", "d/sub/"}, []string{"d/"})
	if _, e := p.Create(ctx, RootCred, "d/f", unix.O_WRONLY|unix.O_EXCL, 0o644); e != unix.EEXIST {
		t.Fatalf("O_EXCL on an existing name: %v", e)
	}
	f, e := p.Create(ctx, RootCred, "d/f", unix.O_WRONLY|unix.O_TRUNC, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if exists(filepath.Join(dirs[1], "d/f")) {
		t.Fatal("O_CREAT on an existing name made a second copy")
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "d/f")); len(b) != 0 {
		t.Fatal("O_TRUNC did not truncate the existing copy")
	}
	for _, op := range []func() unix.Errno{
		func() unix.Errno { return p.Mkdir(ctx, RootCred, "d/sub", 0o755) },
		func() unix.Errno { return p.Symlink(ctx, RootCred, "x", "d/f") },
		func() unix.Errno { return p.Mknod(ctx, RootCred, "d/f", unix.S_IFIFO|0o644, 0) },
	} {
		if e := op(); e != unix.EEXIST {
			t.Fatalf("create over an existing name: %v, want EEXIST", e)
		}
	}
	if exists(filepath.Join(dirs[1], "d/sub")) {
		t.Fatal("mkdir of an existing dir made a copy on another branch")
	}
}

// CreateAbsent trusts the caller's lookup: it creates where the policy says
// without looking the name up. What it can meet is only a name that appeared
// behind the union's back: on the branch the policy picks it is opened
// (EEXIST with O_EXCL), elsewhere it is shadowed, as mergerfs does.
func TestCreateAbsent(t *testing.T) {
	ctx := context.Background()
	// lfs ties go to the last branch: dirs[1] is the one the policy picks.
	p, dirs := newTestPool(t, []string{"category.create=lfs"}, []string{"d/", "d/other=b0"}, []string{"d/", "d/here=b1"})
	f, e := p.CreateAbsent(ctx, RootCred, "d/new", unix.O_WRONLY|unix.O_EXCL, 0o640)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if st, err := os.Stat(filepath.Join(dirs[1], "d/new")); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("new file on the policy's branch: %v %v", st, err)
	}
	if _, e := p.CreateAbsent(ctx, RootCred, "d/here", unix.O_WRONLY|unix.O_EXCL, 0o644); e != unix.EEXIST {
		t.Errorf("O_EXCL over a name on the picked branch: %v, want EEXIST", e)
	}
	f, e = p.CreateAbsent(ctx, RootCred, "d/here", unix.O_WRONLY|unix.O_TRUNC, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if b, _ := os.ReadFile(filepath.Join(dirs[1], "d/here")); len(b) != 0 {
		t.Errorf("O_TRUNC over a name on the picked branch left %q", b)
	}
	// Create looks first and opens the existing copy on branch 0;
	// CreateAbsent, told the name is absent, makes one on branch 1.
	f, e = p.Create(ctx, RootCred, "d/other", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if exists(filepath.Join(dirs[1], "d/other")) {
		t.Fatal("Create made a second copy of an existing name")
	}
	f, e = p.CreateAbsent(ctx, RootCred, "d/other", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	if !exists(filepath.Join(dirs[1], "d/other")) {
		t.Error("CreateAbsent looked the name up after all")
	}
	if _, e := p.CreateAbsent(ctx, RootCred, ControlFile, unix.O_WRONLY, 0o644); e != unix.EEXIST {
		t.Errorf("CreateAbsent of the control file: %v, want EEXIST", e)
	}
}

// TestOpenIgnoresKernelFlags: FUSE forwards kernel-internal open flags (an
// execve opens with __FMODE_EXEC, 0x20); they must not make the open fail.
func TestOpenIgnoresKernelFlags(t *testing.T) {
	p, _ := newTestPool(t, nil, []string{"prog=#!/bin/sh"})
	f, e := p.Open(context.Background(), RootCred, "prog", unix.O_RDONLY|unix.O_LARGEFILE|0x20)
	if e != 0 {
		t.Fatalf("open with __FMODE_EXEC: %v", e)
	}
	f.Close()
}

// TestDeepPaths: union paths whose branch path would exceed PATH_MAX work,
// because every walk starts at the branch root fd and long paths are walked
// in chunks (mergerfs concatenates strings and fails here).
func TestDeepPaths(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, []string{"category.create=ff"}, []string{}, []string{})
	comp := strings.Repeat("d", 200)
	rel := ""
	for i := 0; i < 25; i++ { // about 5,000 bytes
		if rel != "" {
			rel += "/"
		}
		rel += comp
		if e := p.Mkdir(ctx, RootCred, rel, 0o755); e != 0 {
			t.Fatalf("mkdir at depth %d (%d bytes): %v", i, len(rel), e)
		}
	}
	if len(dirs[0])+len(rel) <= unix.PathMax {
		t.Fatal("the test path is not deep enough")
	}
	f, e := p.Create(ctx, RootCred, rel+"/f", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	f.WriteAt([]byte("deep"), 0)
	f.Close()
	a, e := p.Getattr(ctx, RootCred, rel+"/f")
	if e != 0 || a.Stat.Size != 4 {
		t.Fatalf("getattr of the deep file: %v size %d", e, a.Stat.Size)
	}
	ents, e := p.Readdir(ctx, RootCred, rel)
	if e != 0 || len(ents) != 3 {
		t.Fatalf("readdir of the deep dir: %v %d entries", e, len(ents))
	}
	if e := p.Rename(ctx, RootCred, rel+"/f", rel+"/g", 0); e != 0 {
		t.Fatal(e)
	}
	if e := p.Unlink(ctx, RootCred, rel+"/g"); e != 0 {
		t.Fatal(e)
	}
}

func mkdirAll(p string) error        { return os.MkdirAll(p, 0o755) }
func writeFile(p string) error       { return os.WriteFile(p, []byte("x"), 0o644) }
func symlink(target, p string) error { return os.Symlink(target, p) }
