package tools

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// DefaultTempGrace is the TempGrace the mfs commands use.
const DefaultTempGrace = 5 * time.Second

// Common holds the options every walking tool shares.
type Common struct {
	// Scope limits the walk to this subtree, relative to the pool root
	// ("" = everything). Discover returns it for a path inside a mount.
	Scope string
	// TempGrace: temp files (fileio.TempPrefix) changed less than this long
	// ago are left alone, as copies perhaps still in progress elsewhere
	// (over NFS, say, where /proc cannot show their writer). Temp files
	// some local process holds open are always left alone.
	TempGrace time.Duration
}

// Filter selects files by name and size. A pattern without '/' matches the
// file's base name, one with '/' its path relative to the pool root
// (path.Match syntax). A file is selected if it matches some Include (or
// Include is empty), matches no Exclude, and has at least MinSize bytes.
type Filter struct {
	Include, Exclude []string
	MinSize          int64
}

// Validate reports the first malformed pattern.
func (f Filter) Validate() error {
	for _, p := range append(append([]string{}, f.Include...), f.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	return nil
}

func (f Filter) match(rel string, size int64) bool {
	if size < f.MinSize {
		return false
	}
	m := func(p string) bool {
		s := path.Base(rel)
		if strings.Contains(p, "/") {
			s = rel
		}
		ok, _ := path.Match(strings.TrimPrefix(p, "/"), s)
		return ok
	}
	if len(f.Include) > 0 {
		in := false
		for _, p := range f.Include {
			if m(p) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	for _, p := range f.Exclude {
		if m(p) {
			return false
		}
	}
	return true
}

// BalanceOptions tune Balance.
type BalanceOptions struct {
	Common
	Filter
	// Percent: stop when the fullest and the emptiest branch are within
	// this many percentage points of use (default 2, as mergerfs.balance).
	Percent float64
}

// group is a unit a move takes along: one inode and all its names on one
// branch (a single name for a file without hard links).
type group struct {
	br    int
	names []string
	f     *fileInfo
	used  bool
}

// device is one filesystem under one or more branches.
type device struct {
	dev         uint64
	used, avail int64
	minFree     int64
	target      int // first branch on it that accepts new files, -1 if none
	cands       []*group
}

func (d *device) pct() float64 { return pct(uint64(max(d.used, 0)), uint64(max(d.avail, 0))) }
func (d *device) capacity() int64 {
	return d.used + d.avail
}

// fits reports whether alloc more bytes keep d above its minfreespace.
func (d *device) fits(alloc int64) bool { return d.avail-alloc >= d.minFree }

// devices groups the snapshot's branches by filesystem and applies the
// recovery actions' effect on their use.
func (s *snapshot) devices() ([]*device, map[int]*device) {
	var devs []*device
	byBr := map[int]*device{}
	byDev := map[uint64]*device{}
	for i, bs := range s.br {
		if bs.err != nil {
			continue
		}
		d := byDev[bs.stat.dev]
		if d == nil {
			d = &device{dev: bs.stat.dev, used: int64(bs.stat.used), avail: int64(bs.stat.avail), target: -1}
			byDev[bs.stat.dev] = d
			devs = append(devs, d)
		}
		byBr[i] = d
		if s.pool.canCreate(i) {
			if d.target < 0 {
				d.target = i
			}
			d.minFree = max(d.minFree, int64(s.pool.minFree(i)))
		}
	}
	for _, a := range s.recovery {
		if a.from >= 0 && (a.Op == OpFinish || a.Op == OpClean) {
			if d := byBr[a.from]; d != nil {
				d.used -= a.alloc
				d.avail += a.alloc
			}
		}
	}
	return devs, byBr
}

// groups collects the movable units of branch br: regular files passing
// filter, grouped by inode. Hard link groups with names outside the walk,
// files open for writing and filtered-out names are noted and left out.
func (s *snapshot) groups(br int, filter Filter, notes *[]Note) []*group {
	byIno := map[uint64]*group{}
	var out []*group
	for _, f := range s.br[br].files {
		if f.isDir() {
			continue
		}
		if pc := s.byRel[f.rel]; pc == nil || pc.on(br) != f {
			continue // finished by recovery
		}
		if f.nlink > 1 {
			if g := byIno[f.ino]; g != nil {
				g.names = append(g.names, f.rel)
				continue
			}
		}
		g := &group{br: br, names: []string{f.rel}, f: f}
		if f.nlink > 1 {
			byIno[f.ino] = g
		}
		out = append(out, g)
	}
	bp := s.pool.Branches[br].Path
	keep := out[:0]
	for _, g := range out {
		if uint64(len(g.names)) != g.f.nlink {
			where := "outside the walked tree"
			if s.scope != "" {
				where = "outside " + s.scope
			}
			*notes = append(*notes, Note{Path: g.names[0], Branch: bp,
				Reason: fmt.Sprintf("hard link group has %d names, %d of them %s; moving some would break the links", g.f.nlink, g.f.nlink-uint64(len(g.names)), where)})
			continue
		}
		ok := true
		for _, n := range g.names {
			if !filter.match(n, g.f.size) {
				ok = false
			}
		}
		if !ok {
			if len(g.names) > 1 && filter.match(g.names[0], g.f.size) {
				*notes = append(*notes, Note{Path: g.names[0], Branch: bp, Reason: "hard link group has names the filters exclude"})
			}
			continue
		}
		if w, busy := s.open.writer(g.f.dev, g.f.ino); busy {
			*notes = append(*notes, Note{Path: g.names[0], Branch: bp, Reason: "open for writing by " + w.String()})
			continue
		}
		keep = append(keep, g)
	}
	return keep
}

// Balance plans moves of files from the fullest filesystem of the pool to
// the emptiest until their use (df's Use%) is within opt.Percent points of
// each other. Each step takes the fullest branch with movable files and
// the emptiest branch that accepts new files (RW), and moves the largest
// file (or hard link group, moved as a whole) that does not overshoot the
// point where the two would be level; if every file overshoots, the
// smallest one, if it still narrows the gap. Files already present on the
// target branch are never moved there, branches on the same filesystem are
// one unit, and a target keeps its minfreespace.
func Balance(p *Pool, opt BalanceOptions) (*Plan, error) {
	if opt.Percent <= 0 {
		opt.Percent = 2
	}
	if err := opt.Filter.Validate(); err != nil {
		return nil, err
	}
	s, err := takeSnapshot(p, opt.Scope, scanOptions{tempGrace: opt.TempGrace})
	if err != nil {
		return nil, err
	}
	defer s.close()
	pl := &Plan{Tool: "balance", Scope: opt.Scope, pool: p, Actions: append([]Action{}, s.recovery...), Notes: s.notes}
	devs, byBr := s.devices()
	for i := range p.Branches {
		d := byBr[i]
		if d == nil || !p.canRemove(i) {
			continue
		}
		d.cands = append(d.cands, s.groups(i, opt.Filter, &pl.Notes)...)
	}
	for _, d := range devs {
		sort.SliceStable(d.cands, func(i, j int) bool { return d.cands[i].f.alloc < d.cands[j].f.alloc })
	}
	planned := map[string]bool{} // "<target>\x00<rel>": paths this plan puts on a target
	onTarget := func(g *group, t int) bool {
		for _, n := range g.names {
			if pc := s.byRel[n]; pc != nil && pc.on(t) != nil {
				return true
			}
			if planned[fmt.Sprint(t)+"\x00"+n] {
				return true
			}
		}
		return false
	}
	for {
		var src, dst *device
		for _, d := range devs {
			if d.target >= 0 && (dst == nil || d.pct() < dst.pct()) {
				dst = d
			}
		}
		for _, d := range devs {
			if d != dst && hasCands(d) && (src == nil || d.pct() > src.pct()) {
				src = d
			}
		}
		if src == nil || dst == nil || src.pct()-dst.pct() <= opt.Percent {
			break
		}
		gap := src.pct() - dst.pct()
		// Moving x bytes lowers src by x/capS and raises dst by x/capT (as
		// fractions); they meet at ideal.
		ideal := gap / 100 / (1/float64(src.capacity()) + 1/float64(dst.capacity()))
		after := func(x int64) float64 {
			return pct(uint64(src.used-x), uint64(src.avail+x)) - pct(uint64(dst.used+x), uint64(dst.avail-x))
		}
		pick := -1
		k := sort.Search(len(src.cands), func(i int) bool { return float64(src.cands[i].f.alloc) > ideal })
		for i := k - 1; i >= 0; i-- {
			g := src.cands[i]
			if !g.used && g.f.alloc > 0 && dst.fits(g.f.alloc) && !onTarget(g, dst.target) {
				pick = i
				break
			}
		}
		if pick < 0 {
			for i := k; i < len(src.cands); i++ {
				g := src.cands[i]
				if g.used || !dst.fits(g.f.alloc) || onTarget(g, dst.target) {
					continue
				}
				if abs(after(g.f.alloc)) < gap {
					pick = i
				}
				break
			}
		}
		if pick < 0 {
			pl.Notes = append(pl.Notes, Note{Path: opt.Scope, Reason: fmt.Sprintf(
				"stopped %.1f points apart: no file on the fullest filesystem fits on %s and narrows the gap",
				gap, p.Branches[dst.target].Path)})
			break
		}
		g := src.cands[pick]
		g.used = true
		for _, n := range g.names {
			planned[fmt.Sprint(dst.target)+"\x00"+n] = true
		}
		pl.Actions = append(pl.Actions, moveAction(p, g, dst.target))
		src.used -= g.f.alloc
		src.avail += g.f.alloc
		dst.used += g.f.alloc
		dst.avail -= g.f.alloc
	}
	pl.finish(s.stats())
	return pl, nil
}

func hasCands(d *device) bool {
	for _, g := range d.cands {
		if !g.used && g.f.alloc > 0 {
			return true
		}
	}
	return false
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// moveAction builds the OpMove of group g to branch t.
func moveAction(p *Pool, g *group, t int) Action {
	return Action{Op: OpMove, Path: g.names[0], Links: append([]string(nil), g.names[1:]...),
		From: p.Branches[g.br].Path, To: p.Branches[t].Path, Bytes: g.f.size,
		from: g.br, to: t, alloc: g.f.alloc, ino: g.f.ino, mtime: g.f.mtime, size: g.f.size}
}
