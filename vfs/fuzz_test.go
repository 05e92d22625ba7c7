package vfs

import (
	"encoding/binary"
	"strings"
	"testing"
)

// FuzzParseDirents: any getdents buffer decodes without reading out of
// bounds, and records it encodes come back as they were.
func FuzzParseDirents(f *testing.F) {
	f.Add(encodeDirent(nil, 1, 4, "a"), "b")
	f.Add([]byte{}, "")
	f.Add(make([]byte, 19), "x")
	f.Fuzz(func(t *testing.T, junk []byte, name string) {
		parseDirents(junk, nil, nil)
		if name == "" || strings.ContainsRune(name, 0) || len(name) > 255 {
			return
		}
		buf := encodeDirent(nil, 7, 8, name)
		buf = encodeDirent(buf, 9, 4, "second")
		got := parseDirents(buf, nil, &nameArena{})
		if len(got) != 2 || got[0].name != name || got[0].ino != 7 || got[0].typ != 8 || got[1].name != "second" {
			t.Fatalf("decoded %+v from records of %q", got, name)
		}
	})
}

// encodeDirent appends one linux_dirent64 record, 8-byte aligned.
func encodeDirent(buf []byte, ino uint64, typ uint8, name string) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	rec := make([]byte, reclen)
	binary.LittleEndian.PutUint64(rec[0:], ino)
	binary.LittleEndian.PutUint16(rec[16:], uint16(reclen))
	rec[18] = typ
	copy(rec[19:], name)
	return append(buf, rec...)
}

// FuzzCleanAbs: lexical path cleaning of raw syscall paths always gives an
// absolute path without empty, "." or ".." components.
func FuzzCleanAbs(f *testing.F) {
	for _, s := range []string{"/", "a/b", "/a/../../b", "//x//./y/", "..", "/pool/d/..//e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c := cleanAbs(p)
		if !strings.HasPrefix(c, "/") || (c != "/" && strings.HasSuffix(c, "/")) {
			t.Fatalf("cleanAbs(%q) = %q", p, c)
		}
		for _, comp := range strings.Split(c[1:], "/") {
			if c != "/" && (comp == "" || comp == "." || comp == "..") {
				t.Fatalf("cleanAbs(%q) = %q has component %q", p, c, comp)
			}
		}
	})
}

// FuzzResolve resolves arbitrary raw paths (and cwds) against a small union
// with symlinks in and out of it: no panic, and every union result is a clean
// relative path.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/pool/d/f", "../pool/l", "/pool/up/pool/d", "/pool/loop", "d/../../pool/", ""} {
		f.Add("/pool", s, true)
	}
	root := f.TempDir()
	d := root + "/b0"
	layoutF(f, d)
	o, err := parseConfig([]string{"branches=" + d + "=RW", "minfreespace=1"})
	if err != nil {
		f.Fatal(err)
	}
	p, err := New(o, Settings{})
	if err != nil {
		f.Fatal(err)
	}
	r := &Resolver{Unions: []Union{{Target: "/pool", Pool: p}}}
	f.Fuzz(func(t *testing.T, cwd, raw string, follow bool) {
		if !strings.HasPrefix(cwd, "/") {
			cwd = "/" + cwd
		}
		res, e := r.Resolve(t.Context(), RootCred, cwd, raw, follow)
		if e != 0 || res.Union == nil {
			return
		}
		if strings.HasPrefix(res.Rel, "/") || strings.HasSuffix(res.Rel, "/") {
			t.Fatalf("Resolve(%q, %q) = rel %q", cwd, raw, res.Rel)
		}
		for _, c := range strings.Split(res.Rel, "/") {
			if res.Rel != "" && (c == "" || c == "." || c == "..") {
				t.Fatalf("Resolve(%q, %q) = rel %q", cwd, raw, res.Rel)
			}
		}
	})
}

func layoutF(f *testing.F, dir string) {
	for _, l := range []string{"d/", "d/f"} {
		p := dir + "/" + l
		if strings.HasSuffix(l, "/") {
			if err := mkdirAll(p); err != nil {
				f.Fatal(err)
			}
		} else if err := writeFile(p); err != nil {
			f.Fatal(err)
		}
	}
	for link, target := range map[string]string{"l": "d/f", "up": "..", "loop": "loop", "abs": "/pool/d"} {
		if err := symlink(target, dir+"/"+link); err != nil {
			f.Fatal(err)
		}
	}
}
