package config

import (
	"strings"
	"testing"
)

// FuzzParseBranches: any branch list parses or fails cleanly, and what parses
// prints in a form that parses back to the same branches.
func FuzzParseBranches(f *testing.F) {
	for _, s := range []string{"/a:/b", "/a=RO:/b=NC,4G", "/x=y=RW", "/{a,b}", "", ":", "=", "/a=RW,", "/a=RW,1Q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		if strings.ContainsAny(spec, "*?[{") {
			return // globs read the filesystem; the grammar is what is fuzzed here
		}
		bs, err := ParseBranches(spec)
		if err != nil {
			return
		}
		again, err := ParseBranches(FormatBranches(bs))
		if err != nil {
			t.Fatalf("printed form %q of %q does not parse: %v", FormatBranches(bs), spec, err)
		}
		if FormatBranches(again) != FormatBranches(bs) {
			t.Fatalf("round trip of %q: %q != %q", spec, FormatBranches(again), FormatBranches(bs))
		}
	})
}

// FuzzParseOptions: any -o string parses or fails with an error, never a
// panic, and a successful parse can be printed key by key.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"category.create=mfs,minfreespace=4G", "cache.files=libfuse,direct_io", "func.readdir=cosr:4:2",
		"moveonenospc=true", "fuse_msg_size=1M", "x-systemd.requires=a", "config=", "branches=/a=RO", "bogus", ",,=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "config") {
			return // reads files
		}
		o, err := Parse(SplitOptionString(s))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		for _, k := range Keys() {
			o.Get(k)
		}
	})
}
