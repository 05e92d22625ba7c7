package tools

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Policy chooses among the copies of a file: the one dup copies from and
// keeps first, the one dedup keeps.
type Policy string

const (
	Newest        Policy = "newest"        // latest mtime
	Oldest        Policy = "oldest"        // earliest mtime
	Largest       Policy = "largest"       // most bytes
	Smallest      Policy = "smallest"      // fewest bytes
	MergerfsOrder Policy = "mergerfs"      // the first branch in pool order, the copy mergerfs shows (ff)
	MostFreeSpace Policy = "mostfreespace" // the copy on the filesystem with the most free space
)

// DupPolicies and DedupPolicies list the valid choices, for flag help and
// errors.
var (
	DupPolicies   = []Policy{Newest, Oldest, Largest, Smallest, MergerfsOrder}
	DedupPolicies = []Policy{Newest, Oldest, Largest, Smallest, MostFreeSpace}
)

// ParsePolicy checks s against the valid choices.
func ParsePolicy(s string, valid []Policy) (Policy, error) {
	for _, p := range valid {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(valid))
	for i, p := range valid {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown policy %q; valid: %s", s, strings.Join(names, ", "))
}

// rank orders copies best first by policy; ties keep branch order.
func (s *snapshot) rank(copies []copyRef, pol Policy) []copyRef {
	out := append([]copyRef(nil), copies...)
	less := func(a, b copyRef) bool {
		switch pol {
		case Newest:
			return tsAfter(a.f.mtime, b.f.mtime)
		case Oldest:
			return tsAfter(b.f.mtime, a.f.mtime)
		case Largest:
			return a.f.size > b.f.size
		case Smallest:
			return a.f.size < b.f.size
		case MostFreeSpace:
			return s.br[a.br].stat.avail > s.br[b.br].stat.avail
		}
		return false
	}
	sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

func tsAfter(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || (a.Sec == b.Sec && a.Nsec > b.Nsec)
}

// files returns the regular-file copies of pc; ok is false (and a note is
// added) when the path is a directory on some branch and a file on another,
// or when two branches show the very same inode (one filesystem reached
// through two branch paths), where removing "a copy" would remove the file.
func (s *snapshot) fileCopies(pc *pathCopies, notes *[]Note) (out []copyRef, ok bool) {
	dirs := 0
	for _, c := range pc.copies {
		if c.f.isDir() {
			dirs++
		}
	}
	if dirs > 0 {
		if dirs < len(pc.copies) {
			*notes = append(*notes, Note{Path: pc.rel, Reason: "a directory on some branches and a file on others (see fsck)"})
		}
		return nil, false
	}
	seen := map[devIno]bool{}
	for _, c := range pc.copies {
		k := devIno{c.f.dev, c.f.ino}
		if seen[k] {
			*notes = append(*notes, Note{Path: pc.rel, Branch: s.pool.Branches[c.br].Path, Reason: "the same file through two branches (overlapping branch paths)"})
			return nil, false
		}
		seen[k] = true
		out = append(out, c)
	}
	return out, len(out) > 0
}

// DupOptions tune Dup.
type DupOptions struct {
	Common
	// Count is the number of copies to keep (default 2). Copies on one
	// filesystem (two branches of the same disk) count once.
	Count int
	// Prune removes copies beyond Count, keeping the best by Policy.
	Prune bool
	// Policy picks the copy to copy from (and, with Prune, the ones to
	// keep): newest, oldest, largest, smallest or mergerfs (default).
	Policy Policy
}

// Dup plans copies so that every file under the scope exists on Count
// filesystems: each missing copy goes to the RW branch with the most free
// space (as planned so far) on a filesystem without a copy. Names of a
// hard link group copied to the same branch are linked, not copied again.
// Existing copies are never overwritten, even when they differ (that is
// fsck's job).
func Dup(p *Pool, opt DupOptions) (*Plan, error) {
	if opt.Count <= 0 {
		opt.Count = 2
	}
	if opt.Policy == "" {
		opt.Policy = MergerfsOrder
	}
	if _, err := ParsePolicy(string(opt.Policy), DupPolicies); err != nil {
		return nil, err
	}
	s, err := takeSnapshot(p, opt.Scope, scanOptions{tempGrace: opt.TempGrace})
	if err != nil {
		return nil, err
	}
	defer s.close()
	pl := &Plan{Tool: "dup", Scope: opt.Scope, pool: p, Actions: append([]Action{}, s.recovery...), Notes: s.notes}
	devs, byBr := s.devices()
	type linkKey struct {
		br  int
		ino uint64
		to  int
	}
	copied := map[linkKey]string{}
	for _, pc := range s.paths {
		copies, ok := s.fileCopies(pc, &pl.Notes)
		if !ok {
			continue
		}
		ranked := s.rank(copies, opt.Policy)
		held := map[*device]bool{}
		for _, c := range copies {
			held[byBr[c.br]] = true
		}
		switch {
		case len(held) < opt.Count:
			src := ranked[0]
			if w, busy := s.open.writer(src.f.dev, src.f.ino); busy {
				pl.Notes = append(pl.Notes, Note{Path: pc.rel, Branch: p.Branches[src.br].Path, Reason: "open for writing by " + w.String()})
				continue
			}
			for need := opt.Count - len(held); need > 0; need-- {
				var t *device
				if src.f.nlink > 1 {
					// A hard link group already copied somewhere gets its
					// further names linked there: no room needed.
					for _, d := range devs {
						if _, ok := copied[linkKey{src.br, src.f.ino, d.target}]; ok && !held[d] && d.target >= 0 {
							t = d
							break
						}
					}
				}
				for _, d := range devs {
					if t != nil && copied[linkKey{src.br, src.f.ino, t.target}] != "" {
						break // the link target found above
					}
					if held[d] || d.target < 0 || !d.fits(src.f.alloc) {
						continue
					}
					if t == nil || d.avail > t.avail {
						t = d
					}
				}
				if t == nil {
					pl.Notes = append(pl.Notes, Note{Path: pc.rel, Reason: fmt.Sprintf("%d of %d copies: no other filesystem accepts it (RW, with room)", len(held), opt.Count)})
					break
				}
				held[t] = true
				k := linkKey{src.br, src.f.ino, t.target}
				if first, ok := copied[k]; ok && src.f.nlink > 1 {
					pl.Actions = append(pl.Actions, Action{Op: OpLink, Path: pc.rel, LinkTo: first,
						From: p.Branches[src.br].Path, To: p.Branches[t.target].Path, from: src.br, to: t.target,
						Reason: "hard link of a file copied before"})
					continue
				}
				if src.f.nlink > 1 {
					copied[k] = pc.rel
				}
				pl.Actions = append(pl.Actions, Action{Op: OpCopy, Path: pc.rel,
					From: p.Branches[src.br].Path, To: p.Branches[t.target].Path, Bytes: src.f.size,
					from: src.br, to: t.target, alloc: src.f.alloc, ino: src.f.ino, mtime: src.f.mtime, size: src.f.size})
				t.used += src.f.alloc
				t.avail -= src.f.alloc
			}
		case len(held) > opt.Count && opt.Prune:
			pl.Actions = append(pl.Actions, s.prune(pc, ranked, opt.Count, byBr, &pl.Notes)...)
		}
	}
	pl.finish(s.stats())
	return pl, nil
}

// prune plans the removal of copies beyond count (one per filesystem, the
// best first), keeping copies on RO branches first since they cannot go.
func (s *snapshot) prune(pc *pathCopies, ranked []copyRef, count int, byBr map[int]*device, notes *[]Note) []Action {
	kept := map[*device]bool{}
	keep := map[int]bool{}
	for _, c := range ranked {
		if !s.pool.canRemove(c.br) {
			keep[c.br] = true
			kept[byBr[c.br]] = true
		}
	}
	for _, c := range ranked {
		if len(kept) >= count {
			break
		}
		if d := byBr[c.br]; !kept[d] {
			kept[d] = true
			keep[c.br] = true
		}
	}
	var out []Action
	for _, c := range ranked {
		if keep[c.br] {
			continue
		}
		if w, busy := s.open.writer(c.f.dev, c.f.ino); busy {
			*notes = append(*notes, Note{Path: pc.rel, Branch: s.pool.Branches[c.br].Path, Reason: "extra copy left: open for writing by " + w.String()})
			continue
		}
		out = append(out, removeAction(s.pool, pc.rel, c, ""))
	}
	return out
}

func removeAction(p *Pool, rel string, c copyRef, reason string) Action {
	return Action{Op: OpRemove, Path: rel, From: p.Branches[c.br].Path, Bytes: c.f.size, Reason: reason,
		from: c.br, to: -1, alloc: c.f.alloc, ino: c.f.ino, mtime: c.f.mtime, size: c.f.size}
}

// DedupOptions tune Dedup.
type DedupOptions struct {
	Common
	// Policy picks the copy to keep: newest (default), oldest, largest,
	// smallest or mostfreespace.
	Policy Policy
}

// Dedup plans the removal of all copies of each file but one, chosen by
// policy. Copies on RO branches cannot be removed and are noted; copies
// whose size or mtime differ from the kept one are removed all the same
// (that is what deduplication means) and the action says how they differed.
func Dedup(p *Pool, opt DedupOptions) (*Plan, error) {
	if opt.Policy == "" {
		opt.Policy = Newest
	}
	if _, err := ParsePolicy(string(opt.Policy), DedupPolicies); err != nil {
		return nil, err
	}
	s, err := takeSnapshot(p, opt.Scope, scanOptions{tempGrace: opt.TempGrace})
	if err != nil {
		return nil, err
	}
	defer s.close()
	pl := &Plan{Tool: "dedup", Scope: opt.Scope, pool: p, Actions: append([]Action{}, s.recovery...), Notes: s.notes}
	for _, pc := range s.paths {
		copies, ok := s.fileCopies(pc, &pl.Notes)
		if !ok || len(copies) < 2 {
			continue
		}
		ranked := s.rank(copies, opt.Policy)
		keep := ranked[0]
		for _, c := range ranked[1:] {
			bp := p.Branches[c.br].Path
			if !p.canRemove(c.br) {
				pl.Notes = append(pl.Notes, Note{Path: pc.rel, Branch: bp, Reason: "extra copy on a read-only (RO) branch"})
				continue
			}
			if w, busy := s.open.writer(c.f.dev, c.f.ino); busy {
				pl.Notes = append(pl.Notes, Note{Path: pc.rel, Branch: bp, Reason: "extra copy left: open for writing by " + w.String()})
				continue
			}
			var diff []string
			if c.f.size != keep.f.size {
				diff = append(diff, fmt.Sprintf("size %d, kept %d", c.f.size, keep.f.size))
			}
			if c.f.mtime != keep.f.mtime {
				diff = append(diff, "mtime differs")
			}
			reason := "kept on " + p.Branches[keep.br].Path
			if len(diff) > 0 {
				reason += "; this copy differs: " + strings.Join(diff, ", ")
			}
			pl.Actions = append(pl.Actions, removeAction(p, pc.rel, c, reason))
		}
	}
	pl.finish(s.stats())
	return pl, nil
}
