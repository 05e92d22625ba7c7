package vfs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestResolve(t *testing.T) {
	ctx := context.Background()
	p, dirs := newTestPool(t, nil,
		[]string{"d/", "d/f=1", "up -> ..", "abs -> /pool/d/f", "out -> HOST", "loop1 -> loop2", "loop2 -> loop1", "file=x"},
		[]string{"d/g=2", "rel -> d/g"},
	)
	host := t.TempDir()
	layout(t, host, "h/", "h/x=1", "intopool -> /pool/d")
	// Replace the placeholder with the real host dir.
	must(t, os.Remove(filepath.Join(dirs[0], "out")))
	must(t, os.Symlink(host+"/h", filepath.Join(dirs[0], "out")))
	r := &Resolver{Unions: []Union{{Target: "/pool", Pool: p}}}

	cases := []struct {
		cwd, raw string
		follow   bool
		want     string // "U:rel" or "H:path"
		errno    unix.Errno
	}{
		{"/", "/pool/d/f", true, "U:d/f", 0},
		{"/", "/pool", true, "U:", 0},
		{"/pool/d", "f", true, "U:d/f", 0},
		{"/pool/d", "../d/./g", true, "U:d/g", 0},
		{"/pool", "..", true, "H:/", 0},
		{"/pool", "d/..//..", true, "H:/", 0},
		{"/", "/pool/rel", true, "U:d/g", 0},
		{"/", "/pool/rel", false, "U:rel", 0},
		{"/", "/pool/abs", true, "U:d/f", 0},
		{"/", "/pool/up/pool/d", true, "U:d", 0},
		{"/", "/pool/out/x", true, "H:" + host + "/h/x", 0},
		{"/", host + "/intopool/g", true, "U:d/g", 0},
		{"/", "/pool/loop1", true, "", unix.ELOOP},
		{"/", "/pool/loop1", false, "U:loop1", 0},
		{"/", "/pool/file/x", true, "", unix.ENOTDIR},
		{"/", "/pool/file/", true, "", unix.ENOTDIR},
		{"/", "/pool/missing/x", true, "", unix.ENOENT},
		{"/", "/pool/d/new", true, "U:d/new", 0},
		{"/", "", true, "", unix.ENOENT},
		{"/", "/pool/" + strings.Repeat("n", 256), true, "", unix.ENAMETOOLONG},
		{"/", "/poolx", true, "H:/poolx", 0},
		{"/", "/poolx/y", true, "", unix.ENOENT},
	}
	for _, tc := range cases {
		t.Run(tc.cwd+"|"+tc.raw, func(t *testing.T) {
			got, e := r.Resolve(ctx, RootCred, tc.cwd, tc.raw, tc.follow)
			if e != tc.errno {
				t.Fatalf("errno %v, want %v (got %+v)", e, tc.errno, got)
			}
			if e != 0 {
				return
			}
			s := "H:" + got.Host
			if got.Union != nil {
				s = "U:" + got.Rel
			}
			if s != tc.want {
				t.Fatalf("got %s, want %s", s, tc.want)
			}
		})
	}
}
