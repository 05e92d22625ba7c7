package vfs

import (
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/policy"
)

// Verdict is what one policy run made of one branch.
type Verdict struct {
	Index    int    `json:"index"`
	Path     string `json:"path"`
	Mode     string `json:"mode"`
	Chosen   bool   `json:"chosen"`
	Reason   string `json:"reason,omitempty"` // why it was passed over
	Exists   bool   `json:"exists"`           // the path the policy looked at exists there
	Avail    uint64 `json:"avail"`            // bytes available (statvfs f_bavail*f_frsize)
	MinFree  uint64 `json:"minfreespace"`
	ReadOnly bool   `json:"readonly_fs"`
	// Chance is the probability that a randomised policy (rand, eprand, pfrd,
	// eppfrd, msppfrd) picks this branch; 0 for deterministic policies.
	Chance float64 `json:"chance,omitempty"`
}

// Explanation says which branches function Func's policy picks for a path and
// why each other branch was passed over.
type Explanation struct {
	Func      string    `json:"func"`
	Policy    string    `json:"policy"`
	Behaviour string    `json:"behaviour"` // create, action or search
	Path      string    `json:"path"`      // the path the policy examined (the parent for create)
	Climbed   []string  `json:"climbed,omitempty"`
	Random    bool      `json:"random,omitempty"` // Chosen is one draw; see Verdict.Chance
	Errno     string    `json:"error,omitempty"`
	Chosen    []int     `json:"chosen"`
	Branches  []Verdict `json:"branches"`
}

// tracer records the reasons a policy reports.
type tracer struct {
	*state
	why     map[int]policy.Reason
	climbed []string
	first   bool // RandN draws 0: the first candidate, so Explain is repeatable
}

func (t *tracer) RandN(n uint64) uint64 { return 0 }

func (t *tracer) Skipped(i int, why policy.Reason) { t.why[i] = why }
func (t *tracer) Climbed(rel string)               { t.climbed = append(t.climbed, rel); clear(t.why) }

// Explain runs the configured policy of every function on rel without acting
// and reports the outcome per branch: the answer to "why did my file land on
// that disk". Create-type functions examine the parent directory, as they do
// when they run.
func (p *Pool) Explain(rel string) []Explanation {
	s := p.state()
	var out []Explanation
	for f := policy.Func(0); f < policy.NumFuncs; f++ {
		pol := s.funcs[f]
		t := &tracer{state: s, why: map[int]policy.Reason{}, first: true}
		ex := Explanation{Func: f.String(), Policy: pol.Name(), Behaviour: f.Category().String(), Path: "/" + rel}
		var idx []int
		var e unix.Errno
		switch f.Category() {
		case policy.CatCreate:
			ex.Path = "/" + parentRel(rel)
			idx, e = pol.Create(t, parentRel(rel), nil)
		case policy.CatAction:
			idx, e = pol.Action(t, rel, nil)
		default:
			idx, e = pol.Search(t, rel, nil)
		}
		if e != 0 {
			ex.Errno = e.Error()
		}
		ex.Chosen = append([]int{}, idx...)
		ex.Climbed = t.climbed
		look := rel
		if f.Category() == policy.CatCreate {
			look = parentRel(rel)
			if n := len(t.climbed); n > 0 {
				look = t.climbed[n-1]
			}
		}
		for i, b := range s.branches {
			v := Verdict{Index: i, Path: b.path, Mode: b.mode.String(), MinFree: b.minfree}
			if sp, err := b.statfs(s.statTTL); err == nil {
				v.Avail, v.ReadOnly = sp.Avail, sp.ReadOnly
			}
			_, v.Exists = s.Lstat(i, look)
			v.Chosen = contains(idx, i)
			if !v.Chosen {
				if r, ok := t.why[i]; ok {
					v.Reason = r.String()
				}
			}
			ex.Branches = append(ex.Branches, v)
		}
		ex.Random = randomChances(pol.Name(), ex.Branches)
		out = append(out, ex)
	}
	return out
}

// randomChances fills in the pick probabilities of a randomised policy over
// its candidates: the branches it chose or passed over only because another
// was drawn. pfrd weighs them by free space, rand draws uniformly.
func randomChances(name string, vs []Verdict) bool {
	weighted := name == "pfrd" || name == "eppfrd" || name == "msppfrd"
	if !weighted && name != "rand" && name != "eprand" {
		return false
	}
	var total float64
	var cands []int
	for i, v := range vs {
		if v.Chosen || v.Reason == policy.NotChosen.String() {
			cands = append(cands, i)
			if weighted {
				total += float64(v.Avail)
			} else {
				total++
			}
		}
	}
	if total == 0 || len(cands) < 2 {
		return false
	}
	for _, i := range cands {
		w := 1.0
		if weighted {
			w = float64(vs[i].Avail)
		}
		vs[i].Chance = w / total
	}
	return true
}
