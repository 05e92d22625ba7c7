package vfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkGetattr compares a union getattr (ff over 3 branches, the file on
// the last) with a native lstat of the same branch file.
func BenchmarkGetattr(b *testing.B) {
	dirs := benchBranches(b, "a/b")
	os.WriteFile(filepath.Join(dirs[2], "a/b/f"), nil, 0o644)
	o := benchOpts(b, dirs)
	p, err := New(o, Settings{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	b.Run("mode=native", func(b *testing.B) {
		b.ReportAllocs()
		var st unix.Stat_t
		path := filepath.Join(dirs[2], "a/b/f")
		for b.Loop() {
			unix.Lstat(path, &st)
		}
	})
	b.Run("mode=vfs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, e := p.Getattr(ctx, RootCred, "a/b/f"); e != 0 {
				b.Fatal(e)
			}
		}
	})
	b.Run("mode=vfs/caller=65534", func(b *testing.B) {
		b.ReportAllocs()
		c := &Cred{Uid: 65534, Gid: 65534}
		openTreeB(b, dirs)
		for b.Loop() {
			p.Getattr(ctx, c, "a/b/f")
		}
	})
}

// BenchmarkReaddirMerge lists a directory of 10,000 entries on each of 3
// branches (a third of the names shared), as one merged snapshot.
func BenchmarkReaddirMerge(b *testing.B) {
	root := b.TempDir()
	var dirs []string
	for i := 0; i < 3; i++ {
		d := filepath.Join(root, fmt.Sprint(i))
		os.MkdirAll(filepath.Join(d, "big"), 0o755)
		for j := 0; j < 10000; j++ {
			name := fmt.Sprintf("f%d-%d", i, j)
			if j%3 == 0 {
				name = fmt.Sprintf("shared-%d", j)
			}
			os.WriteFile(filepath.Join(d, "big", name), nil, 0o644)
		}
		dirs = append(dirs, d)
	}
	for _, mode := range []string{"seq", "cosr", "cor"} {
		o := benchOpts(b, dirs, "func.readdir="+mode)
		p, err := New(o, Settings{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("readdir="+mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ents, e := p.Readdir(context.Background(), RootCred, "big")
				if e != 0 || len(ents) < 20000 {
					b.Fatal(e, len(ents))
				}
			}
		})
		p.Close()
	}
}

func benchOpts(b *testing.B, dirs []string, extra ...string) *configOptions {
	b.Helper()
	items := []string{"minfreespace=1M"}
	bs := ""
	for i, d := range dirs {
		if i > 0 {
			bs += ":"
		}
		bs += d + "=RW"
	}
	o, err := parseConfig(append(append(items, "branches="+bs), extra...))
	if err != nil {
		b.Fatal(err)
	}
	return o
}

func openTreeB(b *testing.B, dirs []string) {
	for _, d := range dirs {
		for p := d; p != "/"; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&1 == 0 {
				os.Chmod(p, fi.Mode().Perm()|0o011)
			}
		}
	}
}

// BenchmarkResolve resolves raw syscall paths the way `mfs run` does: one in
// a union (three components, a relative symlink on the way) and one outside.
func BenchmarkResolve(b *testing.B) {
	dirs := benchBranches(b, "a/b")
	os.WriteFile(filepath.Join(dirs[2], "a/b/f"), nil, 0o644)
	os.Symlink("a/b", filepath.Join(dirs[0], "link"))
	p, err := New(benchOpts(b, dirs), Settings{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	r := &Resolver{Unions: []Union{{Target: "/pool", Pool: p}}}
	ctx := context.Background()
	for _, tc := range []struct{ name, path string }{
		{"in-union", "/pool/a/b/f"},
		{"via-symlink", "/pool/link/f"},
		{"outside", dirs[0] + "/a/b"},
	} {
		b.Run("path="+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, e := r.Resolve(ctx, RootCred, "/", tc.path, true); e != 0 {
					b.Fatal(e)
				}
			}
		})
	}
}

// BenchmarkReaddirSmall merges a 101-entry directory from three branches,
// the size of a typical listing: what it allocates is garbage a daemon
// collects on every OPENDIR.
func BenchmarkReaddirSmall(b *testing.B) {
	dirs := benchBranches(b, "op")
	for j := 0; j < 101; j++ {
		os.WriteFile(filepath.Join(dirs[j%3], "op", fmt.Sprintf("f%d", j)), nil, 0o644)
	}
	p, err := New(benchOpts(b, dirs), Settings{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		ents, e := p.Readdir(context.Background(), RootCred, "op")
		if e != 0 || len(ents) != 103 {
			b.Fatal(e, len(ents))
		}
	}
}

// benchBranches makes three branch directories, each with directory sub.
func benchBranches(b *testing.B, sub string) []string {
	b.Helper()
	root := b.TempDir()
	var dirs []string
	for i := 0; i < 3; i++ {
		d := filepath.Join(root, fmt.Sprint(i))
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			b.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}
