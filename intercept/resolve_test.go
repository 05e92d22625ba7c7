package intercept

import (
	"strings"
	"testing"
	"time"
)

func TestCleanRel(t *testing.T) {
	for rel, want := range map[string]bool{
		"a": true, "a/b": true, "a/b/c.d": true, "...": true, "a/.b": true,
		"": false, "/a": false, "a/": false, "a//b": false, "./a": false,
		"a/./b": false, "a/..": false, "../a": false, "a/b/.": false,
	} {
		if got := cleanRel(rel); got != want {
			t.Errorf("cleanRel(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestKnownDirs(t *testing.T) {
	var k knownDirs
	now := int64(time.Hour)
	if !k.parentsKnown("top", now) {
		t.Fatal("a top-level name has no parent to know")
	}
	if k.parentsKnown("a/b/c", now) {
		t.Fatal("nothing learned yet")
	}
	k.learn("a/b/c", now)
	for _, rel := range []string{"a/b/c", "a/b/other", "a/x", "a/b"} {
		if !k.parentsKnown(rel, now) {
			t.Errorf("%s: parents learned from a/b/c", rel)
		}
	}
	for _, rel := range []string{"a/b/c/d", "b/c", "ab/c"} {
		if k.parentsKnown(rel, now) {
			t.Errorf("%s: parents not learned", rel)
		}
	}
	if k.parentsKnown("a/b/c", now+knownDirTTL+1) {
		t.Error("entries outlive knownDirTTL")
	}
	k.forget()
	if k.parentsKnown("a/x", now) {
		t.Error("forget kept entries")
	}
}

// TestRunKnownDirsForgotten: a directory the resolver learned is replaced
// by a union symlink (rename, then symlink): the next path through it
// follows the symlink.
func TestRunKnownDirsForgotten(t *testing.T) {
	f := twoBranches(t)
	p := f.target
	out := f.ok(t, "sh", "-c", "cat "+p+"/d/y && mv "+p+"/d "+p+"/e && ln -s only1 "+p+"/d && cat "+p+"/d/z && "+
		"mkdir "+p+"/n && echo m > "+p+"/n/m && cat "+p+"/n/m && rmdir "+p+"/only1/q 2>/dev/null; "+
		"rm "+p+"/n/m && rmdir "+p+"/n && ln -s e "+p+"/n && cat "+p+"/n/y")
	if out != "22"+"3"+"m\n"+"22" {
		t.Fatalf("through replaced directories: %q", out)
	}
}

// pathShape agrees with the string searches it replaces on every path of up
// to 8 bytes over '/', '.' and 'a'.
func TestPathShape(t *testing.T) {
	ref := func(p string) (dotdot, unclean bool) {
		for _, c := range strings.Split(p, "/") {
			dotdot = dotdot || c == ".."
		}
		return dotdot, strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.HasSuffix(p, "/.")
	}
	var walk func(p string)
	walk = func(p string) {
		d, u := pathShape(p)
		if rd, ru := ref(p); d != rd || u != ru {
			t.Errorf("pathShape(%q) = %v, %v; want %v, %v", p, d, u, rd, ru)
		}
		if len(p) < 8 {
			for _, c := range []string{"/", ".", "a"} {
				walk(p + c)
			}
		}
	}
	walk("")
}

func TestOnlyDotComponents(t *testing.T) {
	for rel, want := range map[string]bool{
		"": true, ".": true, "./": true, "./.": true, "/": true, ".//./": true,
		"...": false, "..": false, "./...": false, ".../": false, "a": false, "./a": false, ".a": false, "a.": false,
	} {
		if got := onlyDotComponents(rel); got != want {
			t.Errorf("onlyDotComponents(%q) = %v, want %v", rel, got, want)
		}
	}
}

// TestRunDotNames: names made of dots ("...", "....") at the union root
// and below are ordinary names, not the directory they are in.
func TestRunDotNames(t *testing.T) {
	f := newFixture(t, nil, []string{"...=three", "d/....=four"}, []string{"d/"})
	got := f.ok(t, "sh", "-c", "stat -c '%F' "+f.target+"/... "+f.target+"/./... "+f.target+"/d/.... "+f.target+"/. "+f.target+"/./"+
		" && cat "+f.target+"/... "+f.target+"/d/....")
	want := "regular file\nregular file\nregular file\ndirectory\ndirectory\nthreefour"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
