package vfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// smallTmpfs mounts a tmpfs of size on dir for the test.
func smallTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	requireRoot(t)
	must(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

func listAll(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && p != dir {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	return out
}

func TestMoveOnENOSPC(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	full, roomy := filepath.Join(root, "full"), filepath.Join(root, "roomy")
	must(t, os.Mkdir(full, 0o755))
	must(t, os.Mkdir(roomy, 0o755))
	smallTmpfs(t, full, "1m")
	smallTmpfs(t, roomy, "8m")
	must(t, os.MkdirAll(filepath.Join(full, "dir"), 0o755))
	o := parseOpts(t, "branches="+full+":"+roomy, "category.create=ff", "minfreespace=1", "moveonenospc=mfs")
	p, err := New(o, Settings{})
	must(t, err)
	defer p.Close()

	f, e := p.Create(ctx, RootCred, "dir/big", unix.O_WRONLY, 0o640)
	if e != 0 {
		t.Fatal(e)
	}
	defer f.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	n, e := f.Write(ctx, RootCred, data, 0)
	if e != 0 || n != len(data) {
		t.Fatalf("write = %d, %v; want %d, 0", n, e, len(data))
	}
	if f.Branch() != 1 {
		t.Fatalf("file is on branch %d after the move, want 1", f.Branch())
	}
	got, err := os.ReadFile(filepath.Join(roomy, "dir/big"))
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatalf("moved file has %d bytes, want the %d written", len(got), len(data))
	}
	if left := listAll(t, full); strings.Join(left, ",") != "dir" {
		t.Fatalf("full branch still holds %v", left)
	}
	if fi, _ := os.Stat(filepath.Join(roomy, "dir/big")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode after move %o", fi.Mode().Perm())
	}

	// Every branch full: ENOSPC and no temp file anywhere.
	g, e := p.Create(ctx, RootCred, "dir/huge", unix.O_WRONLY, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	defer g.Close()
	_, e = g.Write(ctx, RootCred, bytes.Repeat([]byte("x"), 16<<20), 0)
	if e != unix.ENOSPC {
		t.Fatalf("write to a full pool: %v, want ENOSPC", e)
	}
	for _, d := range []string{full, roomy} {
		for _, n := range listAll(t, d) {
			if strings.Contains(n, ".mfs-tmp.") {
				t.Fatalf("temp file left: %s/%s", d, n)
			}
		}
	}
}
