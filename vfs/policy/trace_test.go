package policy

import (
	"fmt"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTrace pins the exact reports for representative scenarios. levels has
// one entry per scan (msp* add one per climb), each sorted by branch and
// written "branch:reason".
func TestTrace(t *testing.T) {
	type tcase struct {
		name   string
		pol    string
		cat    Category
		rel    string
		br     []fb
		draws  []uint64
		want   []int
		err    unix.Errno
		levels [][]string
		climbs []string
	}
	r := func(i int, why Reason) string { return event{i: i, why: why}.String() }
	cases := []tcase{
		{name: "mfs_create_every_reason", pol: "mfs", cat: C,
			br:   []fb{b(99).ro(), b(98).nc(), b(97).rofs(), b(96).nostat(), b(5).min(10), b(10), b(30), b(20)},
			want: []int{6},
			levels: [][]string{{r(0, ModeRO), r(1, ModeNC), r(2, ReadOnlyFS), r(3, StatfsFailed), r(4, NoSpace),
				r(5, NotChosen), r(7, NotChosen)}}},
		{name: "mfs_create_tie_loser", pol: "mfs", cat: C, br: []fb{b(10), b(10)}, want: []int{1},
			levels: [][]string{{r(0, NotChosen)}}},
		{name: "lus_create_tie_loser", pol: "lus", cat: C, br: []fb{b(10), b(10)}, want: []int{0},
			levels: [][]string{{r(1, NotChosen)}}},
		{name: "epmfs_create_missing_parent", pol: "epmfs", cat: C, rel: "d", br: []fb{b(99), b(10, "d")},
			want: []int{1}, levels: [][]string{{r(0, Missing)}}},
		{name: "ff_create_not_reached", pol: "ff", cat: C, br: []fb{b(1).ro(), b(1), b(1), b(1).ro()},
			want: []int{1}, levels: [][]string{{r(0, ModeRO), r(2, NotReached), r(3, NotReached)}}},
		{name: "epff_action_every_reason", pol: "epff", cat: A, rel: "f",
			br:     []fb{b(1, "f").ro(), b(1), b(1, "f").rofs(), b(1, "f").nostat(), b(1, "f").nc().min(5), b(1, "f")},
			want:   []int{4},
			levels: [][]string{{r(0, ModeRO), r(1, Missing), r(2, ReadOnlyFS), r(3, StatfsFailed), r(5, NotReached)}}},
		{name: "ff_search", pol: "ff", cat: S, rel: "f", br: []fb{b(1), b(1, "f").ro().nostat(), b(1, "f")},
			want: []int{1}, levels: [][]string{{r(0, Missing), r(2, NotReached)}}},
		{name: "mfs_search", pol: "mfs", cat: S, rel: "f", br: []fb{b(1, "f").nostat(), b(1), b(5, "f").ro(), b(3, "f")},
			want: []int{2}, levels: [][]string{{r(0, StatfsFailed), r(1, Missing), r(3, NotChosen)}}},
		{name: "pfrd_losers", pol: "pfrd", cat: C, br: []fb{b(10), b(0), b(30).ro(), b(5)}, draws: []uint64{5},
			want: []int{0}, levels: [][]string{{r(1, NotChosen), r(2, ModeRO), r(3, NotChosen)}}},
		{name: "pfrd_zero_total", pol: "pfrd", cat: C, br: []fb{b(0), b(0).nc(), b(0)}, err: unix.EROFS,
			levels: [][]string{{r(0, NotChosen), r(1, ModeNC), r(2, NotChosen)}}},
		{name: "rand_losers", pol: "rand", cat: C, br: []fb{b(1), b(1).ro(), b(1)}, draws: []uint64{1},
			want: []int{2}, levels: [][]string{{r(0, NotChosen), r(1, ModeRO)}}},
		{name: "all_only_filtered", pol: "all", cat: C, br: []fb{b(1), b(1).ro(), b(1)}, want: []int{0, 2},
			levels: [][]string{{r(1, ModeRO)}}},
		{name: "newest_search", pol: "newest", cat: S, rel: "f", br: []fb{b(1, "f@3"), b(1), b(1, "f@5")},
			want: []int{2}, levels: [][]string{{r(0, NotChosen), r(1, Missing)}}},
		{name: "newest_create_older_branch_keeps_its_reason", pol: "newest", cat: C, rel: "d",
			br: []fb{b(1, "d@9"), b(1, "d@3").rofs()}, want: []int{0}, levels: [][]string{{r(1, ReadOnlyFS)}}},
		{name: "msplfs_climb", pol: "msplfs", cat: C, rel: "a/x/y", br: climb, want: []int{0},
			climbs: []string{"a/x", "a"},
			levels: [][]string{
				{r(0, Missing), r(1, Missing), r(2, Missing)},
				{r(0, Missing), r(1, Missing), r(2, Missing)},
				{r(1, NotChosen), r(2, NotChosen)},
			}},
		{name: "mspmfs_stops_at_root", pol: "mspmfs", cat: C, rel: "x/y", br: []fb{b(1).ro(), b(1).noroot()},
			err: unix.EROFS, climbs: []string{"x", ""},
			levels: [][]string{
				{r(0, ModeRO), r(1, Missing)},
				{r(0, ModeRO), r(1, Missing)},
				{r(0, ModeRO), r(1, Missing)},
			}},
		{name: "msppfrd_zero_space_stops", pol: "msppfrd", cat: C, rel: "a/b", br: []fb{b(0, "a", "a/b"), b(100, "a")},
			err: unix.ENOENT, levels: [][]string{{r(0, NotChosen), r(1, Missing)}}},
		{name: "erofs_reports_nothing", pol: "erofs", cat: C, br: []fb{b(1)}, err: unix.EROFS, levels: [][]string{nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := Lookup(c.pol)
			fe := newEnv(c.br...)
			fe.draws = c.draws
			tr := &tracingEnv{fakeEnv: fe}
			got, e := p.Fn(c.cat)(tr, c.rel, nil)
			if e != c.err || !slices.Equal(got, c.want) {
				t.Errorf("%s %v %q: got %v, %v; want %v, %v", c.pol, c.cat, c.rel, got, e, c.want, c.err)
			}
			var levels [][]string
			for _, l := range tr.levels() {
				var s []string
				for _, ev := range l {
					s = append(s, ev.String())
				}
				levels = append(levels, s)
			}
			if fmt.Sprint(levels) != fmt.Sprint(c.levels) {
				t.Errorf("%s %v %q: trace\n got  %q\n want %q", c.pol, c.cat, c.rel, levels, c.levels)
			}
			if climbs := tr.climbs(); !slices.Equal(climbs, c.climbs) {
				t.Errorf("%s: climbed %q, want %q", c.pol, climbs, c.climbs)
			}
		})
	}
}

// tracerOnly implements Tracer but not Climber.
type tracerOnly struct {
	*fakeEnv
	n int
}

func (t *tracerOnly) Skipped(int, Reason) { t.n++ }

func TestTracerWithoutClimber(t *testing.T) {
	p, _ := Lookup("mspmfs")
	tr := &tracerOnly{fakeEnv: newEnv(b(1), b(2))}
	got, e := p.Create(tr, "x/y", nil)
	if e != 0 || !slices.Equal(got, []int{1}) {
		t.Fatalf("got %v, %v; want [1]", got, e)
	}
	// Two levels with both branches missing, then the root with one loser.
	if tr.n != 5 {
		t.Errorf("Skipped called %d times, want 5", tr.n)
	}
}

// TestEnvCalls checks that a policy consults each branch at most once per
// scan, and only for what it needs.
func TestEnvCalls(t *testing.T) {
	br := []fb{b(1, "f"), b(2, "f"), b(3).ro(), b(4, "f")}
	for _, tc := range []struct {
		pol            string
		cat            Category
		lstats, spaces int
	}{
		{"erofs", C, 0, 0}, {"erofs", A, 0, 0}, {"erofs", S, 0, 0},
		{"mfs", C, 0, 3},     // RO branch: no statvfs
		{"epmfs", C, 3, 3},   // RO branch: no lstat either
		{"all", C, 0, 3},     //
		{"epall", A, 3, 3},   // action reads statvfs for ST_RDONLY
		{"ff", S, 1, 0},      // stops at the first holder, no statvfs
		{"all", S, 4, 0},     // existence only
		{"mfs", S, 4, 3},     // ranks by space: statvfs on holders
		{"newest", S, 4, 0},  // mtime comes with lstat
		{"ff", C, 0, 1},      // first eligible
		{"newest", C, 3, 3},  // path required
		{"pfrd", S, 4, 3},    // weights by space
		{"rand", S, 4, 0},    // existence only
		{"lup", S, 4, 3},     // ranks by space
		{"msplfs", C, 3, 3},  // "f" exists on 3 branches: no climb
		{"eplus", A, 3, 3},   // RO branch skipped before lstat
		{"lus", C, 0, 3},     // non-ep create: no lstat
		{"epff", C, 1, 1},    // the first branch qualifies
		{"eprand", C, 3, 3},  // every RW branch
		{"eppfrd", A, 3, 3},  // every RW branch
		{"newest", A, 3, 3},  // ST_RDONLY for action
		{"epall", S, 4, 0},   // existence only
		{"mspmfs", A, 3, 3},  // = epmfs
		{"msppfrd", S, 4, 3}, // = eppfrd
	} {
		t.Run(fmt.Sprintf("pol=%s/%v", tc.pol, tc.cat), func(t *testing.T) {
			p, _ := Lookup(tc.pol)
			fe := newEnv(br...)
			if _, e := p.Fn(tc.cat)(fe, "f", nil); e != 0 && tc.pol != "erofs" {
				t.Fatalf("failed: %v", e)
			}
			if fe.lstats != tc.lstats || fe.spaces != tc.spaces {
				t.Errorf("Lstat called %d times, Space %d; want %d and %d", fe.lstats, fe.spaces, tc.lstats, tc.spaces)
			}
		})
	}
}
