package policy

import (
	"math/bits"
	"strings"

	"golang.org/x/sys/unix"
)

// strategy is how a behaviour chooses among the eligible branches.
type strategy uint8

const (
	refuse   strategy = iota // erofs: always EROFS, no branch is looked at
	first                    // ff: the first eligible branch
	every                    // all: every eligible branch
	maxAvail                 // mfs: most space available; a tie goes to the last
	minAvail                 // lfs: least space available; a tie goes to the last
	minUsed                  // lus: least space used; a tie goes to the first
	minRatio                 // lup: least used/(used+avail); a tie goes to the first
	latest                   // newest: largest mtime; a tie goes to the last
	weighted                 // pfrd: random, weighted by space available
	uniform                  // rand: random among every eligible branch
)

// ranksBySpace reports whether the strategy reads statvfs figures even when
// searching, so that a branch whose statvfs fails is left out of the search.
func (h strategy) ranksBySpace() bool {
	switch h {
	case maxAvail, minAvail, minUsed, minRatio, weighted:
		return true
	}
	return false
}

// rule is one behaviour of a policy.
type rule struct {
	how   strategy
	ep    bool // create only: the path must exist (action and search always require it)
	climb bool // create only (msp*): while no branch is eligible, retry on the parent dir
}

// run carries out rule r of category cat. See Fn for the contract.
func run(cat Category, r rule, env Env, rel string, dst []int) ([]int, unix.Errno) {
	if r.how == refuse {
		return dst, unix.EROFS
	}
	s := scan{
		env:   env,
		cat:   cat,
		ep:    r.ep || cat != CatCreate,
		space: cat != CatSearch || r.how.ranksBySpace(),
		err:   unix.ENOENT,
	}
	s.tr, _ = env.(Tracer)
	out, n := s.pick(r.how, rel, dst)
	if r.climb && cat == CatCreate {
		// The error keeps folding across levels. mergerfs stops when the path
		// is "/", which a relative path never is; the root here is "".
		for n == 0 && rel != "" {
			rel = parent(rel)
			if c, ok := s.tr.(Climber); ok {
				c.Climbed(rel)
			}
			out, n = s.pick(r.how, rel, dst)
		}
	}
	if len(out) == len(dst) {
		return dst, s.err
	}
	return out, 0
}

// parent returns the directory holding rel ("" for a top-level name and for the root).
func parent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// scan is the state of one policy call.
type scan struct {
	env   Env
	tr    Tracer // env, when it implements Tracer
	cat   Category
	ep    bool       // the path must exist on the branch
	space bool       // read statvfs (and drop the branch if it fails)
	err   unix.Errno // the folded error, starting at ENOENT
}

// eval decides whether branch i is eligible for rel. It returns the branch's
// figures (Space only if s.space, mtime only if s.ep) and none, or the first
// reason that rules the branch out. The checks run in mergerfs's order:
// mode, existence, statvfs, read-only, minfreespace.
func (s *scan) eval(i int, rel string) (sp Space, mtime int64, why Reason) {
	switch s.cat {
	case CatCreate:
		switch s.env.Mode(i) {
		case RO:
			return sp, 0, ModeRO
		case NC:
			return sp, 0, ModeNC
		}
	case CatAction:
		if s.env.Mode(i) == RO {
			return sp, 0, ModeRO
		}
	}
	if s.ep {
		var ok bool
		if mtime, ok = s.env.Lstat(i, rel); !ok {
			return sp, 0, Missing
		}
	}
	if !s.space {
		return sp, mtime, none
	}
	sp, err := s.env.Space(i)
	if err != nil {
		return sp, mtime, StatfsFailed
	}
	if s.cat == CatSearch {
		return sp, mtime, none
	}
	if sp.ReadOnly {
		return sp, mtime, ReadOnlyFS
	}
	if s.cat == CatCreate && sp.Avail < s.env.MinFreeSpace(i) {
		return sp, mtime, NoSpace
	}
	return sp, mtime, none
}

// severity orders errnos for folding: EROFS > ENOSPC > ENOENT > 0.
func severity(e unix.Errno) int {
	switch e {
	case unix.EROFS:
		return 3
	case unix.ENOSPC:
		return 2
	case unix.ENOENT:
		return 1
	}
	return 0
}

// skip folds why into the running error and reports branch i to the tracer.
func (s *scan) skip(i int, why Reason) {
	if e := why.Errno(); severity(e) > severity(s.err) {
		s.err = e
	}
	if s.tr != nil {
		s.tr.Skipped(i, why)
	}
}

// pick scans the branches once for rel and appends the choice to dst. It
// returns dst itself when nothing is chosen, and how many branches were
// eligible (first stops counting at one). The msp* climb goes on only while
// that is 0: a level with eligible branches ends the climb even when none of
// them is chosen, as under pfrd when they all have 0 bytes free (mergerfs
// does the same).
func (s *scan) pick(how strategy, rel string, dst []int) ([]int, int) {
	switch how {
	case first:
		return s.first(rel, dst)
	case every:
		return s.every(rel, dst)
	case uniform:
		return s.uniform(rel, dst)
	case weighted:
		return s.weighted(rel, dst)
	}
	return s.best(how, rel, dst)
}

func (s *scan) first(rel string, dst []int) ([]int, int) {
	n := s.env.NumBranches()
	for i := 0; i < n; i++ {
		if _, _, why := s.eval(i, rel); why != none {
			s.skip(i, why)
			continue
		}
		if s.tr != nil {
			for j := i + 1; j < n; j++ {
				s.tr.Skipped(j, NotReached)
			}
		}
		return append(dst, i), 1
	}
	return dst, 0
}

func (s *scan) every(rel string, dst []int) ([]int, int) {
	out := dst
	for i, n := 0, s.env.NumBranches(); i < n; i++ {
		if _, _, why := s.eval(i, rel); why != none {
			s.skip(i, why)
			continue
		}
		out = append(out, i)
	}
	if len(out) == len(dst) {
		return dst, 0
	}
	return out, len(out) - len(dst)
}

// uniform picks one of the branches every would return, each as likely.
func (s *scan) uniform(rel string, dst []int) ([]int, int) {
	out, n := s.every(rel, dst)
	if n == 0 {
		return dst, 0
	}
	base := len(dst)
	k := base + int(s.env.RandN(uint64(n))%uint64(n))
	s.lose(out[base:], out[k])
	out[base] = out[k]
	return out[:base+1], n
}

// weightedStack is how many candidates weighted keeps on the stack; a pool
// with more eligible branches costs one allocation per call.
const weightedStack = 64

// weighted picks one eligible branch at random, each with probability
// proportional to its space available: with r = RandN(total), branch k wins
// when r falls in [sum of weights before k, that sum + weight k). A branch
// with no space available can therefore never win, and when the total is 0
// nothing is chosen and the folded error is returned.
func (s *scan) weighted(rel string, dst []int) ([]int, int) {
	var stack [weightedStack]uint64
	weights := stack[:0]
	out := dst
	var total, carry uint64
	for i, n := 0, s.env.NumBranches(); i < n; i++ {
		sp, _, why := s.eval(i, rel)
		if why != none {
			s.skip(i, why)
			continue
		}
		out = append(out, i)
		weights = append(weights, sp.Avail)
		var c uint64
		total, c = bits.Add64(total, sp.Avail, 0)
		carry |= c
	}
	n := len(weights)
	if n == 0 {
		return dst, 0
	}
	// More than 16 EiB in all: scale every weight down so the sum fits.
	// shift makes 2^shift > n, so the sum of n values below 2^(64-shift) fits.
	var shift uint
	if carry != 0 {
		shift = uint(bits.Len(uint(n)))
		total = 0
		for _, w := range weights {
			total += w >> shift
		}
	}
	base := len(dst)
	if total == 0 {
		s.lose(out[base:], -1)
		return dst, n
	}
	r := s.env.RandN(total) % total
	k := n - 1
	for j, w := range weights {
		if w >>= shift; r < w {
			k = j
			break
		} else {
			r -= w
		}
	}
	k += base
	s.lose(out[base:], out[k])
	out[base] = out[k]
	return out[:base+1], n
}

// lose reports every candidate except the winner as NotChosen.
func (s *scan) lose(cands []int, winner int) {
	if s.tr == nil {
		return
	}
	for _, i := range cands {
		if i != winner {
			s.tr.Skipped(i, NotChosen)
		}
	}
}

// best keeps the single branch that ranks first under how.
func (s *scan) best(how strategy, rel string, dst []int) ([]int, int) {
	win, n := -1, 0
	var wsp Space
	var wmt int64
	for i, nb := 0, s.env.NumBranches(); i < nb; i++ {
		sp, mt, why := s.eval(i, rel)
		if why != none {
			s.skip(i, why)
			continue
		}
		n++
		if win >= 0 {
			loser := win
			if !beats(how, sp, mt, wsp, wmt) {
				loser = i
			}
			if s.tr != nil {
				s.tr.Skipped(loser, NotChosen)
			}
			if loser == i {
				continue
			}
		}
		win, wsp, wmt = i, sp, mt
	}
	if win < 0 {
		return dst, 0
	}
	return append(dst, win), n
}

// beats reports whether a later branch (sp, mt) displaces the current winner
// (wsp, wmt). The tie-breaks are mergerfs's: >= and <= hand a tie to the later
// branch, < keeps the earlier one.
func beats(how strategy, sp Space, mt int64, wsp Space, wmt int64) bool {
	switch how {
	case maxAvail:
		return sp.Avail >= wsp.Avail
	case minAvail:
		return sp.Avail <= wsp.Avail
	case minUsed:
		return sp.Used < wsp.Used
	case minRatio:
		return ratioLess(sp, wsp)
	case latest:
		return mt >= wmt
	}
	return false
}

// ratioLess reports whether a.Used/(a.Used+a.Avail) < b.Used/(b.Used+b.Avail),
// exactly: it compares a.Used*totalB with b.Used*totalA in 192-bit arithmetic,
// totals being 65-bit. A branch with no space at all (total 0) counts as 0%
// used, as in mergerfs.
func ratioLess(a, b Space) bool {
	au, ahi, alo := usage(a)
	bu, bhi, blo := usage(b)
	l2, l1, l0 := mul65(au, bhi, blo)
	r2, r1, r0 := mul65(bu, ahi, alo)
	if l2 != r2 {
		return l2 < r2
	}
	if l1 != r1 {
		return l1 < r1
	}
	return l0 < r0
}

// usage returns the numerator and the 65-bit denominator (hi is 0 or 1) of the
// used ratio.
func usage(sp Space) (used, hi, lo uint64) {
	lo, hi = bits.Add64(sp.Used, sp.Avail, 0)
	if hi == 0 && lo == 0 {
		return 0, 0, 1
	}
	return sp.Used, hi, lo
}

// mul65 returns x * (hi<<64 + lo) as three 64-bit words, most significant first.
func mul65(x, hi, lo uint64) (w2, w1, w0 uint64) {
	w1, w0 = bits.Mul64(x, lo)
	if hi != 0 {
		w1, w2 = bits.Add64(w1, x, 0)
	}
	return w2, w1, w0
}
