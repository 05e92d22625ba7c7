package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mfs-union/mfs/vfs/policy"
)

// makeLayout creates entries under a new temp dir: "d/" is a directory, "f"
// a file, "l -> target" a symlink. It returns the realpath of the root.
func makeLayout(t *testing.T, entries ...string) string {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case strings.Contains(e, " -> "):
			name, target, _ := strings.Cut(e, " -> ")
			if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(e, "/"):
			if err := os.MkdirAll(filepath.Join(root, e), 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(filepath.Join(root, e), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"123", 123, true},
		{"1b", 1, true},
		{"1B", 1, true},
		{"1k", KiB, true},
		{"2K", 2 * KiB, true},
		{"3m", 3 * MiB, true},
		{"4G", 4 * GiB, true},
		{"4g", 4 * GiB, true},
		{"5t", 5 * TiB, true},
		{"18446744073709551615", 1<<64 - 1, true},
		{"", 0, false},
		{"K", 0, false},
		{"1KB", 0, false},
		{"1KK", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5G", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1P", 0, false},
		{"0x10", 0, false},
		{"18446744073709551616", 0, false},
		{"16777216T", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   uint64
		want string
	}{
		{0, "0"}, {1, "1"}, {1000, "1000"}, {1024, "1K"}, {1536, "1536"}, {100 * GiB, "100G"},
		{3 * TiB, "3T"}, {5 * MiB, "5M"}, {4294967295, "4294967295"},
	} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := ParseSize(FormatSize(tc.in)); err != nil || back != tc.in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", tc.in, back, err)
		}
	}
}

func TestExpandBraces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"plain", []string{"plain"}},
		{"a{b,c}d", []string{"abd", "acd"}},
		{"{a,b}{c,d}", []string{"ac", "ad", "bc", "bd"}},
		{"{a,{b,c}}", []string{"a", "b", "c"}},
		{"x{a,}y", []string{"xay", "xy"}},
		{"/mnt/disk{1,2,3}", []string{"/mnt/disk1", "/mnt/disk2", "/mnt/disk3"}},
		{"{}", []string{"{}"}},
		{"{a}", []string{"{a}"}},
		{"{a}{b,c}", []string{"{a}b", "{a}c"}},
		{"a{b", []string{"a{b"}},
		{"a}b,c", []string{"a}b,c"}},
		{`\{a,b}`, []string{`\{a,b}`}},
		{`{a\,b,c}`, []string{`a\,b`, "c"}},
		{"{x{1,2},y}", []string{"x1", "x2", "y"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := expandBraces(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("expandBraces(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseBranches(t *testing.T) {
	root := makeLayout(t, "a/", "b/", "c/", "disk1/", "disk2/", "disk10/", "x=y/", ".hidden/",
		"file", "link -> a", "flink -> file", "dir with space/", "sub/deep/")
	p := func(name string) string { return filepath.Join(root, name) }
	rw := func(name string) Branch { return Branch{Path: p(name), Mode: policy.RW} }
	t.Chdir(root)

	for _, tc := range []struct {
		name string
		spec string
		want []Branch
	}{
		{"single", p("a"), []Branch{rw("a")}},
		{"two", p("a") + ":" + p("b"), []Branch{rw("a"), rw("b")}},
		{"RW explicit", p("a") + "=RW", []Branch{rw("a")}},
		{"RO", p("a") + "=RO", []Branch{{Path: p("a"), Mode: policy.RO}}},
		{"NC with size", p("a") + "=NC,100G", []Branch{{Path: p("a"), Mode: policy.NC, MinFreeSpace: 100 * GiB, HasMinFree: true}}},
		{"RW with bytes", p("a") + "=RW,1000", []Branch{{Path: p("a"), Mode: policy.RW, MinFreeSpace: 1000, HasMinFree: true}}},
		{"lower-case unit", p("a") + "=RO,4k", []Branch{{Path: p("a"), Mode: policy.RO, MinFreeSpace: 4 * KiB, HasMinFree: true}}},
		{"path containing =", p("x=y") + "=RO", []Branch{{Path: p("x=y"), Mode: policy.RO}}},
		{"empty elements skipped", ":" + p("a") + "::" + p("b") + ":", []Branch{rw("a"), rw("b")}},
		{"empty spec", "", nil},
		{"star glob", p("disk*"), []Branch{rw("disk1"), rw("disk10"), rw("disk2")}},
		{"question glob", p("disk?"), []Branch{rw("disk1"), rw("disk2")}},
		{"class glob", p("[ab]"), []Branch{rw("a"), rw("b")}},
		{"brace glob keeps alternative order", p("{c,a,b}"), []Branch{rw("c"), rw("a"), rw("b")}},
		{"nested braces", p("{a,disk{2,1}}"), []Branch{rw("a"), rw("disk2"), rw("disk1")}},
		{"brace with star", p("{disk1*,c}") + "=NC", []Branch{
			{Path: p("disk1"), Mode: policy.NC}, {Path: p("disk10"), Mode: policy.NC}, {Path: p("c"), Mode: policy.NC}}},
		{"brace with a missing alternative", p("{a,nothere}"), []Branch{rw("a")}},
		// Like glob(3) with GLOB_ONLYDIR, files never match, so a glob that
		// matches only files matched nothing and is kept literally.
		{"glob of only files keeps literal", p("f*"), []Branch{rw("f*")}},
		{"glob skips files among dirs", p("{file,a,flink}"), []Branch{rw("a")}},
		{"wildcard skips dot dirs", p("*") + "=RO", func() []Branch {
			var bs []Branch
			for _, n := range []string{"a", "b", "c", "dir with space", "disk1", "disk10", "disk2", "a", "sub", "x=y"} {
				bs = append(bs, Branch{Path: p(n), Mode: policy.RO})
			}
			return bs
		}()},
		{"explicit dot glob", p(".h*"), []Branch{rw(".hidden")}},
		{"glob matching nothing keeps literal", p("nomatch*"), []Branch{rw("nomatch*")}},
		{"braces matching nothing keep literal", p("{q,r}"), []Branch{rw("{q,r}")}},
		{"nonexistent kept", p("missing") + "=NC", []Branch{{Path: p("missing"), Mode: policy.NC}}},
		{"file skipped", p("file"), nil},
		{"symlink to file skipped", p("flink"), nil},
		{"symlink resolved", p("link"), []Branch{rw("a")}},
		{"relative made absolute", "a:./b:sub/deep/..", []Branch{rw("a"), rw("b"), rw("sub")}},
		{"space in path", p("dir with space") + "=RO", []Branch{{Path: p("dir with space"), Mode: policy.RO}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseBranches(tc.spec)
			if err != nil {
				t.Fatalf("ParseBranches(%q): %v", tc.spec, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseBranches(%q)\n got %v\nwant %v", tc.spec, got, tc.want)
			}
		})
	}
}

func TestParseBranchesErrors(t *testing.T) {
	root := makeLayout(t, "a/", "x=y/")
	a := filepath.Join(root, "a")
	for _, tc := range []struct {
		name, spec, elem string
		msg              []string
	}{
		{"lower-case mode", a + "=rw", a + "=rw", []string{`invalid mode "rw"`, a + "=RW"}},
		{"mixed-case mode", a + "=Ro", a + "=Ro", []string{`invalid mode "Ro"`, "RW, RO or NC"}},
		{"unknown mode", a + "=XX", a + "=XX", []string{`invalid mode "XX"`}},
		{"empty mode", a + "=", a + "=", []string{`invalid mode ""`}},
		{"path with = and no mode", filepath.Join(root, "x=y"), filepath.Join(root, "x=y"),
			[]string{`invalid mode "y"`, "explicit mode", filepath.Join(root, "x=y") + "=RW"}},
		{"bad size unit", a + "=RW,10X", a + "=RW,10X", []string{`invalid minfreespace "10X"`, "100G"}},
		{"fractional size", a + "=RW,1.5G", a + "=RW,1.5G", []string{"invalid minfreespace"}},
		{"empty size", a + "=RO,", a + "=RO,", []string{`invalid minfreespace ""`}},
		{"two sizes", a + "=RO,1G,2G", a + "=RO,1G,2G", []string{`invalid minfreespace "1G,2G"`}},
		{"size without mode", a + "=100G", a + "=100G", []string{`invalid mode "100G"`}},
		{"empty path", "=RW", "=RW", []string{"empty path"}},
		{"second element bad", a + ":" + a + "=rO", a + "=rO", []string{"invalid mode"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseBranches(tc.spec)
			if err == nil {
				t.Fatalf("ParseBranches(%q) = %v, want error", tc.spec, got)
			}
			var be *BranchError
			if !errors.As(err, &be) {
				t.Fatalf("error %T is not *BranchError: %v", err, err)
			}
			if be.Element != tc.elem {
				t.Errorf("Element = %q, want %q", be.Element, tc.elem)
			}
			if be.Fix == "" {
				t.Errorf("no fix in %v", err)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestEditBranches(t *testing.T) {
	root := makeLayout(t, "a/", "b/", "c/", "d/", "disk1/", "disk2/")
	p := func(name string) string { return filepath.Join(root, name) }
	br := func(name string, m policy.Mode) Branch { return Branch{Path: p(name), Mode: m} }
	start := []Branch{br("a", policy.RW), br("b", policy.RO), br("disk1", policy.NC)}

	for _, tc := range []struct {
		name, instr string
		want        []Branch
	}{
		{"plain replaces", p("c") + ":" + p("d") + "=RO", []Branch{br("c", policy.RW), br("d", policy.RO)}},
		{"= replaces", "=" + p("c"), []Branch{br("c", policy.RW)}},
		{"= empty clears", "=", nil},
		{"+< prepends", "+<" + p("c") + ":" + p("d") + "=NC",
			[]Branch{br("c", policy.RW), br("d", policy.NC), br("a", policy.RW), br("b", policy.RO), br("disk1", policy.NC)}},
		{"+> appends", "+>" + p("c"), append(append([]Branch{}, start...), br("c", policy.RW))},
		{"+ appends", "+" + p("c") + "=RO", append(append([]Branch{}, start...), br("c", policy.RO))},
		{"+ appends glob", "+" + p("disk*"), append(append([]Branch{}, start...), br("disk1", policy.RW), br("disk2", policy.RW))},
		{"- removes exact", "-" + p("b"), []Branch{br("a", policy.RW), br("disk1", policy.NC)}},
		{"- removes by glob", "-" + p("disk*"), []Branch{br("a", policy.RW), br("b", policy.RO)}},
		{"- several patterns", "-" + p("a") + ":" + p("disk?"), []Branch{br("b", policy.RO)}},
		{"- star crosses slashes", "-*disk1", []Branch{br("a", policy.RW), br("b", policy.RO)}},
		{"- class", "-" + p("[ab]"), []Branch{br("disk1", policy.NC)}},
		{"- no match", "-/nowhere/*", start},
		{"-< drops first", "-<", []Branch{br("b", policy.RO), br("disk1", policy.NC)}},
		{"-> drops last", "->", []Branch{br("a", policy.RW), br("b", policy.RO)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := append([]Branch(nil), start...)
			got, err := EditBranches(cur, tc.instr)
			if err != nil {
				t.Fatalf("EditBranches(%q): %v", tc.instr, err)
			}
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("EditBranches(%q)\n got %v\nwant %v", tc.instr, got, tc.want)
			}
			if !reflect.DeepEqual(cur, start) {
				t.Errorf("EditBranches(%q) modified its input: %v", tc.instr, cur)
			}
		})
	}

	for _, tc := range []struct {
		name, instr string
		cur         []Branch
	}{
		{"bad mode in replace", p("c") + ":" + p("d") + "=rw", start},
		{"bad mode in prepend", "+<" + p("c") + "=XX", start},
		{"bad size in append", "+>" + p("c") + "=RW,1Q", start},
		{"bad pattern", "-[", start},
		{"-< with argument", "-<" + p("a"), start},
		{"-> with argument", "->x", start},
		{"bare <", "<" + p("a"), start},
		{"bare >", ">" + p("a"), start},
		{"-< on empty", "-<", nil},
		{"-> on empty", "->", nil},
	} {
		t.Run("error/"+tc.name, func(t *testing.T) {
			before := append([]Branch(nil), tc.cur...)
			got, err := EditBranches(tc.cur, tc.instr)
			if err == nil {
				t.Fatalf("EditBranches(%q) = %v, want error", tc.instr, got)
			}
			var be *BranchError
			if !errors.As(err, &be) {
				t.Errorf("error %T is not *BranchError", err)
			}
			if !reflect.DeepEqual(got, before) || !reflect.DeepEqual(tc.cur, before) {
				t.Errorf("list changed on error: got %v, input %v, want %v", got, tc.cur, before)
			}
		})
	}
}

func TestFormatBranches(t *testing.T) {
	bs := []Branch{
		{Path: "/mnt/a", Mode: policy.RW},
		{Path: "/mnt/b", Mode: policy.RO, MinFreeSpace: 100 * GiB, HasMinFree: true},
		{Path: "/mnt/c=d", Mode: policy.NC, MinFreeSpace: 1000, HasMinFree: true},
		{Path: "/mnt/e", Mode: policy.NC, MinFreeSpace: 0, HasMinFree: true},
		{Path: "/mnt/f", Mode: policy.RW, MinFreeSpace: 12345}, // not its own: not printed
	}
	const want = "/mnt/a=RW:/mnt/b=RO,100G:/mnt/c=d=NC,1000:/mnt/e=NC,0:/mnt/f=RW"
	if got := FormatBranches(bs); got != want {
		t.Errorf("FormatBranches = %q, want %q", got, want)
	}
	if got := SrcMounts(bs); got != "/mnt/a:/mnt/b:/mnt/c=d:/mnt/e:/mnt/f" {
		t.Errorf("SrcMounts = %q", got)
	}
	if FormatBranches(nil) != "" || SrcMounts(nil) != "" {
		t.Error("empty list should format as empty string")
	}

	// The printed form parses back to the same list (paths must be real).
	root := makeLayout(t, "a/", "b=c/")
	in := []Branch{
		{Path: filepath.Join(root, "a"), Mode: policy.NC, MinFreeSpace: 3 * GiB, HasMinFree: true},
		{Path: filepath.Join(root, "b=c"), Mode: policy.RO},
	}
	back, err := ParseBranches(FormatBranches(in))
	if err != nil || !reflect.DeepEqual(back, in) {
		t.Errorf("round trip: %v, %v; want %v", back, err, in)
	}
}
