package fileio

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTempName(t *testing.T) {
	cases := []struct {
		name     string
		wantBase string // the part of name kept
	}{
		{"file.txt", "file.txt"},
		{"", "_"},
		{strings.Repeat("a", 255), strings.Repeat("a", maxTempBase)},
		{strings.Repeat("a", maxTempBase), strings.Repeat("a", maxTempBase)},
		{strings.Repeat("é", 127), strings.Repeat("é", maxTempBase/2)}, // cut before a split rune
		{strings.Repeat("€", 85), strings.Repeat("€", maxTempBase/3)},  // 3-byte runes
		{strings.Repeat("😀", 63), strings.Repeat("😀", maxTempBase/4)},  // 4-byte runes
		{strings.Repeat("\xff", 255), strings.Repeat("\xff", maxTempBase)},
	}
	for _, c := range cases {
		got := TempName(c.name)
		if len(got) > 255 {
			t.Errorf("TempName(%d bytes) is %d bytes, over NAME_MAX", len(c.name), len(got))
		}
		if !IsTempName(got) {
			t.Errorf("IsTempName(TempName(%q)) = false for %q", c.name, got)
		}
		base := strings.TrimPrefix(got[:len(got)-suffixLen-1], TempPrefix)
		if base != c.wantBase {
			t.Errorf("TempName(%d bytes) keeps %d bytes %q, want %d bytes", len(c.name), len(base), base, len(c.wantBase))
		}
		if utf8.ValidString(c.name) && !utf8.ValidString(got) {
			t.Errorf("TempName(%q) = %q is not valid UTF-8", c.name, got)
		}
	}
	if a, b := TempName("x"), TempName("x"); a == b {
		t.Errorf("two TempName calls gave the same name %q", a)
	}
}

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		TempName("a"):                   true,
		".mfs-tmp.a.0123456789ab":       true,
		".mfs-tmp..0123456789ab":        false, // TempName never keeps an empty base
		".mfs-tmp.a.0123456789aB":       false,
		".mfs-tmp.a.0123456789a":        false,
		".mfs-tmp.a-0123456789ab":       false,
		".mfs-tmp.0123456789ab":         false,
		"mfs-tmp.a.0123456789ab":        false,
		".a_XXXXXX":                     false,
		"file":                          false,
		".mfs-tmp.a.b.c.0123456789abcd": false,
	} {
		if got := IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCleanTemps(t *testing.T) {
	dir := t.TempDir()
	fd := openDir(t, dir)
	temps := []string{TempName("a"), TempName("b"), TempName(strings.Repeat("c", 255))}
	for _, n := range temps {
		writeFile(t, filepath.Join(dir, n), []byte("partial"))
	}
	keep := []string{"a", ".mfs-tmp.notours", TempName("dir"), TempName("link")}
	writeFile(t, filepath.Join(dir, keep[0]), nil)
	writeFile(t, filepath.Join(dir, keep[1]), nil)
	if err := os.Mkdir(filepath.Join(dir, keep[2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, keep[3])); err != nil {
		t.Fatal(err)
	}
	// Everything was just created: an hour's grace removes nothing.
	removed, err := CleanTemps(fd, time.Hour)
	if err != nil || len(removed) != 0 {
		t.Fatalf("CleanTemps(1h) = %q, %v; want nothing removed", removed, err)
	}
	// From an hour in the future everything is old enough.
	removed, err = cleanTemps(fd, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	slices.Sort(temps)
	if !slices.Equal(removed, temps) {
		t.Errorf("removed %q, want %q", removed, temps)
	}
	left := listDir(t, dir)
	slices.Sort(left)
	slices.Sort(keep)
	if !slices.Equal(left, keep) {
		t.Errorf("left %q, want %q", left, keep)
	}
	// An old mtime (CopyMeta sets the source's) does not make a fresh temp
	// look abandoned: ctime still says it is live.
	live := TempName("live")
	writeFile(t, filepath.Join(dir, live), nil)
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, live), old, old); err != nil {
		t.Fatal(err)
	}
	if removed, err := CleanTemps(fd, time.Hour); err != nil || len(removed) != 0 {
		t.Errorf("CleanTemps removed a live temp with an old mtime: %q, %v", removed, err)
	}
	if removed, err := CleanTemps(fd, 0); err != nil || len(removed) != 1 || removed[0] != live {
		t.Errorf("CleanTemps(0) = %q, %v; want [%s]", removed, err, live)
	}
}
