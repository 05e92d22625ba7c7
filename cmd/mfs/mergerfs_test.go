package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mfs-union/mfs/vfs/config"
)

func TestParseMergerfsArgs(t *testing.T) {
	cases := []struct {
		args    string
		opts    []string
		pos     []string
		fg, ver bool
		err     string
	}{
		{args: "/a:/b /mnt", pos: []string{"/a:/b", "/mnt"}},
		{args: "-o allow_other,use_ino /a:/b /mnt", opts: []string{"allow_other", "use_ino"}, pos: []string{"/a:/b", "/mnt"}},
		{args: "/a /b /mnt -o x=1 -o y=2", opts: []string{"x=1", "y=2"}, pos: []string{"/a", "/b", "/mnt"}},
		{args: "-oallow_other /a /m", opts: []string{"allow_other"}, pos: []string{"/a", "/m"}},
		{args: "-f -d /a /m", pos: []string{"/a", "/m"}, fg: true},
		{args: "-v", ver: true},
		{args: "-V", ver: true},
		{args: "/a /m -- -weird", pos: []string{"/a", "/m", "-weird"}},
		{args: "/a /m -o", err: "-o needs a value"},
		{args: "/a /m --bogus", err: `unknown flag "--bogus"`},
	}
	for _, tc := range cases {
		t.Run(tc.args, func(t *testing.T) {
			m, err := parseMergerfsArgs(strings.Fields(tc.args), config.SplitOptionString)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Options, tc.opts) || !reflect.DeepEqual(m.Positional, tc.pos) || m.Foreground != tc.fg || m.Version != tc.ver {
				t.Fatalf("got %+v", m)
			}
		})
	}
}

func TestPermuteFlags(t *testing.T) {
	cmd := explainCommand()
	got := permuteFlags(cmd, []string{"/a:/b", "x", "--json", "-o", "a=1", "--func=create", "--", "-o"})
	want := []string{"--json", "-o", "a=1", "--func=create", "/a:/b", "x", "--", "-o"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestEditDistanceSuggestion(t *testing.T) {
	if s := suggestCommand("explian"); !strings.Contains(s, "explain") {
		t.Fatalf("suggestion %q", s)
	}
	if s := suggestCommand("zzzzzzzz"); s != "" {
		t.Fatalf("suggestion for nonsense: %q", s)
	}
}
