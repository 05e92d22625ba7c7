package conformance

import (
	"slices"
	"strings"
	"testing"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// TestTable checks the table itself: unique names, well-formed POSIX cases,
// options that parse, randomised cases with real alternatives, and the
// required coverage.
func TestTable(t *testing.T) {
	cs := Cases()
	if len(cs) < 150 {
		t.Errorf("%d cases, want at least 150", len(cs))
	}
	seen := map[string]bool{}
	areas := map[string]int{}
	for _, c := range cs {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		if !strings.Contains(c.Name, "/") {
			t.Errorf("case %q: name must be area/what", c.Name)
		}
		areas[c.Area()]++
		if len(c.Branches) == 0 {
			t.Errorf("case %q: no branches", c.Name)
		}
		if c.POSIX {
			b := c.Branches
			if len(b) != 1 || (b[0].Mode != "" && b[0].Mode != "RW") || b[0].Size != "" || b[0].Missing || b[0].MinFree != "" {
				t.Errorf("case %q: a POSIX case needs exactly one plain RW branch on the shared filesystem", c.Name)
			}
			if c.Random() {
				t.Errorf("case %q: a POSIX case cannot be randomised", c.Name)
			}
		}
		if c.Random() && len(c.AnyOf) < 2 {
			t.Errorf("case %q: AnyOf with fewer than two outcomes", c.Name)
		}
		for _, b := range c.Branches {
			if b.ROFS && b.Size == "" {
				t.Errorf("case %q: rofs needs a tmpfs branch (Size)", c.Name)
			}
			if b.Missing && len(b.Layout) > 0 {
				t.Errorf("case %q: a missing branch cannot have a layout", c.Name)
			}
			for _, l := range b.Layout {
				if _, err := parseLine(l); err != nil {
					t.Errorf("case %q: %v", c.Name, err)
				}
			}
		}
		if _, err := config.Parse(append([]string{"branches=/nonexistent-a:/nonexistent-b"}, c.Opts...)); err != nil {
			t.Errorf("case %q: options %q: %v", c.Name, c.Opts, err)
		}
	}
	for a, n := range areas {
		t.Logf("area %-9s %3d cases", a, n)
	}
	t.Logf("total %d cases", len(cs))

	// Every policy is exercised in each category: by a case whose options set
	// the category or one of its functions to it.
	for _, pol := range policy.Names {
		for cat := policy.Category(0); cat < policy.NumCategories; cat++ {
			if !slices.ContainsFunc(cs, func(c Case) bool { return usesPolicy(c, cat, pol) }) {
				t.Errorf("no case runs policy %s as a %s policy", pol, cat)
			}
		}
	}
}

// usesPolicy reports whether c's options give a function of category cat the
// policy pol.
func usesPolicy(c Case, cat policy.Category, pol string) bool {
	for _, o := range c.Opts {
		k, v, _ := strings.Cut(o, "=")
		if v != pol {
			continue
		}
		if k == "category."+cat.String() {
			return true
		}
		if f, ok := policy.ParseFunc(strings.TrimPrefix(k, "func.")); ok && strings.HasPrefix(k, "func.") && f.Category() == cat {
			return true
		}
	}
	return false
}

// TestKnownGaps checks that every known gap names an existing case and says why.
func TestKnownGaps(t *testing.T) {
	names := map[string]bool{}
	for _, c := range Cases() {
		names[c.Name] = true
	}
	for target, gaps := range KnownGaps {
		for name, reason := range gaps {
			if !names[name] {
				t.Errorf("KnownGaps[%q] names %q, which is not a case", target, name)
			}
			if strings.TrimSpace(reason) == "" {
				t.Errorf("KnownGaps[%q][%q] has no reason", target, name)
			}
		}
	}
}

// TestLayoutGrammar pins the makefs line parser.
func TestLayoutGrammar(t *testing.T) {
	for _, tc := range []struct {
		line string
		want entry
	}{
		{"d/", entry{path: "d", kind: 'd'}},
		{"d/:0700", entry{path: "d", kind: 'd', mode: 0o700}},
		{"/:0711", entry{path: "", kind: 'd', mode: 0o711}},
		{"f", entry{path: "f", kind: 'f', data: []byte{}}},
		{"a/f=hello world", entry{path: "a/f", kind: 'f', data: []byte("hello world")}},
		{"f=x:0600", entry{path: "f", kind: 'f', data: []byte("x"), mode: 0o600}},
		{"f=*2K", entry{path: "f", kind: 'f', fill: 2048}},
		{"l -> ../t", entry{path: "l", kind: 'l', target: "../t"}},
		{"l -> t @5", entry{path: "l", kind: 'l', target: "t", mtime: 5, hasMt: true}},
		{"p|:0600", entry{path: "p", kind: 'p', mode: 0o600}},
		{"d/ ~1:2 [user.a=b] [user.c=d] @7", entry{path: "d", kind: 'd', uid: 1, gid: 2, owner: true,
			xattrs: [][2]string{{"user.a", "b"}, {"user.c", "d"}}, mtime: 7, hasMt: true}},
	} {
		got, err := parseLine(tc.line)
		if err != nil {
			t.Errorf("parseLine(%q): %v", tc.line, err)
			continue
		}
		if got.path != tc.want.path || got.kind != tc.want.kind || string(got.data) != string(tc.want.data) ||
			got.target != tc.want.target || got.fill != tc.want.fill || got.mode != tc.want.mode || got.owner != tc.want.owner ||
			got.uid != tc.want.uid || got.gid != tc.want.gid || got.mtime != tc.want.mtime || got.hasMt != tc.want.hasMt ||
			!slices.Equal(got.xattrs, tc.want.xattrs) {
			t.Errorf("parseLine(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
	for _, bad := range []string{"f @x", "f ~a:b", "f=*12Q"} {
		if _, err := parseLine(bad); err == nil {
			t.Errorf("parseLine(%q): no error", bad)
		}
	}
}
