package tools

import (
	"fmt"
	"path/filepath"
)

// ConsolidateOptions tune Consolidate.
type ConsolidateOptions struct {
	Common
	// Dir is the directory to gather, relative to the pool root (Pool.ScopeOf
	// turns a path in the mount into one). Common.Scope is ignored.
	Dir string
	// To names the branch (its path) to gather onto; "" picks the RW branch
	// that already holds the most bytes of Dir among those with room for
	// the rest (or, if none has room, the one holding the most).
	To string
}

// Consolidate plans moving every file below Dir onto one branch, so that
// the directory lives on a single disk. Files already on that branch stay;
// a file with copies on several other branches is left alone and noted
// (dedup first); hard link groups move as a whole or not at all.
func Consolidate(p *Pool, opt ConsolidateOptions) (*Plan, error) {
	opt.Scope = opt.Dir
	s, err := takeSnapshot(p, opt.Dir, scanOptions{tempGrace: opt.TempGrace})
	if err != nil {
		return nil, err
	}
	defer s.close()
	pl := &Plan{Tool: "consolidate", Scope: opt.Dir, pool: p, Actions: append([]Action{}, s.recovery...), Notes: s.notes}
	_, byBr := s.devices()
	held := make([]int64, len(p.Branches)) // bytes of Dir per branch
	for _, pc := range s.paths {
		for _, c := range pc.copies {
			held[c.br] += c.f.alloc
		}
	}
	var total int64
	for _, h := range held {
		total += h
	}
	t := -1
	if opt.To != "" {
		to := filepath.Clean(opt.To)
		for i, b := range p.Branches {
			if b.Path == to {
				t = i
			}
		}
		if t < 0 {
			return nil, fmt.Errorf("--to %s is not a branch of the pool", opt.To)
		}
		if !p.canCreate(t) {
			return nil, fmt.Errorf("--to %s is not an RW branch (mode %s): files cannot be created there", opt.To, p.Branches[t].Mode)
		}
	} else {
		best, bestFit := -1, -1
		for i := range p.Branches {
			d := byBr[i]
			if d == nil || !p.canCreate(i) {
				continue
			}
			if best < 0 || held[i] > held[best] {
				best = i
			}
			if d.fits(total-held[i]) && (bestFit < 0 || held[i] > held[bestFit]) {
				bestFit = i
			}
		}
		t = bestFit
		if t < 0 {
			t = best
		}
		if t < 0 {
			return nil, fmt.Errorf("no RW branch to consolidate %s onto", opt.Dir)
		}
	}
	dst := byBr[t]
	for i := range p.Branches {
		if i == t || byBr[i] == nil {
			continue
		}
		if !p.canRemove(i) {
			n := 0
			for _, f := range s.br[i].files {
				if !f.isDir() {
					n++
				}
			}
			if n > 0 {
				pl.Notes = append(pl.Notes, Note{Path: opt.Dir, Branch: p.Branches[i].Path, Reason: fmt.Sprintf("%d files stay: read-only (RO) branch", n)})
			}
			continue
		}
		for _, g := range s.groups(i, Filter{}, &pl.Notes) {
			skip := ""
			for _, n := range g.names {
				pc := s.byRel[n]
				if pc.on(t) != nil {
					skip = "also on " + p.Branches[t].Path + "; left as an extra copy (dedup removes it)"
					break
				}
				if len(pc.copies) > 1 {
					skip = "copies on several branches; run dedup first"
					break
				}
			}
			switch {
			case skip != "":
				pl.Notes = append(pl.Notes, Note{Path: g.names[0], Branch: p.Branches[i].Path, Reason: skip})
			case byBr[i] == dst:
				// Same filesystem: moving frees nothing, but the directory
				// is still split; rename-free moves are out of scope.
				pl.Notes = append(pl.Notes, Note{Path: g.names[0], Branch: p.Branches[i].Path, Reason: "on the same filesystem as " + p.Branches[t].Path + "; not moved"})
			case !dst.fits(g.f.alloc):
				pl.Notes = append(pl.Notes, Note{Path: g.names[0], Branch: p.Branches[i].Path, Reason: "no room on " + p.Branches[t].Path})
			default:
				pl.Actions = append(pl.Actions, moveAction(p, g, t))
				dst.used += g.f.alloc
				dst.avail -= g.f.alloc
			}
		}
	}
	pl.finish(s.stats())
	return pl, nil
}
