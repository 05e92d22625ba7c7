package policy

import "golang.org/x/sys/unix"

// A Policy is one named branch-selection policy with its three behaviours.
// Policies are immutable and safe for concurrent use; get them from Lookup.
type Policy struct {
	name  string
	pp    bool
	rules [NumCategories]rule
}

// Name returns the policy's name as written in options (e.g. "epmfs").
func (p *Policy) Name() string { return p.name }

// String returns the policy's name.
func (p *Policy) String() string { return p.name }

// PathPreserving reports whether mergerfs flags the policy as path-preserving
// (every ep* and msp* policy). It only changes how rename and link proceed.
// newest is not flagged although it requires the path to exist.
func (p *Policy) PathPreserving() bool { return p.pp }

// Create runs the create behaviour, used by create, mkdir, mknod and symlink.
// rel is the parent directory of the entry to create; the caller must not
// pass the entry itself. all and epall return every eligible branch: the
// caller creates on all of them for mkdir, mknod and symlink, but create()
// uses only the first, so there all behaves like ff and epall like epff.
func (p *Policy) Create(env Env, rel string, dst []int) ([]int, unix.Errno) {
	return run(CatCreate, p.rules[CatCreate], env, rel, dst)
}

// Action runs the action behaviour (chmod, unlink, rename, ...) on rel.
func (p *Policy) Action(env Env, rel string, dst []int) ([]int, unix.Errno) {
	return run(CatAction, p.rules[CatAction], env, rel, dst)
}

// Search runs the search behaviour (getattr, open, access, ...) on rel.
// Its only error is ENOENT (EROFS for erofs).
func (p *Policy) Search(env Env, rel string, dst []int) ([]int, unix.Errno) {
	return run(CatSearch, p.rules[CatSearch], env, rel, dst)
}

// Fn returns the behaviour the policy has for category c.
func (p *Policy) Fn(c Category) Fn {
	switch c {
	case CatCreate:
		return p.Create
	case CatAction:
		return p.Action
	}
	return p.Search
}

// Lookup returns the policy called name, or false if there is none. Every
// name in Names is found, and nothing else.
func Lookup(name string) (*Policy, bool) {
	for i := range table {
		if table[i].name == name {
			return &table[i], true
		}
	}
	return nil, false
}

// same builds a policy whose three behaviours use one strategy; ep and climb
// apply to create (action and search always require the path).
func same(name string, pp bool, how strategy, ep, climb bool) Policy {
	return Policy{name: name, pp: pp, rules: [NumCategories]rule{
		CatCreate: {how: how, ep: ep, climb: climb},
		CatAction: {how: how},
		CatSearch: {how: how},
	}}
}

// table holds every policy, in the order of Names. See MERGERFS.md §3.3.
// Each non-ep policy's action and search are its ep variant's, which is why
// a single strategy per policy is enough: only create differs between
// ff/epff, mfs/epmfs and the rest, and only in whether the path must exist.
var table = [...]Policy{
	same("all", false, every, false, false),
	same("epall", true, every, true, false),
	same("epff", true, first, true, false),
	same("eplfs", true, minAvail, true, false),
	same("eplus", true, minUsed, true, false),
	same("epmfs", true, maxAvail, true, false),
	same("eppfrd", true, weighted, true, false),
	same("eprand", true, uniform, true, false),
	same("erofs", false, refuse, false, false),
	same("ff", false, first, false, false),
	same("lfs", false, minAvail, false, false),
	same("lup", false, minRatio, false, false),
	same("lus", false, minUsed, false, false),
	same("mfs", false, maxAvail, false, false),
	same("msplfs", true, minAvail, true, true),
	same("msplus", true, minUsed, true, true),
	same("mspmfs", true, maxAvail, true, true),
	same("msppfrd", true, weighted, true, true),
	same("newest", false, latest, true, false),
	same("pfrd", false, weighted, false, false),
	same("rand", false, uniform, false, false),
}
