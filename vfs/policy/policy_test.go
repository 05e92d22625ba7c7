package policy

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	C = CatCreate
	A = CatAction
	S = CatSearch
)

func TestLookup(t *testing.T) {
	for _, name := range Names {
		p, ok := Lookup(name)
		if !ok {
			t.Errorf("Lookup(%q) not found, but it is in Names", name)
			continue
		}
		if p.Name() != name || p.String() != name {
			t.Errorf("Lookup(%q).Name() = %q, String() = %q", name, p.Name(), p.String())
		}
		if q, _ := Lookup(name); q != p {
			t.Errorf("Lookup(%q) returned two different policies", name)
		}
	}
	for i := range table {
		if name := table[i].name; !Valid(name) {
			t.Errorf("policy %q is implemented but not in Names", name)
		}
	}
	if len(table) != len(Names) {
		t.Errorf("%d policies implemented, %d in Names", len(table), len(Names))
	}
	for _, name := range []string{"", "eplup", "FF", " ff", "ff ", "mfs\x00", "epnewest"} {
		if p, ok := Lookup(name); ok || p != nil {
			t.Errorf("Lookup(%q) = %v, %v; want nil, false", name, p, ok)
		}
	}
	for c := Category(0); c < NumCategories; c++ {
		if _, ok := Lookup(DefaultPolicy(c)); !ok {
			t.Errorf("default %v policy %q has no implementation", c, DefaultPolicy(c))
		}
	}
}

func TestPathPreserving(t *testing.T) {
	want := map[string]bool{
		"epall": true, "epff": true, "eplfs": true, "eplus": true, "epmfs": true, "eppfrd": true,
		"eprand": true, "msplfs": true, "msplus": true, "mspmfs": true, "msppfrd": true,
	}
	for _, name := range Names {
		p, _ := Lookup(name)
		if got := p.PathPreserving(); got != want[name] {
			t.Errorf("%s.PathPreserving() = %v, want %v", name, got, want[name])
		}
	}
}

// TestFn checks that Fn(c) is the behaviour of category c, on a layout where
// the three behaviours of mfs disagree.
func TestFn(t *testing.T) {
	br := []fb{b(90), b(50, "f").nc(), b(40, "f").ro()}
	want := map[Category][]int{C: {0}, A: {1}, S: {1}}
	p, _ := Lookup("mfs")
	for c := Category(0); c < NumCategories; c++ {
		direct := map[Category]Fn{C: p.Create, A: p.Action, S: p.Search}[c]
		for _, fn := range []Fn{p.Fn(c), direct} {
			got, e := fn(newEnv(br...), "f", nil)
			if e != 0 || !slices.Equal(got, want[c]) {
				t.Errorf("mfs %v: got %v, %v; want %v", c, got, e, want[c])
			}
		}
	}
}

func TestReason(t *testing.T) {
	want := map[Reason]unix.Errno{
		ModeRO: unix.EROFS, ModeNC: unix.EROFS, ReadOnlyFS: unix.EROFS, NoSpace: unix.ENOSPC,
		Missing: unix.ENOENT, StatfsFailed: unix.ENOENT, NotChosen: 0, NotReached: 0,
	}
	seen := map[string]Reason{}
	for r := Reason(1); r < numReasons; r++ {
		e, ok := want[r]
		if !ok {
			t.Errorf("Reason %d (%v) has no expectation", r, r)
		}
		if got := r.Errno(); got != e {
			t.Errorf("%v.Errno() = %v, want %v", r, got, e)
		}
		s := r.String()
		if s == "" || strings.Contains(s, "unknown") {
			t.Errorf("Reason %d has no name: %q", r, s)
		}
		if o, dup := seen[s]; dup {
			t.Errorf("Reasons %d and %d share the name %q", o, r, s)
		}
		seen[s] = r
	}
	if got := Reason(200).String(); got != "unknown reason" {
		t.Errorf("Reason(200).String() = %q", got)
	}
}

func TestParent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {"a", ""}, {"a/b", "a"}, {"a/b/c", "a/b"}, {"dir.d/x y", "dir.d"},
	} {
		if got := parent(tc.in); got != tc.want {
			t.Errorf("parent(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// pcase is one policy scenario. pols lists the policies it applies to; want
// nil means failure with err. asked lists the n of every RandN call (nil:
// RandN must not be called).
type pcase struct {
	pols  string
	cat   Category
	name  string
	br    []fb
	rel   string
	draws []uint64
	want  []int
	err   unix.Errno
	asked []uint64
}

const max64 = math.MaxUint64

// climb is a tree for the msp* tests: a/b/c exists nowhere, a/b on 0 and 2, a on all.
var climb = []fb{
	b(10, "a", "a/b").used(5),
	b(90, "a").used(1),
	b(50, "a", "a/b").used(3),
}

var cases = []pcase{
	// ff / epff
	{pols: "ff", cat: C, name: "first_past_every_filter", rel: "d",
		br:   []fb{b(100).ro(), b(100).nc(), b(100).rofs(), b(100).nostat(), b(5).min(10), b(1), b(100)},
		want: []int{5}},
	{pols: "ff", cat: C, name: "parent_need_not_exist", rel: "d", br: []fb{b(1), b(1, "d")}, want: []int{0}},
	{pols: "ff", cat: C, name: "exactly_minfreespace_is_enough", br: []fb{b(10).min(10)}, want: []int{0}},
	{pols: "epff", cat: C, name: "first_with_parent", rel: "d", br: []fb{b(1), b(1, "d"), b(1, "d")}, want: []int{1}},
	{pols: "ff epff", cat: A, name: "nc_eligible_ro_not", rel: "f",
		br: []fb{b(1, "f").ro(), b(1, "f").nc(), b(1, "f")}, want: []int{1}},
	{pols: "ff epff", cat: A, name: "needs_path", rel: "f", br: []fb{b(1), b(1, "f")}, want: []int{1}},
	{pols: "ff epff", cat: A, name: "minfreespace_ignored", rel: "f", br: []fb{b(0, "f").min(100)}, want: []int{0}},
	{pols: "ff epff", cat: A, name: "readonly_fs_skipped", rel: "f", br: []fb{b(1, "f").rofs(), b(1, "f")}, want: []int{1}},
	{pols: "ff epff", cat: A, name: "statfs_failure_skipped", rel: "f", br: []fb{b(1, "f").nostat(), b(1, "f")}, want: []int{1}},
	{pols: "ff epff", cat: S, name: "first_holder_whatever_its_state", rel: "f",
		br: []fb{b(1), b(1, "f").ro().rofs().nostat(), b(1, "f")}, want: []int{1}},
	{pols: "ff epff", cat: S, name: "root", rel: "", br: []fb{b(1).noroot(), b(1)}, want: []int{1}},

	// mfs / epmfs (mspmfs shares action and search)
	{pols: "mfs", cat: C, name: "most_free", br: []fb{b(10), b(50), b(30)}, want: []int{1}},
	{pols: "mfs epmfs mspmfs", cat: C, name: "tie_goes_to_last", rel: "d",
		br: []fb{b(50, "d"), b(10, "d"), b(50, "d"), b(40, "d")}, want: []int{2}},
	{pols: "mfs", cat: C, name: "parent_need_not_exist", rel: "d", br: []fb{b(10, "d"), b(50)}, want: []int{1}},
	{pols: "epmfs", cat: C, name: "only_with_parent", rel: "d", br: []fb{b(90), b(30, "d"), b(40, "d")}, want: []int{2}},
	{pols: "mfs", cat: C, name: "minfreespace_filters_the_biggest", br: []fb{b(100).min(200), b(50)}, want: []int{1}},
	{pols: "mfs", cat: C, name: "create_filters", rel: "d",
		br:   []fb{b(99).ro(), b(98).nc(), b(97).rofs(), b(96).nostat(), b(95).min(100), b(1), b(2), b(1)},
		want: []int{6}},
	{pols: "mfs epmfs mspmfs", cat: A, name: "holders_nc_and_full_included", rel: "f",
		br:   []fb{b(90), b(80, "f").ro(), b(70, "f").rofs(), b(60, "f").nostat(), b(40, "f").nc().min(100), b(30, "f")},
		want: []int{4}},
	{pols: "mfs epmfs mspmfs", cat: A, name: "tie_goes_to_last", rel: "f",
		br: []fb{b(7, "f"), b(7, "f"), b(3, "f")}, want: []int{1}},
	{pols: "mfs epmfs mspmfs", cat: S, name: "holders_mode_and_rofs_ignored", rel: "f",
		br: []fb{b(100), b(50, "f").ro().rofs(), b(99, "f").nostat(), b(15, "f").nc()}, want: []int{1}},
	{pols: "mfs epmfs mspmfs", cat: S, name: "tie_goes_to_last", rel: "f",
		br: []fb{b(5, "f"), b(5, "f"), b(1, "f")}, want: []int{1}},
	{pols: "mfs epmfs mspmfs", cat: S, name: "statfs_failure_is_enoent", rel: "f",
		br: []fb{b(5, "f").nostat()}, err: unix.ENOENT},

	// lfs / eplfs
	{pols: "lfs", cat: C, name: "least_free", br: []fb{b(30), b(10), b(20)}, want: []int{1}},
	{pols: "lfs eplfs msplfs", cat: C, name: "tie_goes_to_last", rel: "d",
		br: []fb{b(10, "d"), b(30, "d"), b(10, "d")}, want: []int{2}},
	{pols: "lfs", cat: C, name: "minfreespace_filters_the_smallest", br: []fb{b(5).min(10), b(20), b(15)}, want: []int{2}},
	{pols: "lfs", cat: C, name: "zero_free_qualifies_without_minfreespace", br: []fb{b(5), b(0)}, want: []int{1}},
	{pols: "eplfs", cat: C, name: "only_with_parent", rel: "d", br: []fb{b(1), b(20, "d"), b(15, "d")}, want: []int{2}},
	{pols: "lfs eplfs msplfs", cat: A, name: "least_free_holder", rel: "f",
		br: []fb{b(1), b(2, "f").ro(), b(50, "f").nc(), b(40, "f").min(100)}, want: []int{3}},
	{pols: "lfs eplfs msplfs", cat: A, name: "tie_goes_to_last", rel: "f",
		br: []fb{b(3, "f"), b(3, "f"), b(9, "f")}, want: []int{1}},
	{pols: "lfs eplfs msplfs", cat: S, name: "least_free_holder_mode_ignored", rel: "f",
		br: []fb{b(1), b(2, "f").nostat(), b(3, "f").ro().rofs(), b(9, "f")}, want: []int{2}},
	{pols: "lfs eplfs msplfs", cat: S, name: "tie_goes_to_last", rel: "f",
		br: []fb{b(3, "f"), b(3, "f")}, want: []int{1}},

	// lus / eplus
	{pols: "lus", cat: C, name: "least_used", br: []fb{b(1).used(30), b(1).used(10), b(1).used(20)}, want: []int{1}},
	{pols: "lus eplus msplus", cat: C, name: "tie_goes_to_first", rel: "d",
		br: []fb{b(1, "d").used(20), b(1, "d").used(10), b(1, "d").used(10)}, want: []int{1}},
	{pols: "lus", cat: C, name: "minfreespace_checks_avail", br: []fb{b(5).min(10), b(50).used(90)}, want: []int{1}},
	{pols: "eplus", cat: C, name: "only_with_parent", rel: "d", br: []fb{b(1), b(1, "d").used(5)}, want: []int{1}},
	{pols: "lus eplus msplus", cat: A, name: "least_used_holder_nc_included", rel: "f",
		br: []fb{b(1), b(1, "f").used(1).ro(), b(1, "f").used(5).nc(), b(1, "f").used(7)}, want: []int{2}},
	{pols: "lus eplus msplus", cat: A, name: "tie_goes_to_first", rel: "f",
		br: []fb{b(1, "f").used(4), b(1, "f").used(4)}, want: []int{0}},
	{pols: "lus eplus msplus", cat: S, name: "least_used_holder", rel: "f",
		br: []fb{b(1, "f").used(1).nostat(), b(1, "f").used(3).ro(), b(1, "f").used(3)}, want: []int{1}},

	// lup
	{pols: "lup", cat: C, name: "least_used_ratio", br: []fb{b(50).used(50), b(10).used(90), b(80).used(20)}, want: []int{2}},
	{pols: "lup", cat: C, name: "tie_goes_to_first", br: []fb{b(50).used(50), b(70).used(30), b(140).used(60)}, want: []int{1}},
	{pols: "lup", cat: C, name: "parent_need_not_exist", rel: "d", br: []fb{b(1, "d").used(1), b(9).used(1)}, want: []int{1}},
	{pols: "lup", cat: C, name: "create_filters", rel: "d",
		br:   []fb{b(99).ro(), b(99).nc(), b(99).rofs(), b(99).nostat(), b(99).used(1).min(100), b(50).used(50)},
		want: []int{5}},
	{pols: "lup", cat: C, name: "exact_beyond_float64_mantissa",
		br: []fb{b(1<<53 + 1).used(1<<53 + 1), b(1<<53 + 1).used(1 << 53)}, want: []int{1}},
	{pols: "lup", cat: C, name: "exact_products_beyond_64_bits",
		br: []fb{b(1<<58 - 1<<40).used(1 << 40), b(1<<60 - 3<<40).used(3 << 40)}, want: []int{1}},
	{pols: "lup", cat: C, name: "exact_totals_beyond_64_bits",
		br: []fb{b(1).used(1), b(1<<63 + 2).used(1 << 63)}, want: []int{1}},
	{pols: "lup", cat: C, name: "totals_beyond_64_bits_tie",
		br: []fb{b(1).used(1), b(max64).used(max64)}, want: []int{0}},
	{pols: "lup", cat: C, name: "no_space_at_all_counts_as_empty", br: []fb{b(99).used(1), b(0)}, want: []int{1}},
	{pols: "lup", cat: C, name: "empty_ties_with_no_space_at_all", br: []fb{b(5), b(0)}, want: []int{0}},
	{pols: "lup", cat: A, name: "needs_path", rel: "f",
		br: []fb{b(90).used(10), b(50, "f").used(50), b(80, "f").used(20), b(99, "f").used(1).ro()}, want: []int{2}},
	{pols: "lup", cat: A, name: "nc_included_minfreespace_ignored", rel: "f",
		br: []fb{b(50, "f").used(50), b(1, "f").nc().min(100), b(99, "f").rofs()}, want: []int{1}},
	{pols: "lup", cat: A, name: "statfs_failure_skipped", rel: "f",
		br: []fb{b(1, "f").nostat(), b(1, "f").used(1)}, want: []int{1}},
	{pols: "lup", cat: S, name: "holders_mode_ignored", rel: "f",
		br:   []fb{b(99, "f").used(1).nostat(), b(90, "f").used(10).ro().rofs(), b(20, "f").used(80), b(99).used(1)},
		want: []int{1}},
	{pols: "lup", cat: S, name: "exact", rel: "f",
		br: []fb{b(1<<53+1, "f").used(1<<53 + 1), b(1<<53+1, "f").used(1 << 53)}, want: []int{1}},

	// pfrd / eppfrd (msppfrd shares action and search); the draw-to-branch
	// mapping is in TestPfrdMapping.
	{pols: "pfrd", cat: C, name: "filters_before_weighting", draws: []uint64{10}, asked: []uint64{40},
		br:   []fb{b(1000).ro(), b(10), b(500).min(600), b(30), b(700).rofs(), b(800).nostat(), b(900).nc()},
		want: []int{3}},
	{pols: "pfrd", cat: C, name: "parent_need_not_exist", rel: "d", draws: []uint64{15}, asked: []uint64{40},
		br: []fb{b(10, "d"), b(30)}, want: []int{1}},
	{pols: "eppfrd msppfrd", cat: C, name: "only_with_parent", rel: "d", draws: []uint64{10}, asked: []uint64{40},
		br: []fb{b(100), b(10, "d"), b(30, "d")}, want: []int{2}},
	{pols: "pfrd eppfrd msppfrd", cat: A, name: "holders_nc_and_full_included", rel: "f", draws: []uint64{9}, asked: []uint64{40},
		br: []fb{b(100), b(20, "f").ro(), b(10, "f").nc().min(50), b(30, "f"), b(40, "f").rofs()}, want: []int{2}},
	{pols: "pfrd eppfrd msppfrd", cat: A, name: "holders_second", rel: "f", draws: []uint64{10}, asked: []uint64{40},
		br: []fb{b(100), b(20, "f").ro(), b(10, "f").nc().min(50), b(30, "f"), b(40, "f").rofs()}, want: []int{3}},
	{pols: "pfrd eppfrd msppfrd", cat: S, name: "holders_mode_ignored", rel: "f", draws: []uint64{19}, asked: []uint64{50},
		br: []fb{b(100), b(20, "f").ro().rofs(), b(10, "f").nostat(), b(30, "f")}, want: []int{1}},
	{pols: "pfrd eppfrd msppfrd", cat: S, name: "holders_second", rel: "f", draws: []uint64{20}, asked: []uint64{50},
		br: []fb{b(100), b(20, "f").ro().rofs(), b(10, "f").nostat(), b(30, "f")}, want: []int{3}},
	{pols: "pfrd", cat: C, name: "single_candidate", draws: []uint64{6}, asked: []uint64{7}, br: []fb{b(7)}, want: []int{0}},
	{pols: "pfrd", cat: C, name: "zero_total_chooses_nothing", br: []fb{b(0), b(0)}, err: unix.ENOENT},
	{pols: "pfrd", cat: C, name: "zero_total_keeps_erofs", br: []fb{b(0), b(5).ro()}, err: unix.EROFS},
	{pols: "pfrd", cat: C, name: "zero_total_keeps_enospc", br: []fb{b(0), b(5).min(10)}, err: unix.ENOSPC},
	{pols: "pfrd eppfrd msppfrd", cat: A, name: "zero_total", rel: "f", br: []fb{b(0, "f"), b(9, "f").ro()}, err: unix.EROFS},
	{pols: "pfrd eppfrd msppfrd", cat: S, name: "zero_total", rel: "f", br: []fb{b(0, "f"), b(9).ro()}, err: unix.ENOENT},
	{pols: "pfrd", cat: C, name: "total_beyond_64_bits_is_scaled", draws: []uint64{1<<62 - 1}, asked: []uint64{1<<63 - 2},
		br: []fb{b(max64), b(max64), b(2)}, want: []int{1}},
	{pols: "pfrd", cat: C, name: "total_beyond_64_bits_first", draws: []uint64{1<<62 - 2}, asked: []uint64{1<<63 - 2},
		br: []fb{b(max64), b(max64), b(2)}, want: []int{0}},
	{pols: "pfrd", cat: C, name: "total_exactly_64_bits_is_not_scaled", draws: []uint64{max64 - 1}, asked: []uint64{max64},
		br: []fb{b(max64 - 1), b(1)}, want: []int{1}},

	// rand / eprand
	{pols: "rand", cat: C, name: "uniform_over_all_first", rel: "d", draws: []uint64{0}, asked: []uint64{3},
		br: []fb{b(1).ro(), b(1), b(1, "d"), b(5).min(10), b(1)}, want: []int{1}},
	{pols: "rand", cat: C, name: "uniform_over_all_second", rel: "d", draws: []uint64{1}, asked: []uint64{3},
		br: []fb{b(1).ro(), b(1), b(1, "d"), b(5).min(10), b(1)}, want: []int{2}},
	{pols: "rand", cat: C, name: "uniform_over_all_third", rel: "d", draws: []uint64{2}, asked: []uint64{3},
		br: []fb{b(1).ro(), b(1), b(1, "d"), b(5).min(10), b(1)}, want: []int{4}},
	{pols: "eprand", cat: C, name: "uniform_over_epall", rel: "d", draws: []uint64{1}, asked: []uint64{2},
		br: []fb{b(1), b(1, "d"), b(1, "d").nc(), b(1, "d")}, want: []int{3}},
	{pols: "rand eprand", cat: A, name: "uniform_over_epall", rel: "f", draws: []uint64{1}, asked: []uint64{2},
		br: []fb{b(1, "f").ro(), b(1, "f").nc(), b(1), b(1, "f").rofs(), b(0, "f").min(5)}, want: []int{4}},
	{pols: "rand eprand", cat: S, name: "uniform_over_holders", rel: "f", draws: []uint64{1}, asked: []uint64{2},
		br: []fb{b(1, "f").ro(), b(1), b(1, "f").nostat()}, want: []int{2}},
	{pols: "rand eprand", cat: S, name: "single_holder", rel: "f", draws: []uint64{0}, asked: []uint64{1},
		br: []fb{b(1), b(1, "f")}, want: []int{1}},
	{pols: "rand", cat: C, name: "none_keeps_erofs", br: []fb{b(1).nc(), b(0).min(1)}, err: unix.EROFS},

	// all / epall
	{pols: "all", cat: C, name: "every_eligible_in_order", rel: "d",
		br: []fb{b(1).ro(), b(1), b(5).min(10), b(1, "d"), b(1).rofs(), b(1).nostat(), b(1).nc(), b(2)}, want: []int{1, 3, 7}},
	{pols: "epall", cat: C, name: "every_eligible_with_parent", rel: "d",
		br: []fb{b(1), b(1, "d"), b(1, "d").nc(), b(1, "d")}, want: []int{1, 3}},
	{pols: "all epall", cat: A, name: "every_eligible_holder", rel: "f",
		br:   []fb{b(1, "f").ro(), b(1, "f").nc(), b(1), b(1, "f").rofs(), b(0, "f").min(9), b(1, "f").nostat()},
		want: []int{1, 4}},
	{pols: "all epall", cat: S, name: "every_holder", rel: "f",
		br: []fb{b(1, "f").ro().rofs().nostat(), b(1), b(1, "f").nc()}, want: []int{0, 2}},

	// newest
	{pols: "newest", cat: C, name: "latest_mtime", rel: "d", br: []fb{b(1, "d@5"), b(1, "d@9"), b(1, "d@7")}, want: []int{1}},
	{pols: "newest", cat: C, name: "tie_goes_to_last", rel: "d", br: []fb{b(1, "d@9"), b(1, "d@9"), b(1, "d@7")}, want: []int{1}},
	{pols: "newest", cat: C, name: "parent_must_exist", rel: "d", br: []fb{b(1), b(1, "d@3")}, want: []int{1}},
	{pols: "newest", cat: C, name: "create_filters", rel: "d",
		br:   []fb{b(1, "d@9").ro(), b(1, "d@9").nc(), b(1, "d@9").rofs(), b(5, "d@9").min(10), b(1, "d@9").nostat(), b(1, "d@1")},
		want: []int{5}},
	{pols: "newest", cat: A, name: "latest_eligible_holder", rel: "f",
		br: []fb{b(1, "f@9").ro(), b(1, "f@8").nc().min(5), b(1, "f@9").rofs(), b(1, "f@3"), b(1)}, want: []int{1}},
	{pols: "newest", cat: A, name: "tie_goes_to_last", rel: "f", br: []fb{b(1, "f@4"), b(1, "f@4"), b(1, "f@2")}, want: []int{1}},
	{pols: "newest", cat: S, name: "latest_holder_any_state", rel: "f",
		br: []fb{b(1, "f@1"), b(1, "f@9").ro().rofs().nostat(), b(1, "f@2"), b(1)}, want: []int{1}},
	{pols: "newest", cat: S, name: "tie_goes_to_last", rel: "f", br: []fb{b(1, "f@4"), b(1, "f@4")}, want: []int{1}},
	{pols: "newest", cat: S, name: "before_1970", rel: "f", br: []fb{b(1, "f@-5"), b(1, "f@-3"), b(1, "f@-9")}, want: []int{1}},

	// msp*: climbing (create only)
	{pols: "mspmfs", cat: C, name: "climbs_to_parent", rel: "a/b/c", br: climb, want: []int{2}},
	{pols: "msplfs", cat: C, name: "climbs_to_parent", rel: "a/b/c", br: climb, want: []int{0}},
	{pols: "msplus", cat: C, name: "climbs_to_parent", rel: "a/b/c", br: climb, want: []int{2}},
	{pols: "msppfrd", cat: C, name: "climbs_to_parent", rel: "a/b/c", br: climb, draws: []uint64{9}, asked: []uint64{60}, want: []int{0}},
	{pols: "msppfrd", cat: C, name: "climbs_to_parent_second", rel: "a/b/c", br: climb, draws: []uint64{10}, asked: []uint64{60}, want: []int{2}},
	{pols: "mspmfs", cat: C, name: "climbs_two_levels", rel: "a/x/y", br: climb, want: []int{1}},
	{pols: "msplfs", cat: C, name: "climbs_two_levels", rel: "a/x/y", br: climb, want: []int{0}},
	{pols: "msplus", cat: C, name: "climbs_two_levels", rel: "a/x/y", br: climb, want: []int{1}},
	{pols: "mspmfs", cat: C, name: "no_climb_when_parent_qualifies", rel: "d", br: []fb{b(10, "d"), b(90)}, want: []int{0}},
	{pols: "msppfrd", cat: C, name: "no_climb_when_parent_qualifies", rel: "d", br: []fb{b(10, "d"), b(90)},
		draws: []uint64{9}, asked: []uint64{10}, want: []int{0}},
	{pols: "mspmfs", cat: C, name: "climbs_to_root", rel: "x/y/z", br: []fb{b(10), b(90), b(90)}, want: []int{2}},
	{pols: "msplfs", cat: C, name: "climbs_to_root", rel: "x/y/z", br: []fb{b(10), b(90), b(10)}, want: []int{2}},
	{pols: "msplus", cat: C, name: "climbs_to_root", rel: "x/y/z", br: []fb{b(10).used(3), b(90).used(3)}, want: []int{0}},
	{pols: "msppfrd", cat: C, name: "climbs_to_root", rel: "x/y/z", br: []fb{b(10), b(90)},
		draws: []uint64{10}, asked: []uint64{100}, want: []int{1}},
	{pols: "mspmfs msplfs msplus", cat: C, name: "root_parent", rel: "", br: []fb{b(10).noroot(), b(20)}, want: []int{1}},
	{pols: "msppfrd", cat: C, name: "root_parent", rel: "", br: []fb{b(10).noroot(), b(20)},
		draws: []uint64{0}, asked: []uint64{20}, want: []int{1}},
	{pols: "mspmfs msplfs msplus msppfrd", cat: C, name: "stops_at_root_erofs", rel: "x/y",
		br: []fb{b(10).ro(), b(5).min(10)}, err: unix.EROFS},
	{pols: "mspmfs msplfs msplus msppfrd", cat: C, name: "stops_at_root_enospc", rel: "x/y",
		br: []fb{b(5).min(10), b(10).noroot()}, err: unix.ENOSPC},
	{pols: "mspmfs msplfs msplus msppfrd", cat: C, name: "stops_at_root_enoent", rel: "x/y", br: []fb{b(10).noroot()}, err: unix.ENOENT},
	{pols: "mspmfs msplfs msplus msppfrd", cat: C, name: "no_branches", rel: "x/y", err: unix.ENOENT},
	{pols: "msppfrd", cat: C, name: "zero_space_level_ends_climb", rel: "a/b",
		br: []fb{b(0, "a", "a/b"), b(100, "a")}, err: unix.ENOENT},
	{pols: "mspmfs msplfs msplus", cat: C, name: "zero_space_branch_qualifies", rel: "a/b",
		br: []fb{b(0, "a", "a/b"), b(100, "a")}, want: []int{0}},
	{pols: "mspmfs msplfs msplus msppfrd", cat: A, name: "action_does_not_climb", rel: "a/b/c", br: climb, err: unix.ENOENT},
	{pols: "mspmfs msplfs msplus msppfrd", cat: S, name: "search_does_not_climb", rel: "a/b/c", br: climb, err: unix.ENOENT},
	{pols: "mspmfs", cat: A, name: "action_is_epmfs", rel: "a", br: climb, want: []int{1}},
	{pols: "msplfs", cat: S, name: "search_is_eplfs", rel: "a", br: climb, want: []int{0}},

	// erofs
	{pols: "erofs", cat: C, name: "always", rel: "d", br: []fb{b(100, "d")}, err: unix.EROFS},
	{pols: "erofs", cat: A, name: "always", rel: "f", br: []fb{b(100, "f")}, err: unix.EROFS},
	{pols: "erofs", cat: S, name: "always", rel: "f", br: []fb{b(100, "f")}, err: unix.EROFS},
	{pols: "erofs", cat: C, name: "no_branches", err: unix.EROFS},
}

// TestPolicies runs every scenario in cases, and the generated ones, for each
// policy it names, with and without a Tracer.
func TestPolicies(t *testing.T) {
	all := slices.Clone(cases)
	all = append(all, noBranches()...)
	all = append(all, precedence()...)
	all = append(all, pfrdMapping()...)
	for _, c := range all {
		for _, name := range strings.Fields(c.pols) {
			t.Run(fmt.Sprintf("pol=%s/%v/%s", name, c.cat, c.name), func(t *testing.T) {
				runCase(t, name, c)
			})
		}
	}
}

func runCase(t *testing.T, name string, c pcase) {
	t.Helper()
	p, ok := Lookup(name)
	if !ok {
		t.Fatalf("no policy %q", name)
	}
	// Run plainly with a full dst (cap 1, so appends reallocate), then with a
	// Tracer and spare capacity; both must give the same answer.
	for _, traced := range []bool{false, true} {
		fe := newEnv(c.br...)
		fe.draws = slices.Clone(c.draws)
		var env Env = fe
		var tr *tracingEnv
		dst := []int{-7}
		if traced {
			tr = &tracingEnv{fakeEnv: fe}
			env = tr
			dst = make([]int, 1, 64)
			dst[0] = -7
		}
		got, e := p.Fn(c.cat)(env, c.rel, dst)
		where := fmt.Sprintf("%s %v %q (traced=%v) on %v", name, c.cat, c.rel, traced, c.br)
		if c.want == nil {
			if e != c.err || e == 0 {
				t.Errorf("%s: got %v, %v; want error %v", where, got, e, c.err)
			}
			if len(got) != 1 || got[0] != -7 || &got[0] != &dst[0] {
				t.Errorf("%s: on failure dst changed to %v", where, got)
			}
		} else {
			want := append([]int{-7}, c.want...)
			if e != 0 || !slices.Equal(got, want[:]) {
				t.Errorf("%s: got %v, %v; want %v", where, got[1:], e, c.want)
			}
		}
		if !slices.Equal(fe.asked, c.asked) {
			t.Errorf("%s: RandN asked for %v, want %v", where, fe.asked, c.asked)
		}
		if len(fe.bad) != 0 {
			t.Errorf("%s: test draws out of range: %v", where, fe.bad)
		}
		if traced {
			checkTrace(t, where, name, tr, len(c.br), got[1:], e)
		}
	}
}

// checkTrace checks what every trace must satisfy: at each level (msp* add
// one per climb), every branch is either chosen (last level only) or reported
// exactly once, and a failure's errno is the fold of the reported reasons.
func checkTrace(t *testing.T, where, name string, tr *tracingEnv, nb int, chosen []int, e unix.Errno) {
	t.Helper()
	if name == "erofs" {
		if len(tr.events) != 0 {
			t.Errorf("%s: erofs reported %v", where, tr.events)
		}
		return
	}
	levels := tr.levels()
	for li, level := range levels {
		seen := make([]int, nb)
		for _, ev := range level {
			if ev.i >= nb {
				t.Errorf("%s: level %d reported branch %d of %d", where, li, ev.i, nb)
				continue
			}
			seen[ev.i]++
		}
		if li == len(levels)-1 {
			for _, i := range chosen {
				seen[i]++
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Errorf("%s: level %d: branch %d chosen or reported %d times; trace %v", where, li, i, n, tr.events)
			}
		}
	}
	if e == 0 {
		return
	}
	want := unix.ENOENT
	for _, ev := range tr.events {
		if ev.i >= 0 && severity(ev.why.Errno()) > severity(want) {
			want = ev.why.Errno()
		}
	}
	if e != want {
		t.Errorf("%s: failed with %v but the trace %v folds to %v", where, e, tr.events, want)
	}
}

// noBranches: with no branches every policy but erofs fails with ENOENT.
func noBranches() []pcase {
	var out []pcase
	for _, name := range Names {
		if name == "erofs" {
			continue
		}
		for c := Category(0); c < NumCategories; c++ {
			out = append(out, pcase{pols: name, cat: c, name: "no_branches", rel: "f", err: unix.ENOENT})
		}
	}
	return out
}

// epCreate lists the policies whose create requires the parent to exist.
var epCreate = map[string]bool{
	"epall": true, "epff": true, "eplfs": true, "eplus": true, "epmfs": true, "eppfrd": true, "eprand": true,
	"msplfs": true, "msplus": true, "mspmfs": true, "msppfrd": true, "newest": true,
}

// precedence crosses every policy but erofs with scenarios in which no
// branch is eligible, and checks the folded errno: EROFS > ENOSPC > ENOENT.
func precedence() []pcase {
	missing := b(100).noroot() // has neither d nor, for msp*, the root
	full := b(5, "d", "f").min(10)
	ok := func(f fb) fb { return f.has("d", "f") }
	type scen struct {
		name   string
		cat    Category
		br     []fb
		err    unix.Errno
		epOnly bool // needs a missing parent to fail (create only)
	}
	scens := []scen{
		{"missing_only", C, []fb{missing}, unix.ENOENT, true},
		{"statfs_only", C, []fb{ok(b(9).nostat())}, unix.ENOENT, false},
		{"enospc_over_enoent", C, []fb{missing, full}, unix.ENOSPC, true},
		{"enospc_over_enoent_reversed", C, []fb{full, missing}, unix.ENOSPC, true},
		{"enospc_over_statfs", C, []fb{ok(b(9).nostat()), full}, unix.ENOSPC, false},
		{"enospc_only", C, []fb{full, full}, unix.ENOSPC, false},
		{"rofs_over_enospc", C, []fb{full, ok(b(9).rofs())}, unix.EROFS, false},
		{"ro_over_enospc", C, []fb{ok(b(9).ro()), full}, unix.EROFS, false},
		{"ro_over_enospc_reversed", C, []fb{full, ok(b(9).ro())}, unix.EROFS, false},
		{"nc_over_enospc", C, []fb{full, ok(b(9).nc())}, unix.EROFS, false},
		{"ro_over_enoent", C, []fb{missing, b(9).ro()}, unix.EROFS, true},
		{"ro_over_statfs", C, []fb{ok(b(9).nostat()), b(9).ro()}, unix.EROFS, false},
		{"mode_checked_before_existence", C, []fb{b(9).nc().noroot()}, unix.EROFS, false},
		{"every_reason", C, []fb{missing, full, ok(b(9).nostat()), ok(b(9).rofs()), missing}, unix.EROFS, true},
		{"missing", A, []fb{b(1)}, unix.ENOENT, false},
		{"nc_missing", A, []fb{b(1).nc()}, unix.ENOENT, false},
		{"statfs", A, []fb{ok(b(1).nostat())}, unix.ENOENT, false},
		{"ro_over_enoent", A, []fb{b(1), ok(b(1).ro())}, unix.EROFS, false},
		{"ro_over_enoent_reversed", A, []fb{ok(b(1).ro()), b(1)}, unix.EROFS, false},
		{"ro_missing", A, []fb{b(1).ro()}, unix.EROFS, false},
		{"rofs", A, []fb{ok(b(1).rofs())}, unix.EROFS, false},
		{"rofs_over_statfs", A, []fb{ok(b(1).nostat()), ok(b(1).rofs())}, unix.EROFS, false},
		{"search_is_always_enoent", S, []fb{b(1).ro().rofs(), b(1).nc(), b(0).min(10)}, unix.ENOENT, false},
	}
	var out []pcase
	for _, s := range scens {
		rel := "d"
		if s.cat != C {
			rel = "f"
		}
		for _, name := range Names {
			if name == "erofs" || (s.epOnly && !epCreate[name]) {
				continue
			}
			out = append(out, pcase{pols: name, cat: s.cat, name: "precedence_" + s.name, rel: rel, br: s.br, err: s.err})
		}
	}
	return out
}

// pfrdMapping checks which branch each draw maps to: with space available
// 10, 0, 30 and 60, draws [0,10) pick branch 0, [10,40) branch 2 and
// [40,100) branch 3; branch 1 can never win.
func pfrdMapping() []pcase {
	br := []fb{b(10, "d", "f"), b(0, "d", "f"), b(30, "d", "f"), b(60, "d", "f")}
	draws := []struct {
		r    uint64
		want int
	}{{0, 0}, {9, 0}, {10, 2}, {39, 2}, {40, 3}, {99, 3}}
	var out []pcase
	for _, d := range draws {
		for c := Category(0); c < NumCategories; c++ {
			out = append(out, pcase{
				pols: "pfrd eppfrd msppfrd", cat: c, name: fmt.Sprintf("draw=%d", d.r), rel: "d",
				br: br, draws: []uint64{d.r}, asked: []uint64{100}, want: []int{d.want},
			})
		}
	}
	return out
}
