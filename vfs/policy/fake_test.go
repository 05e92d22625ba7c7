package policy

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// fb describes one fake branch. Build it with b(avail, paths...) and the
// modifier methods, e.g. b(10, "d", "d/f@7").ro().min(20).
type fb struct {
	md      Mode
	av, us  uint64
	minfree uint64
	rdonly  bool     // statvfs reports ST_RDONLY
	statErr bool     // statvfs fails
	paths   []string // "rel" or "rel@mtime"; the root "" exists (mtime 0) unless noRoot
	noRoot  bool
}

func b(avail uint64, paths ...string) fb { return fb{av: avail, paths: paths} }

func (f fb) ro() fb             { f.md = RO; return f }
func (f fb) nc() fb             { f.md = NC; return f }
func (f fb) used(u uint64) fb   { f.us = u; return f }
func (f fb) min(m uint64) fb    { f.minfree = m; return f }
func (f fb) rofs() fb           { f.rdonly = true; return f }
func (f fb) nostat() fb         { f.statErr = true; return f }
func (f fb) noroot() fb         { f.noRoot = true; return f }
func (f fb) has(p ...string) fb { f.paths = append(append([]string(nil), f.paths...), p...); return f }

// String describes the branch for failure messages.
func (f fb) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "{%v avail=%d used=%d", f.md, f.av, f.us)
	if f.minfree != 0 {
		fmt.Fprintf(&s, " min=%d", f.minfree)
	}
	if f.rdonly {
		s.WriteString(" rofs")
	}
	if f.statErr {
		s.WriteString(" nostat")
	}
	if f.noRoot {
		s.WriteString(" noroot")
	}
	fmt.Fprintf(&s, " %q}", f.paths)
	return s.String()
}

var errStatfs = errors.New("fake statvfs failure")

// fakeEnv is a deterministic Env. RandN returns the queued draws in order
// (then rnd's answer, or 0) and records each n it was asked for; a queued draw
// that is not below n is recorded in bad, since a real Env never returns one.
// It is not safe for concurrent use (see syncEnv).
type fakeEnv struct {
	br     []fb
	files  []map[string]int64
	draws  []uint64
	rnd    func(n uint64) uint64 // answers RandN once draws run out, if set
	asked  []uint64
	bad    []string
	lstats int // Lstat calls
	spaces int // Space calls
}

func newEnv(br ...fb) *fakeEnv {
	e := &fakeEnv{br: br, files: make([]map[string]int64, len(br))}
	for i, f := range br {
		m := map[string]int64{}
		if !f.noRoot {
			m[""] = 0
		}
		for _, p := range f.paths {
			var mt int64
			if at := strings.LastIndexByte(p, '@'); at >= 0 {
				v, err := strconv.ParseInt(p[at+1:], 10, 64)
				if err != nil {
					panic(fmt.Sprintf("bad fake path %q: %v", p, err))
				}
				p, mt = p[:at], v
			}
			m[p] = mt
		}
		e.files[i] = m
	}
	return e
}

func (e *fakeEnv) NumBranches() int          { return len(e.br) }
func (e *fakeEnv) Mode(i int) Mode           { return e.br[i].md }
func (e *fakeEnv) MinFreeSpace(i int) uint64 { return e.br[i].minfree }

func (e *fakeEnv) Space(i int) (Space, error) {
	e.spaces++
	f := e.br[i]
	if f.statErr {
		return Space{}, errStatfs
	}
	return Space{Avail: f.av, Used: f.us, ReadOnly: f.rdonly}, nil
}

func (e *fakeEnv) Lstat(i int, rel string) (int64, bool) {
	e.lstats++
	mt, ok := e.files[i][rel]
	return mt, ok
}

func (e *fakeEnv) RandN(n uint64) uint64 {
	e.asked = append(e.asked, n)
	if len(e.draws) == 0 {
		if e.rnd != nil {
			return e.rnd(n)
		}
		return 0
	}
	v := e.draws[0]
	e.draws = e.draws[1:]
	if v >= n {
		e.bad = append(e.bad, fmt.Sprintf("draw %d not below n=%d", v, n))
	}
	return v
}

// event is one report a tracing Env received: a skipped branch, or (i = -1)
// a climb to rel.
type event struct {
	i   int
	why Reason
	rel string
}

func (ev event) String() string {
	if ev.i < 0 {
		return fmt.Sprintf("climb %q", ev.rel)
	}
	return fmt.Sprintf("%d:%v", ev.i, ev.why)
}

// tracingEnv is a fakeEnv that implements Tracer and Climber.
type tracingEnv struct {
	*fakeEnv
	events []event
}

func (t *tracingEnv) Skipped(i int, why Reason) { t.events = append(t.events, event{i: i, why: why}) }
func (t *tracingEnv) Climbed(rel string)        { t.events = append(t.events, event{i: -1, rel: rel}) }

var _ Climber = (*tracingEnv)(nil)

// levels splits the events at each climb and sorts each level's reports by
// branch, so tests need not depend on report order within a scan.
func (t *tracingEnv) levels() [][]event {
	out := [][]event{nil}
	for _, ev := range t.events {
		if ev.i < 0 {
			out = append(out, nil)
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], ev)
	}
	for _, l := range out {
		sort.SliceStable(l, func(a, b int) bool { return l[a].i < l[b].i })
	}
	return out
}

// climbs returns the directories climbed to, in order.
func (t *tracingEnv) climbs() []string {
	var out []string
	for _, ev := range t.events {
		if ev.i < 0 {
			out = append(out, ev.rel)
		}
	}
	return out
}

// syncEnv is a read-only Env that is safe for concurrent use.
type syncEnv struct {
	fe   *fakeEnv // only its branch tables are read
	seed atomic.Uint64
}

func (e *syncEnv) NumBranches() int                      { return len(e.fe.br) }
func (e *syncEnv) Mode(i int) Mode                       { return e.fe.br[i].md }
func (e *syncEnv) MinFreeSpace(i int) uint64             { return e.fe.br[i].minfree }
func (e *syncEnv) Lstat(i int, rel string) (int64, bool) { mt, ok := e.fe.files[i][rel]; return mt, ok }
func (e *syncEnv) RandN(n uint64) uint64                 { return splitmix(e.seed.Add(1)) % n }

func (e *syncEnv) Space(i int) (Space, error) {
	f := e.fe.br[i]
	if f.statErr {
		return Space{}, errStatfs
	}
	return Space{Avail: f.av, Used: f.us, ReadOnly: f.rdonly}, nil
}

// splitmix is the SplitMix64 finaliser, a cheap deterministic scrambler.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
