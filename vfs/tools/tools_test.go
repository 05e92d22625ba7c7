package tools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDryRunEqualsRun runs every planning tool twice on the same layout:
// once as a dry run (plan only; nothing on the branches may change) and
// once for real, whose Done list must equal the dry run's plan.
func TestDryRunEqualsRun(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, br []string)
		plan  func(p *Pool) (*Plan, error)
	}{
		{"balance", func(t *testing.T, br []string) {
			for i, n := range []string{"a/1", "a/2", "b/3", "b/4", "c/5"} {
				mkfile(t, br[0], n, (i+1)<<20, 0o644)
			}
		}, func(p *Pool) (*Plan, error) { return Balance(p, BalanceOptions{Percent: 1}) }},
		{"dup", func(t *testing.T, br []string) {
			mkfile(t, br[0], "x/1", 1<<20, 0o644)
			mkfile(t, br[1], "x/2", 2<<20, 0o600)
			mkfile(t, br[2], "y/3", 3<<10, 0o644)
		}, func(p *Pool) (*Plan, error) { return Dup(p, DupOptions{Count: 2}) }},
		{"dedup", func(t *testing.T, br []string) {
			for _, b := range br {
				mkfile(t, b, "same", 1<<20, 0o644)
			}
			mkfile(t, br[1], "two", 1<<19, 0o644)
			mkfile(t, br[2], "two", 1<<19, 0o644)
		}, func(p *Pool) (*Plan, error) { return Dedup(p, DedupOptions{Policy: MostFreeSpace}) }},
		{"fsck", func(t *testing.T, br []string) {
			mkfile(t, br[0], "f", 1<<20, 0o644)
			mkfile(t, br[1], "f", 1<<20, 0o600)
			mkfile(t, br[2], "f", 1<<18, 0o644)
		}, func(p *Pool) (*Plan, error) { return Fsck(p, FsckOptions{Fix: FixLargest, CheckSize: true}) }},
		{"consolidate", func(t *testing.T, br []string) {
			mkfile(t, br[0], "show/s1/e1", 1<<20, 0o644)
			mkfile(t, br[1], "show/s1/e2", 2<<20, 0o644)
			mkfile(t, br[2], "show/s2/e3", 3<<20, 0o644)
			mkfile(t, br[2], "other", 1<<20, 0o644)
		}, func(p *Pool) (*Plan, error) { return Consolidate(p, ConsolidateOptions{Dir: "show"}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := []string{tmpfs(t, "16m"), tmpfs(t, "16m"), tmpfs(t, "8m")}
			tc.setup(t, br)
			p := pool(t, br...)
			before, _, _ := poolFiles(t, br)
			dry, err := tc.plan(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(dry.Actions) == 0 {
				t.Fatal("empty plan")
			}
			same, _, _ := poolFiles(t, br)
			if got, want := fingerprint(same), fingerprint(before); got != want {
				t.Fatalf("the dry run changed the branches:\n%s\nvs\n%s", got, want)
			}
			pl, err := tc.plan(p)
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, pl, ExecOptions{Verify: true})
			if got, want := actionsJSON(t, r.Done), actionsJSON(t, dry.Actions); got != want {
				t.Errorf("run differs from the dry run's plan:\nrun: %s\nplan: %s", got, want)
			}
			// Running again finds nothing left to do.
			pl, err = tc.plan(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(pl.Actions) != 0 {
				t.Errorf("second run plans %d actions: %s", len(pl.Actions), actionsJSON(t, pl.Actions))
			}
		})
	}
}

func fingerprint(files map[string][]fstate) string {
	var b strings.Builder
	for _, k := range sortedKeys(files) {
		for _, c := range files[k] {
			b.WriteString(k + " " + c.Sum + " " + c.Mode.String() + "\n")
		}
	}
	return b.String()
}

// TestDup: copies go to other filesystems until Count, never onto a full
// one; hard links stay links on the target; --prune removes the extras.
func TestDup(t *testing.T) {
	a, b, c := tmpfs(t, "16m"), tmpfs(t, "16m"), tmpfs(t, "2m")
	mkfile(t, a, "d/big", 3<<20, 0o640)
	mkfile(t, a, "d/small", 100<<10, 0o644)
	if err := os.Link(filepath.Join(a, "d/big"), filepath.Join(a, "d/big.link")); err != nil {
		t.Fatal(err)
	}
	p := pool(t, a, b, c)
	pl, err := Dup(p, DupOptions{Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(pl, "d/big", "no other filesystem accepts it") {
		t.Errorf("3 MiB onto a 2 MiB branch not refused: %+v", pl.Notes)
	}
	run(t, pl, ExecOptions{})
	files, _, _ := poolFiles(t, []string{a, b, c})
	if n := len(files["d/small"]); n != 3 {
		t.Errorf("d/small: %d copies, want 3", n)
	}
	if n := len(files["d/big"]); n != 2 {
		t.Errorf("d/big: %d copies, want 2 (the third branch is too small)", n)
	}
	for _, cp := range files["d/big"] {
		if cp.Branch == 1 {
			for _, l := range files["d/big.link"] {
				if l.Branch == 1 && l.Ino != cp.Ino {
					t.Errorf("hard link became a second copy on the target")
				}
			}
		}
		if cp.Sum != files["d/big"][0].Sum || cp.Mode != 0o640 || cp.Uid != 1234 {
			t.Errorf("copy differs: %+v", cp)
		}
	}

	pl, err = Dup(p, DupOptions{Count: 1, Prune: true, Policy: MergerfsOrder})
	if err != nil {
		t.Fatal(err)
	}
	run(t, pl, ExecOptions{})
	files, _, _ = poolFiles(t, []string{a, b, c})
	for _, rel := range []string{"d/small", "d/big", "d/big.link"} {
		if cs := files[rel]; len(cs) != 1 || cs[0].Branch != 0 {
			t.Errorf("%s after prune to 1 (mergerfs order): %+v", rel, cs)
		}
	}
}

// TestDupLinksNeedNoRoom: the target has room for one copy of a hard link
// group; the group's second name is linked, not refused for lack of room.
func TestDupLinksNeedNoRoom(t *testing.T) {
	a, b := tmpfs(t, "8m"), tmpfs(t, "4m")
	mkfile(t, a, "x/g", 3<<20, 0o644)
	if err := os.Link(filepath.Join(a, "x/g"), filepath.Join(a, "y")); err != nil {
		t.Fatal(err)
	}
	p := pool(t, a, b)
	pl, err := Dup(p, DupOptions{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Notes) != 0 || len(pl.Actions) != 2 || pl.Actions[1].Op != OpLink {
		t.Fatalf("plan %s, notes %+v; want a copy and a link", actionsJSON(t, pl.Actions), pl.Notes)
	}
	run(t, pl, ExecOptions{})
	files, _, _ := poolFiles(t, []string{a, b})
	var onB []fstate
	for _, n := range []string{"x/g", "y"} {
		for _, c := range files[n] {
			if c.Branch == 1 {
				onB = append(onB, c)
			}
		}
	}
	if len(onB) != 2 || onB[0].Ino != onB[1].Ino {
		t.Errorf("on the target: %+v, want two names of one inode", onB)
	}
}

// TestDedup keeps the copy the policy picks and removes the others, but
// never a copy on an RO branch.
func TestDedup(t *testing.T) {
	cases := []struct {
		policy Policy
		want   int // branch whose copy stays
	}{{Newest, 1}, {Oldest, 0}, {Largest, 2}, {Smallest, 1}, {MostFreeSpace, 2}}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			br := []string{tmpfs(t, "8m"), tmpfs(t, "8m"), tmpfs(t, "16m")}
			mkfile(t, br[0], "f", 1<<20, 0o644)
			mkfile(t, br[1], "f", 1<<19, 0o644)
			mkfile(t, br[2], "f", 2<<20, 0o644)
			mkfile(t, br[0], "filler", 3<<20, 0o644)
			setMtime(t, filepath.Join(br[0], "f"), 1000)
			setMtime(t, filepath.Join(br[1], "f"), 3000)
			setMtime(t, filepath.Join(br[2], "f"), 2000)
			p := pool(t, br...)
			pl, err := Dedup(p, DedupOptions{Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			run(t, pl, ExecOptions{})
			files, _, _ := poolFiles(t, br)
			if cs := files["f"]; len(cs) != 1 || cs[0].Branch != tc.want {
				t.Errorf("kept %+v, want the copy on branch %d", cs, tc.want)
			}
		})
	}
	t.Run("ro", func(t *testing.T) {
		a, b := tmpfs(t, "8m"), tmpfs(t, "8m")
		mkfile(t, a, "f", 1<<20, 0o644)
		mkfile(t, b, "f", 1<<20, 0o644)
		setMtime(t, filepath.Join(b, "f"), 1000) // a is newer: b, on RO, is the extra
		p := pool(t, a, b+"=RO")
		pl, err := Dedup(p, DedupOptions{Policy: Newest})
		if err != nil {
			t.Fatal(err)
		}
		if len(pl.Actions) != 0 || !hasNote(pl, "f", "read-only") {
			t.Errorf("actions %+v notes %+v; want the RO copy noted, not removed", pl.Actions, pl.Notes)
		}
	})
}

func setMtime(t *testing.T, p string, sec int64) {
	t.Helper()
	tm := time.Unix(sec, 0)
	if err := os.Chtimes(p, tm, tm); err != nil {
		t.Fatal(err)
	}
}

// TestFsck reports mode, owner, size and type differences against the
// reference copy and fixes what --fix allows.
func TestFsck(t *testing.T) {
	setup := func(t *testing.T) []string {
		br := []string{tmpfs(t, "8m"), tmpfs(t, "8m"), tmpfs(t, "8m")}
		mkfile(t, br[0], "m", 1<<10, 0o644)
		mkfile(t, br[1], "m", 1<<10, 0o600) // mode differs
		mkfile(t, br[0], "o", 1<<10, 0o644)
		mkfile(t, br[2], "o", 1<<10, 0o644)
		if err := os.Lchown(filepath.Join(br[2], "o"), 1, 1); err != nil { // owner differs
			t.Fatal(err)
		}
		mkfile(t, br[0], "s", 1<<10, 0o644)
		mkfile(t, br[1], "s", 4<<10, 0o644) // size differs; largest and newest
		mkfile(t, br[0], "t/x", 1<<10, 0o644)
		mkfile(t, br[1], "t", 1<<10, 0o644) // a file here, a directory there
		if err := os.Mkdir(filepath.Join(br[1], "dir"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(br[2], "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		setMtime(t, filepath.Join(br[2], "dir"), 10)
		for _, f := range []string{"m", "o"} {
			setMtime(t, filepath.Join(br[0], f), 9e8) // the reference
		}
		return br
	}
	issues := func(pl *Plan) map[string]bool {
		m := map[string]bool{}
		for _, is := range pl.Issues {
			m[is.Path+":"+is.Field] = true
		}
		return m
	}
	t.Run("report", func(t *testing.T) {
		br := setup(t)
		pl, err := Fsck(pool(t, br...), FsckOptions{Fix: FixNone})
		if err != nil {
			t.Fatal(err)
		}
		got := issues(pl)
		for _, w := range []string{"m:mode", "o:owner", "t:type", "dir:mode"} {
			if !got[w] {
				t.Errorf("missing issue %s in %v", w, got)
			}
		}
		if got["s:size"] {
			t.Error("size compared without CheckSize")
		}
		if len(pl.Actions) != 0 || pl.Unfixed() != len(pl.Issues) {
			t.Errorf("--fix none planned %d actions", len(pl.Actions))
		}
	})
	t.Run("fix", func(t *testing.T) {
		br := setup(t)
		p := pool(t, br...)
		pl, err := Fsck(p, FsckOptions{Fix: FixNewest, CheckSize: true})
		if err != nil {
			t.Fatal(err)
		}
		if !issues(pl)["s:size"] {
			t.Errorf("size issue missing: %+v", pl.Issues)
		}
		run(t, pl, ExecOptions{})
		pl, err = Fsck(p, FsckOptions{Fix: FixNone, CheckSize: true})
		if err != nil {
			t.Fatal(err)
		}
		got := issues(pl)
		if len(got) != 1 || !got["t:type"] {
			t.Errorf("after the fix: %v, want only the unfixable t:type", got)
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(br[0], "s"), &st); err != nil || st.Size != 4<<10 {
			t.Errorf("s on branch 0 not replaced by the newest copy: size %d, %v", st.Size, err)
		}
	})
}

// TestConsolidate gathers a directory onto the branch that holds most of
// it, leaves other directories alone and honours --to.
func TestConsolidate(t *testing.T) {
	br := []string{tmpfs(t, "16m"), tmpfs(t, "16m"), tmpfs(t, "16m")}
	mkfile(t, br[0], "show/a", 1<<20, 0o644)
	mkfile(t, br[1], "show/b", 3<<20, 0o644)
	mkfile(t, br[1], "show/sub/c", 1<<20, 0o644)
	mkfile(t, br[2], "show/sub/d", 1<<20, 0o644)
	mkfile(t, br[2], "movies/x", 1<<20, 0o644)
	p := pool(t, br...)
	scope, err := p.ScopeOf(filepath.Join(br[2], "show"))
	if err != nil || scope != "show" {
		t.Fatalf("ScopeOf = %q, %v", scope, err)
	}
	pl, err := Consolidate(p, ConsolidateOptions{Dir: scope})
	if err != nil {
		t.Fatal(err)
	}
	run(t, pl, ExecOptions{})
	files, _, _ := poolFiles(t, br)
	for _, rel := range []string{"show/a", "show/b", "show/sub/c", "show/sub/d"} {
		if cs := files[rel]; len(cs) != 1 || cs[0].Branch != 1 {
			t.Errorf("%s: %+v, want on branch 1 (held the most)", rel, cs)
		}
	}
	if cs := files["movies/x"]; len(cs) != 1 || cs[0].Branch != 2 {
		t.Errorf("movies/x moved: %+v", cs)
	}
	pl, err = Consolidate(p, ConsolidateOptions{Dir: "show", To: br[0]})
	if err != nil {
		t.Fatal(err)
	}
	run(t, pl, ExecOptions{})
	files, _, _ = poolFiles(t, br)
	for _, rel := range []string{"show/a", "show/b", "show/sub/c", "show/sub/d"} {
		if cs := files[rel]; len(cs) != 1 || cs[0].Branch != 0 {
			t.Errorf("%s: %+v, want on branch 0 (--to)", rel, cs)
		}
	}
	if _, err := Consolidate(p, ConsolidateOptions{Dir: "show", To: "/nowhere"}); err == nil {
		t.Error("--to outside the pool accepted")
	}
	if _, err := p.ScopeOf("/etc"); err == nil {
		t.Error("ScopeOf accepted a path outside the pool")
	}
}

// TestDiscoverMergerfs reads the pool from a real mergerfs mount, from its
// root and from a directory inside it, and checks a dup through
// user.mergerfs.allpaths, which mergerfs answers from its branches.
func TestDiscoverMergerfs(t *testing.T) {
	a, b := tmpfs(t, "8m"), tmpfs(t, "8m")
	mnt := mergerfsMount(t, a+":"+b+"=NC", "minfreespace=1M")
	mkfile(t, a, "dir/f", 64<<10, 0o644)
	p, scope, err := Discover(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if scope != "" || p.Mount != mnt || len(p.Branches) != 2 || p.Branches[0].Path != a || p.Branches[1].Path != b {
		t.Fatalf("Discover(%s) = %+v, scope %q", mnt, p, scope)
	}
	if p.Branches[1].Mode.String() != "NC" || p.MinFree != 1<<20 {
		t.Errorf("mode %v, minfree %d; want NC and 1 MiB", p.Branches[1].Mode, p.MinFree)
	}
	_, scope, err = Discover(filepath.Join(mnt, "dir"))
	if err != nil || scope != "dir" {
		t.Errorf("Discover(mnt/dir): scope %q, %v", scope, err)
	}
	if _, _, err := Discover(a); err == nil {
		t.Error("Discover of a plain directory succeeded")
	}
	// NC: dup may not create there, so with count 2 it has nowhere to go.
	pl, err := Dup(p, DupOptions{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Actions) != 0 {
		t.Errorf("dup onto an NC branch: %s", actionsJSON(t, pl.Actions))
	}
	p.Branches[1].Mode = p.Branches[0].Mode // as if set to RW
	pl, err = Dup(p, DupOptions{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	run(t, pl, ExecOptions{})
	all, err := getxattr(filepath.Join(mnt, "dir/f"), AttrAllPaths)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimRight(all, "\x00"), "\x00")
	if len(got) != 2 {
		t.Errorf("allpaths after dup: %q, want two copies", all)
	}
	// collect-info sees the mount and its keys.
	in := CollectInfo(InfoOptions{Version: "test", Mounts: []string{mnt}})
	if len(in.Mounts) != 1 || in.Mounts[0].Control["srcmounts"] == "" || len(in.Mounts[0].Branches) != 2 {
		t.Fatalf("collect-info: %+v", in)
	}
	var sb strings.Builder
	in.Text(&sb)
	for _, w := range []string{"version: mfs test", "branches=", a, "fuse.mergerfs"} {
		if !strings.Contains(sb.String(), w) {
			t.Errorf("collect-info text lacks %q:\n%s", w, sb.String())
		}
	}
}

// TestFromBranches checks --branches parsing and its errors.
func TestFromBranches(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	p, err := FromBranches(a + "=RW,1G:" + b + "=RO")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Branches) != 2 || p.minFree(0) != 1<<30 || p.canRemove(1) || p.canCreate(1) {
		t.Errorf("got %+v", p.Branches)
	}
	for _, bad := range []string{"", a + "=rw", filepath.Join(a, "missing")} {
		if _, err := FromBranches(bad); err == nil {
			t.Errorf("FromBranches(%q) accepted", bad)
		}
	}
	bs, err := parseBranchValue("/x/a[1]=RW:/y=NC,4G")
	if err != nil || len(bs) != 2 || bs[0].Path != "/x/a[1]" || bs[1].MinFreeSpace != 4<<30 {
		t.Errorf("parseBranchValue: %+v, %v", bs, err)
	}
}
