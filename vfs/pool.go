package vfs

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// Pool is the union of a set of branches with mergerfs semantics. It is safe
// for concurrent use. Reconfiguration (the control file) builds a new state and
// swaps it in atomically; operations in flight finish on the state they began with.
type Pool struct {
	mu   sync.Mutex // serialises reconfiguration; guards opts and known
	opts *config.Options
	// known maps branch paths to their runtime objects so a reconfiguration
	// keeps root fds and statvfs caches of branches it keeps.
	known map[string]*branch
	// retired holds branch objects a reconfiguration replaced: operations
	// that loaded an older state may still use their root fds, so they are
	// closed with the pool, not at the swap.
	retired []*branch
	st      atomic.Pointer[state]

	randN  func(n uint64) uint64
	log    *slog.Logger
	uid    uint32 // owner reported for the control file
	gid    uint32
	dlocks dirLocks
	pins   dirPins
}

// state is one immutable configuration: the branch list and resolved policies.
type state struct {
	pool     *Pool
	branches []*branch
	opts     *config.Options
	funcs    [policy.NumFuncs]*policy.Policy
	move     *policy.Policy // moveonenospc policy, nil when off
	statTTL  time.Duration
}

// Settings are the parts of a pool that are not mergerfs options.
type Settings struct {
	// RandN, when set, replaces the random source of the randomised policies
	// (rand, eprand, pfrd, eppfrd, msppfrd) so tests are deterministic.
	RandN func(n uint64) uint64
	// Logger receives debug traces and warnings; nil discards them.
	Logger *slog.Logger
}

// New builds a pool from parsed options. The options are cloned; later
// changes go through SetOption (the control file).
func New(opts *config.Options, set Settings) (*Pool, error) {
	if opts == nil {
		return nil, fmt.Errorf("vfs: no options")
	}
	if len(opts.Branches) == 0 {
		return nil, fmt.Errorf("vfs: no branches: give at least one branch directory (e.g. /mnt/disk1:/mnt/disk2)")
	}
	p := &Pool{
		opts:  opts.Clone(),
		known: map[string]*branch{},
		randN: set.RandN,
		log:   set.Logger,
		uid:   uint32(unix.Geteuid()),
		gid:   uint32(unix.Getegid()),
	}
	if p.randN == nil {
		p.randN = rand.Uint64N
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	// Modes of created entries are computed here (the caller's umask, or none
	// under a default ACL), so the process umask must not change them again.
	unix.Umask(0)
	s, err := p.build(p.opts)
	if err != nil {
		return nil, err
	}
	p.st.Store(s)
	return p, nil
}

// build makes a state from options. Preconditions: p.mu held or p not yet shared.
func (p *Pool) build(o *config.Options) (*state, error) {
	s := &state{pool: p, opts: o, statTTL: o.CacheStatfs}
	for f := policy.Func(0); f < policy.NumFuncs; f++ {
		pol, ok := policy.Lookup(o.Func[f])
		if !ok {
			return nil, fmt.Errorf("vfs: func.%s: unknown policy %q", f, o.Func[f])
		}
		s.funcs[f] = pol
	}
	if o.MoveOnENOSPC.Enabled {
		pol, ok := policy.Lookup(o.MoveOnENOSPC.Policy)
		if !ok {
			return nil, fmt.Errorf("vfs: moveonenospc: unknown policy %q", o.MoveOnENOSPC.Policy)
		}
		s.move = pol
	}
	for _, cb := range o.Branches {
		minfree := o.MinFreeSpace
		if cb.HasMinFree {
			minfree = cb.MinFreeSpace
		}
		b := p.known[cb.Path]
		if b == nil || b.mode != cb.Mode || b.minfree != minfree || b.ownMin != cb.HasMinFree {
			b = newBranch(cb.Path, cb.Mode, minfree, cb.HasMinFree)
			if old := p.known[cb.Path]; old != nil {
				old.mu.Lock()
				b.space, b.spaceOK, b.spaceAt = old.space, old.spaceOK, old.spaceAt
				old.mu.Unlock()
				p.retired = append(p.retired, old)
			}
			p.known[cb.Path] = b
		}
		b.follow.Store(o.FollowSymlinks != config.FollowNever)
		s.branches = append(s.branches, b)
	}
	return s, nil
}

// Close releases the branch root fds.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.known {
		b.close()
	}
	for _, b := range p.retired {
		b.close()
	}
	p.retired = nil
	return nil
}

// Options returns a copy of the current options.
func (p *Pool) Options() *config.Options {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opts.Clone()
}

func (p *Pool) state() *state { return p.st.Load() }

// --- policy.Env over a state -------------------------------------------------

func (s *state) NumBranches() int                  { return len(s.branches) }
func (s *state) Mode(i int) policy.Mode            { return s.branches[i].mode }
func (s *state) MinFreeSpace(i int) uint64         { return s.branches[i].minfree }
func (s *state) RandN(n uint64) uint64             { return s.pool.randN(n) }
func (s *state) Space(i int) (policy.Space, error) { return s.branches[i].statfs(s.statTTL) }

func (s *state) Lstat(i int, rel string) (int64, bool) {
	st, e := s.branches[i].lstat(rel)
	if e != 0 {
		return 0, false
	}
	return st.Mtim.Sec, true
}

var _ policy.Env = (*state)(nil)

// probe is the policy.Env of one policy run. It remembers the first error
// other than ENOENT met while looking for the path on a branch, so a lookup
// that fails everywhere reports what Linux would (EACCES for an unsearchable
// parent, ENOTDIR for a file used as a directory) rather than the policies'
// generic ENOENT.
type probe struct {
	*state
	err unix.Errno
	// The last successful lstat, so getattr need not stat the branch the
	// search policy just found the path on a second time.
	lastI  int
	lastSt unix.Stat_t
	// sxOn makes every lookup a statx (GetattrStatx), as sx asks, whose
	// last success is kept there too. A copy, not a pointer to the
	// caller's: a pooled probe would move the request to the heap.
	sxOn bool
	sx   statxReq
}

// statxReq asks a probe to look up with statx: flags carry the caller's
// AT_STATX_* sync bits, mask its fields. out is the statx of branch i
// (-1: none yet).
type statxReq struct {
	flags int
	mask  uint32
	i     int
	out   unix.Statx_t
}

func (p *probe) Lstat(i int, rel string) (int64, bool) {
	st, e := p.lookup(i, rel)
	if e != 0 {
		if e != unix.ENOENT && p.err == 0 {
			p.err = e
		}
		return 0, false
	}
	p.lastI, p.lastSt = i, st
	return st.Mtim.Sec, true
}

func (p *probe) refine(e unix.Errno) unix.Errno {
	if e == unix.ENOENT && p.err != 0 {
		return p.err
	}
	return e
}

// lookup is the lstat of rel on branch i, or its statx when the probe
// carries a statx request (converted for the policies and Getattr).
func (p *probe) lookup(i int, rel string) (unix.Stat_t, unix.Errno) {
	if !p.sxOn {
		return p.branches[i].lstat(rel)
	}
	var stx unix.Statx_t
	if e := p.branches[i].lstatx(rel, p.sx.flags, p.sx.mask, &stx); e != 0 {
		return unix.Stat_t{}, e
	}
	p.sx.i, p.sx.out = i, stx
	return statFromStatx(&stx), 0
}

// probes recycles the probes of policy runs: a probe reaches the policies as
// an interface, so it would otherwise be a heap allocation per lookup.
var probes = sync.Pool{New: func() any { return new(probe) }}

func (s *state) newProbe() *probe {
	p := probes.Get().(*probe)
	*p = probe{state: s, lastI: -1}
	return p
}

func (p *probe) free() {
	p.state = nil
	probes.Put(p)
}

// search, action and create run function f's policy behaviour on rel.
func (s *state) search(f policy.Func, rel string) ([]int, unix.Errno) {
	p := s.newProbe()
	defer p.free()
	idx, e := s.funcs[f].Search(p, rel, make([]int, 0, 4))
	return idx, p.refine(e)
}

// searchStat is search that also returns the lstat of the first branch found.
func (s *state) searchStat(f policy.Func, rel string) ([]int, unix.Stat_t, unix.Errno) {
	return s.searchStatx(f, rel, nil)
}

// searchStatx is searchStat whose lookups are statx calls when sx is set
// (sx.out then describes the branch found, sx.i says which).
func (s *state) searchStatx(f policy.Func, rel string, sx *statxReq) ([]int, unix.Stat_t, unix.Errno) {
	p := s.newProbe()
	defer p.free()
	if sx != nil {
		p.sxOn, p.sx = true, *sx
		defer func() { *sx = p.sx }()
	}
	idx, e := s.funcs[f].Search(p, rel, make([]int, 0, 4))
	if e != 0 {
		return idx, p.lastSt, p.refine(e)
	}
	if p.lastI == idx[0] {
		return idx, p.lastSt, 0
	}
	st, e := p.lookup(idx[0], rel)
	return idx, st, e
}

func (s *state) action(f policy.Func, rel string) ([]int, unix.Errno) {
	p := s.newProbe()
	defer p.free()
	idx, e := s.funcs[f].Action(p, rel, make([]int, 0, 4))
	return idx, p.refine(e)
}

func (s *state) create(f policy.Func, rel string) ([]int, unix.Errno) {
	p := s.newProbe()
	defer p.free()
	idx, e := s.funcs[f].Create(p, rel, make([]int, 0, 4))
	return idx, p.refine(e)
}
