package tools

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Fix is fsck's repair choice.
type Fix string

const (
	FixNone    Fix = "none"    // report only
	FixNewest  Fix = "newest"  // make every copy like the newest one (mtime)
	FixLargest Fix = "largest" // make every copy like the largest one (size, then mtime)
)

// FixChoices lists the valid Fix values.
var FixChoices = []Fix{FixNone, FixNewest, FixLargest}

// ParseFix checks s against FixChoices.
func ParseFix(s string) (Fix, error) {
	for _, f := range FixChoices {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown fix %q; valid: none, newest, largest", s)
}

// FsckOptions tune Fsck.
type FsckOptions struct {
	Common
	Fix Fix
	// CheckSize also compares the sizes of a file's copies; a fix then
	// replaces the copies of the wrong size with the reference copy.
	CheckSize bool
}

// Fsck compares the copies of every file and directory present on more
// than one branch: type, permission bits, owner and (CheckSize) size of
// regular files. Each difference is an Issue against the reference copy:
// the newest (FixNewest, and for reporting with FixNone) or the largest
// (FixLargest). With a fix, the plan chmods and chowns the differing copies
// to the reference's values, or (a size difference) replaces them with a
// copy of the reference. A type difference (a directory here, a file
// there) is reported and never fixed, and copies on RO branches are not
// touched.
func Fsck(p *Pool, opt FsckOptions) (*Plan, error) {
	if opt.Fix == "" {
		opt.Fix = FixNone
	}
	if _, err := ParseFix(string(opt.Fix)); err != nil {
		return nil, err
	}
	s, err := takeSnapshot(p, opt.Scope, scanOptions{dirs: true, tempGrace: opt.TempGrace})
	if err != nil {
		return nil, err
	}
	defer s.close()
	pl := &Plan{Tool: "fsck", Scope: opt.Scope, pool: p, Actions: append([]Action{}, s.recovery...), Notes: s.notes}
	for _, pc := range s.paths {
		if len(pc.copies) < 2 {
			continue
		}
		ref := pc.copies[0]
		if opt.Fix == FixLargest {
			ref = s.rank(s.rank(pc.copies, Newest), Largest)[0]
		} else {
			ref = s.rank(pc.copies, Newest)[0]
		}
		refBr := p.Branches[ref.br].Path
		fixing := opt.Fix != FixNone
		for _, c := range pc.copies {
			if c == ref || (c.f.dev == ref.f.dev && c.f.ino == ref.f.ino) {
				continue
			}
			bp := p.Branches[c.br].Path
			canFix := fixing && p.canRemove(c.br)
			issue := func(field, want, got string, fixed bool) {
				pl.Issues = append(pl.Issues, Issue{Path: pc.rel, Branch: bp, Field: field, Want: want, Got: got, Ref: refBr, Fixed: fixed})
			}
			if c.f.mode&unix.S_IFMT != ref.f.mode&unix.S_IFMT {
				issue("type", typeName(ref.f.mode), typeName(c.f.mode), false)
				continue
			}
			if opt.CheckSize && !c.f.isDir() && c.f.size != ref.f.size {
				fix := canFix
				if fix {
					if w, busy := s.open.writer(c.f.dev, c.f.ino); busy {
						pl.Notes = append(pl.Notes, Note{Path: pc.rel, Branch: bp, Reason: "not fixed: open for writing by " + w.String()})
						fix = false
					} else if w, busy := s.open.writer(ref.f.dev, ref.f.ino); busy {
						pl.Notes = append(pl.Notes, Note{Path: pc.rel, Branch: refBr, Reason: "not fixed: the reference copy is open for writing by " + w.String()})
						fix = false
					}
				}
				issue("size", fmt.Sprint(ref.f.size), fmt.Sprint(c.f.size), fix)
				if fix {
					// The copy brings mode, owner, times and xattrs along.
					pl.Actions = append(pl.Actions, Action{Op: OpCopy, Path: pc.rel, From: refBr, To: bp,
						Bytes: ref.f.size, Reason: "replace the copy of the wrong size", replace: true,
						from: ref.br, to: c.br, alloc: ref.f.alloc - c.f.alloc, ino: ref.f.ino, mtime: ref.f.mtime, size: ref.f.size})
					continue
				}
			}
			// chown clears setuid/setgid: it goes before the chmod.
			if c.f.uid != ref.f.uid || c.f.gid != ref.f.gid {
				issue("owner", fmt.Sprintf("%d:%d", ref.f.uid, ref.f.gid), fmt.Sprintf("%d:%d", c.f.uid, c.f.gid), canFix)
				if canFix {
					uid, gid := ref.f.uid, ref.f.gid
					pl.Actions = append(pl.Actions, Action{Op: OpChown, Path: pc.rel, To: bp, Uid: &uid, Gid: &gid,
						from: -1, to: c.br})
				}
			}
			chowned := canFix && (c.f.uid != ref.f.uid || c.f.gid != ref.f.gid)
			modeDiffers := c.f.mode&0o7777 != ref.f.mode&0o7777
			if modeDiffers {
				issue("mode", fmt.Sprintf("%04o", ref.f.mode&0o7777), fmt.Sprintf("%04o", c.f.mode&0o7777), canFix)
			}
			if modeDiffers || (chowned && ref.f.mode&0o6000 != 0) {
				if canFix {
					pl.Actions = append(pl.Actions, Action{Op: OpChmod, Path: pc.rel, To: bp, Mode: ref.f.mode & 0o7777,
						from: -1, to: c.br})
				}
			}
		}
	}
	pl.finish(s.stats())
	return pl, nil
}

// Unfixed counts the issues the plan does not repair.
func (pl *Plan) Unfixed() int {
	n := 0
	for _, is := range pl.Issues {
		if !is.Fixed {
			n++
		}
	}
	return n
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFREG:
		return "file"
	}
	return fmt.Sprintf("type %o", mode&unix.S_IFMT)
}
