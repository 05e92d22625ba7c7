package policy

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// This file checks the policies against a reference model written
// separately and plainly (whole-list filtering, then min/max searches, big
// rationals for lup) on many random pools.

// refSpec restates MERGERFS.md §3.3 for the reference model.
var refSpecs = map[string]struct {
	how      string // first, all, mfs, lfs, lus, lup, newest, pfrd, rand, erofs
	epCreate bool   // create requires the parent to exist
	climbing bool   // create climbs (msp*)
	bySpace  bool   // search reads statvfs
}{
	"all":     {how: "all"},
	"epall":   {how: "all", epCreate: true},
	"epff":    {how: "first", epCreate: true},
	"eplfs":   {how: "lfs", epCreate: true, bySpace: true},
	"eplus":   {how: "lus", epCreate: true, bySpace: true},
	"epmfs":   {how: "mfs", epCreate: true, bySpace: true},
	"eppfrd":  {how: "pfrd", epCreate: true, bySpace: true},
	"eprand":  {how: "rand", epCreate: true},
	"erofs":   {how: "erofs"},
	"ff":      {how: "first"},
	"lfs":     {how: "lfs", bySpace: true},
	"lup":     {how: "lup", bySpace: true},
	"lus":     {how: "lus", bySpace: true},
	"mfs":     {how: "mfs", bySpace: true},
	"msplfs":  {how: "lfs", epCreate: true, climbing: true, bySpace: true},
	"msplus":  {how: "lus", epCreate: true, climbing: true, bySpace: true},
	"mspmfs":  {how: "mfs", epCreate: true, climbing: true, bySpace: true},
	"msppfrd": {how: "pfrd", epCreate: true, climbing: true, bySpace: true},
	"newest":  {how: "newest", epCreate: true},
	"pfrd":    {how: "pfrd", bySpace: true},
	"rand":    {how: "rand"},
}

// refReason returns why branch f is not eligible, or none.
func refReason(f fb, exists bool, cat Category, epCreate, bySpace bool) Reason {
	switch cat {
	case CatCreate:
		switch {
		case f.md == RO:
			return ModeRO
		case f.md == NC:
			return ModeNC
		case epCreate && !exists:
			return Missing
		case f.statErr:
			return StatfsFailed
		case f.rdonly:
			return ReadOnlyFS
		case f.av < f.minfree:
			return NoSpace
		}
	case CatAction:
		switch {
		case f.md == RO:
			return ModeRO
		case !exists:
			return Missing
		case f.statErr:
			return StatfsFailed
		case f.rdonly:
			return ReadOnlyFS
		}
	case CatSearch:
		switch {
		case !exists:
			return Missing
		case bySpace && f.statErr:
			return StatfsFailed
		}
	}
	return none
}

var refRank = map[unix.Errno]int{unix.ENOENT: 1, unix.ENOSPC: 2, unix.EROFS: 3}

// refResult is what the reference model expects of one call.
type refResult struct {
	want    []int
	err     unix.Errno
	levels  [][]Reason // per scanned level, each branch's filter reason (none if eligible)
	randN   []uint64   // expected RandN arguments
	choices []int      // for random policies: the candidates the draw chose among
}

func reference(name string, cat Category, fe *fakeEnv, rel string, drawn []uint64) refResult {
	spec := refSpecs[name]
	if spec.how == "erofs" {
		return refResult{err: unix.EROFS}
	}
	var res refResult
	err := unix.ENOENT
	var elig []int
	for {
		reasons := make([]Reason, len(fe.br))
		elig = elig[:0]
		for i, f := range fe.br {
			_, exists := fe.files[i][rel]
			why := refReason(f, exists, cat, spec.epCreate, spec.bySpace)
			reasons[i] = why
			if why == none {
				elig = append(elig, i)
			} else if e := why.Errno(); refRank[e] > refRank[err] {
				err = e
			}
		}
		res.levels = append(res.levels, reasons)
		if len(elig) > 0 || !spec.climbing || cat != CatCreate || rel == "" {
			break
		}
		rel = parent(rel)
	}
	if len(elig) == 0 {
		res.err = err
		return res
	}
	br := fe.br
	pickBy := func(key func(i int) *big.Rat, smallest, lastOnTie bool) int {
		best := key(elig[0])
		for _, i := range elig[1:] {
			c := key(i).Cmp(best)
			if (smallest && c < 0) || (!smallest && c > 0) {
				best = key(i)
			}
		}
		hits := slices.DeleteFunc(slices.Clone(elig), func(i int) bool { return key(i).Cmp(best) != 0 })
		if lastOnTie {
			return hits[len(hits)-1]
		}
		return hits[0]
	}
	u := func(x uint64) *big.Rat { return new(big.Rat).SetInt(new(big.Int).SetUint64(x)) }
	switch spec.how {
	case "first":
		res.want = elig[:1]
	case "all":
		res.want = elig
	case "mfs":
		res.want = []int{pickBy(func(i int) *big.Rat { return u(br[i].av) }, false, true)}
	case "lfs":
		res.want = []int{pickBy(func(i int) *big.Rat { return u(br[i].av) }, true, true)}
	case "lus":
		res.want = []int{pickBy(func(i int) *big.Rat { return u(br[i].us) }, true, false)}
	case "lup":
		res.want = []int{pickBy(func(i int) *big.Rat {
			total := new(big.Int).Add(new(big.Int).SetUint64(br[i].us), new(big.Int).SetUint64(br[i].av))
			if total.Sign() == 0 {
				return new(big.Rat)
			}
			return new(big.Rat).SetFrac(new(big.Int).SetUint64(br[i].us), total)
		}, true, false)}
	case "newest":
		res.want = []int{pickBy(func(i int) *big.Rat {
			_, exists := fe.files[i][rel]
			if !exists {
				panic("newest chose a branch without the path")
			}
			return new(big.Rat).SetInt64(fe.files[i][rel])
		}, false, true)}
	case "rand":
		res.randN = []uint64{uint64(len(elig))}
		res.choices = elig
		res.want = []int{elig[drawn[0]]}
	case "pfrd":
		var total uint64
		for _, i := range elig {
			total += br[i].av // the random pools stay far below 2^64
		}
		res.choices = elig
		if total == 0 {
			res.err = err
			return res
		}
		res.randN = []uint64{total}
		r := drawn[0]
		for _, i := range elig {
			if r < br[i].av {
				res.want = []int{i}
				break
			}
			r -= br[i].av
		}
	}
	return res
}

func TestReferenceSpecsCoverNames(t *testing.T) {
	for _, name := range Names {
		if _, ok := refSpecs[name]; !ok {
			t.Errorf("no reference spec for %q", name)
		}
	}
	if len(refSpecs) != len(Names) {
		t.Errorf("%d reference specs, %d names", len(refSpecs), len(Names))
	}
	for name, spec := range refSpecs {
		p, _ := Lookup(name)
		if p.PathPreserving() != (spec.epCreate && name != "newest") {
			t.Errorf("%s: PathPreserving = %v disagrees with the reference", name, p.PathPreserving())
		}
	}
}

func randomPool(rng *rand.Rand) []fb {
	pick := func(xs ...uint64) uint64 { return xs[rng.IntN(len(xs))] }
	br := make([]fb, rng.IntN(7))
	for i := range br {
		f := b(pick(0, 5, 10, 10, 20, 50)).used(pick(0, 5, 10, 10, 40)).min(pick(0, 0, 0, 8))
		switch rng.IntN(5) {
		case 0:
			f = f.ro()
		case 1:
			f = f.nc()
		}
		if rng.IntN(10) == 0 {
			f = f.rofs()
		}
		if rng.IntN(10) == 0 {
			f = f.nostat()
		}
		if rng.IntN(10) == 0 {
			f = f.noroot()
		}
		for _, p := range []string{"a", "a/b", "a/b/c", "f"} {
			if rng.IntN(2) == 0 {
				f = f.has(fmt.Sprintf("%s@%d", p, pick(1, 2, 2, 3)))
			}
		}
		br[i] = f
	}
	return br
}

// TestReference runs every policy and behaviour on random pools and compares
// the result, the errno, the RandN calls and the trace with the reference.
func TestReference(t *testing.T) {
	rels := []string{"", "a", "a/b", "a/b/c", "f", "x/y"}
	rng := rand.New(rand.NewPCG(42, 7))
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for it := 0; it < iters; it++ {
		br := randomPool(rng)
		rel := rels[rng.IntN(len(rels))]
		for _, name := range Names {
			p, _ := Lookup(name)
			for cat := Category(0); cat < NumCategories; cat++ {
				seed := rng.Uint64()
				fe := newEnv(br...)
				tr := &tracingEnv{fakeEnv: fe}
				var drawn []uint64
				fe.rnd = func(n uint64) uint64 {
					v := splitmix(seed) % n
					drawn = append(drawn, v)
					return v
				}
				got, e := p.Fn(cat)(tr, rel, nil)
				ref := reference(name, cat, fe, rel, drawn)
				where := fmt.Sprintf("%s %v %q on %v", name, cat, rel, br)
				if e != ref.err || !slices.Equal(got, ref.want) {
					t.Fatalf("%s: got %v, %v; reference %v, %v", where, got, e, ref.want, ref.err)
				}
				if !slices.Equal(fe.asked, ref.randN) {
					t.Fatalf("%s: RandN asked %v; reference %v", where, fe.asked, ref.randN)
				}
				checkTrace(t, where, name, tr, len(br), got, e)
				// Every filter reason reported must be the reference's, and
				// every branch the reference filters must be reported so.
				levels := tr.levels()
				if name != "erofs" && len(levels) != len(ref.levels) {
					t.Fatalf("%s: %d levels scanned, reference %d; trace %v", where, len(levels), len(ref.levels), tr.events)
				}
				for li, level := range levels {
					if name == "erofs" {
						break
					}
					for _, ev := range level {
						if ev.why == NotReached {
							// Never examined, so its own state is unknown;
							// it must lie past the branch chosen.
							if refSpecs[name].how != "first" || len(got) != 1 || ev.i <= got[0] {
								t.Fatalf("%s: branch %d reported %v; chosen %v", where, ev.i, ev.why, got)
							}
							continue
						}
						want := ref.levels[li][ev.i]
						if want == none {
							if ev.why != NotChosen {
								t.Fatalf("%s: level %d: branch %d reported %v but is eligible", where, li, ev.i, ev.why)
							}
							continue
						}
						if ev.why != want {
							t.Fatalf("%s: level %d: branch %d reported %v; reference %v", where, li, ev.i, ev.why, want)
						}
					}
				}
				// And the same call without a Tracer must agree.
				fe2 := newEnv(br...)
				fe2.rnd = func(n uint64) uint64 { return splitmix(seed) % n }
				got2, e2 := p.Fn(cat)(fe2, rel, nil)
				if e2 != e || !slices.Equal(got2, got) {
					t.Fatalf("%s: without a Tracer got %v, %v; with one %v, %v", where, got2, e2, got, e)
				}
			}
		}
	}
}

// TestRatioLess compares the exact ratio comparison with big.Rat on edge
// values and random ones.
func TestRatioLess(t *testing.T) {
	edges := []uint64{0, 1, 2, 3, 1 << 32, 1<<32 + 1, 1 << 53, 1<<53 + 1, 1 << 63, 1<<63 + 1, max64 - 1, max64}
	rng := rand.New(rand.NewPCG(3, 4))
	var vals []Space
	for _, u := range edges {
		for _, a := range edges {
			vals = append(vals, Space{Used: u, Avail: a})
		}
	}
	for range 200 {
		vals = append(vals, Space{Used: rng.Uint64() >> rng.UintN(64), Avail: rng.Uint64() >> rng.UintN(64)})
	}
	ratio := func(s Space) *big.Rat {
		total := new(big.Int).Add(new(big.Int).SetUint64(s.Used), new(big.Int).SetUint64(s.Avail))
		if total.Sign() == 0 {
			return new(big.Rat)
		}
		return new(big.Rat).SetFrac(new(big.Int).SetUint64(s.Used), total)
	}
	ratios := make([]*big.Rat, len(vals))
	for i, v := range vals {
		ratios[i] = ratio(v)
	}
	for i, a := range vals {
		for j, b := range vals {
			want := ratios[i].Cmp(ratios[j]) < 0
			if got := ratioLess(a, b); got != want {
				t.Fatalf("ratioLess(%+v, %+v) = %v, want %v", a, b, got, want)
			}
		}
	}
}
