package tools

import (
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// Op is what one Action does.
type Op string

const (
	// OpMove copies Path from branch From to branch To and then removes it
	// from From. Links are further names of the same inode on From: they are
	// linked to the copy on To and removed from From with it, so the hard
	// link group survives.
	OpMove Op = "move"
	// OpCopy copies Path from From to To, replacing To's copy if it has one
	// (dup adds copies; fsck --check-size replaces copies of the wrong size).
	OpCopy Op = "copy"
	// OpLink makes Path on To a hard link to LinkTo on To: a name of a hard
	// link group whose inode an earlier action of the plan already copied.
	OpLink Op = "link"
	// OpRemove removes Path from From (dedup, dup --prune).
	OpRemove Op = "remove"
	// OpChmod sets the permission bits of Path on To to Mode (fsck).
	OpChmod Op = "chmod"
	// OpChown sets the owner of Path on To to Uid:Gid (fsck).
	OpChown Op = "chown"
	// OpFinish completes a move that an earlier run left half done: the copy
	// on To is complete, so the names in Path and Links are removed from From
	// (after linking any name the copy's group still lacks).
	OpFinish Op = "finish"
	// OpAbandon drops the move marker of a move that an earlier run started
	// but never published: the file stays where it is, on From.
	OpAbandon Op = "abandon"
	// OpClean removes a temporary file (fileio.TempPrefix) that an
	// interrupted copy left in directory Path of branch From.
	OpClean Op = "clean"
)

// Action is one step of a Plan. Paths are relative to the branch roots;
// From and To are branch paths.
type Action struct {
	Op     Op       `json:"op"`
	Path   string   `json:"path"`
	From   string   `json:"from,omitempty"`
	To     string   `json:"to,omitempty"`
	Links  []string `json:"links,omitempty"`
	Names  []string `json:"names,omitempty"` // OpClean: the temp files in directory Path
	LinkTo string   `json:"link_to,omitempty"`
	Bytes  int64    `json:"bytes"`
	Mode   uint32   `json:"mode,omitempty"`
	Uid    *uint32  `json:"uid,omitempty"`
	Gid    *uint32  `json:"gid,omitempty"`
	Reason string   `json:"reason,omitempty"`

	from, to int   // branch indexes; -1 when unused
	alloc    int64 // allocated bytes the action adds to To / frees on From
	// What the source looked like when planned; execution refuses to act
	// on a file that changed since.
	ino     uint64
	mtime   unix.Timespec
	size    int64
	mark    string        // OpFinish/OpAbandon: the marker value
	partial bool          // OpClean: other temps of the directory are open (in use)
	grace   time.Duration // OpClean: temps younger than this stay
	replace bool          // OpCopy: replace To's copy (fsck); else NoReplace
}

// Note is something a plan leaves alone, and why: a file open for writing,
// a hard link group that cannot move as a whole, a file too big for any
// target, an interrupted move that needs a look.
type Note struct {
	Path   string `json:"path"`
	Branch string `json:"branch,omitempty"`
	Reason string `json:"reason"`
}

// Issue is an fsck finding: one copy of Path differs from the reference copy.
type Issue struct {
	Path   string `json:"path"`
	Branch string `json:"branch"` // the copy that differs
	Field  string `json:"field"`  // "type", "mode", "owner" or "size"
	Want   string `json:"want"`   // the reference copy's value ("" with --fix none)
	Got    string `json:"got"`
	Ref    string `json:"ref,omitempty"` // the reference copy's branch
	Fixed  bool   `json:"fixed"`         // a planned action repairs it
}

// Fill is a branch's use before and after a plan (after: as planned).
type Fill struct {
	Branch     string  `json:"branch"`
	Size       uint64  `json:"size"`
	UsedBefore uint64  `json:"used_before"`
	UsedAfter  uint64  `json:"used_after"`
	PctBefore  float64 `json:"pct_before"`
	PctAfter   float64 `json:"pct_after"`
	Shared     string  `json:"shared_with,omitempty"` // a branch on the same filesystem
}

// Plan is what a tool will do, computed before anything changes. A dry run
// prints it; Execute carries it out in order.
type Plan struct {
	Tool    string   `json:"tool"`
	Scope   string   `json:"scope,omitempty"`
	Actions []Action `json:"actions"`
	Notes   []Note   `json:"notes,omitempty"`
	Issues  []Issue  `json:"issues,omitempty"`
	Fill    []Fill   `json:"fill"`
	Files   int      `json:"files"` // actions that move bytes (move, copy)
	Bytes   int64    `json:"bytes"` // bytes they move

	pool *Pool
}

// finish computes Files, Bytes and Fill from the actions.
func (pl *Plan) finish(stats []branchStat) {
	pl.Files, pl.Bytes = 0, 0
	for _, a := range pl.Actions {
		if a.Op == OpMove || a.Op == OpCopy {
			pl.Files++
			pl.Bytes += a.Bytes
		}
	}
	pl.Fill = projectFill(pl.pool, stats, pl.Actions)
}

// projectFill applies the actions' allocation deltas to the branches'
// statfs, per filesystem (branches sharing a device share the numbers).
func projectFill(p *Pool, stats []branchStat, acts []Action) []Fill {
	delta := map[uint64]int64{}
	for _, a := range acts {
		switch a.Op {
		case OpMove:
			delta[stats[a.from].dev] -= a.alloc
			delta[stats[a.to].dev] += a.alloc
		case OpCopy:
			delta[stats[a.to].dev] += a.alloc
		case OpRemove, OpFinish, OpClean:
			if a.from >= 0 {
				delta[stats[a.from].dev] -= a.alloc
			}
		}
	}
	var out []Fill
	firstOnDev := map[uint64]int{}
	for i, b := range p.Branches {
		st := stats[i]
		f := Fill{Branch: b.Path}
		if !st.ok {
			out = append(out, f)
			continue
		}
		if j, ok := firstOnDev[st.dev]; ok {
			f.Shared = p.Branches[j].Path
		} else {
			firstOnDev[st.dev] = i
		}
		d := delta[st.dev]
		used := int64(st.used) + d
		avail := int64(st.avail) - d
		f.Size = st.size
		f.UsedBefore, f.UsedAfter = st.used, uint64(max(used, 0))
		f.PctBefore = pct(st.used, st.avail)
		f.PctAfter = pct(uint64(max(used, 0)), uint64(max(avail, 0)))
		out = append(out, f)
	}
	return out
}

// Text writes the plan for people: one line per action, the notes, the
// issues, the fill per branch and a total.
func (pl *Plan) Text(w io.Writer) {
	for _, a := range pl.Actions {
		fmt.Fprintln(w, a.String())
	}
	for _, n := range pl.Notes {
		if n.Branch != "" {
			fmt.Fprintf(w, "skip    %s on %s: %s\n", n.Path, n.Branch, n.Reason)
		} else {
			fmt.Fprintf(w, "skip    %s: %s\n", n.Path, n.Reason)
		}
	}
	for _, is := range pl.Issues {
		fmt.Fprintln(w, is.String())
	}
	for _, f := range pl.Fill {
		if f.Size == 0 {
			fmt.Fprintf(w, "fill    %s: unavailable\n", f.Branch)
			continue
		}
		extra := ""
		if f.Shared != "" {
			extra = " (same filesystem as " + f.Shared + ")"
		}
		fmt.Fprintf(w, "fill    %s: %.1f%% -> %.1f%% of %s%s\n", f.Branch, f.PctBefore, f.PctAfter, HumanBytes(int64(f.Size)), extra)
	}
	fmt.Fprintf(w, "total   %d actions, %d files, %s to move or copy, %d skipped", len(pl.Actions), pl.Files, HumanBytes(pl.Bytes), len(pl.Notes))
	if len(pl.Issues) > 0 {
		fmt.Fprintf(w, ", %d issues", len(pl.Issues))
	}
	fmt.Fprintln(w)
}

// String renders one action as a line of a plan or of a run's log.
func (a Action) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s", a.Op, a.Path)
	switch a.Op {
	case OpMove, OpCopy:
		fmt.Fprintf(&b, "  %s -> %s  %s", a.From, a.To, HumanBytes(a.Bytes))
		if len(a.Links) > 0 {
			fmt.Fprintf(&b, " (with hard links %s)", strings.Join(a.Links, ", "))
		}
	case OpLink:
		fmt.Fprintf(&b, "  on %s, to %s", a.To, a.LinkTo)
	case OpRemove:
		fmt.Fprintf(&b, "  from %s  %s", a.From, HumanBytes(a.Bytes))
	case OpChmod:
		fmt.Fprintf(&b, "  on %s to %04o", a.To, a.Mode)
	case OpChown:
		fmt.Fprintf(&b, "  on %s to %d:%d", a.To, deref(a.Uid), deref(a.Gid))
	case OpFinish:
		fmt.Fprintf(&b, "  remove from %s, kept on %s", a.From, a.To)
		if len(a.Links) > 0 {
			fmt.Fprintf(&b, " (with hard links %s)", strings.Join(a.Links, ", "))
		}
	case OpAbandon:
		fmt.Fprintf(&b, "  stays on %s", a.From)
	case OpClean:
		fmt.Fprintf(&b, "  on %s: %s", a.From, strings.Join(a.Names, ", "))
	}
	if a.Reason != "" {
		fmt.Fprintf(&b, "  (%s)", a.Reason)
	}
	return b.String()
}

func (is Issue) String() string {
	s := fmt.Sprintf("issue   %s on %s: %s %s", is.Path, is.Branch, is.Field, is.Got)
	if is.Want != "" {
		s += fmt.Sprintf(", %s has %s", is.Ref, is.Want)
	}
	if is.Fixed {
		s += " (fixed by the plan)"
	}
	return s
}

func deref(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}

// HumanBytes formats n with binary units: "512 B", "1.5 KiB", "3.2 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= unit
		if f < unit && f > -unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f EiB", f/unit)
}

// formatDur prints a duration as h:mm:ss or m:ss.
func formatDur(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// branchPaths lists the pool's branch paths.
func branchPaths(bs []config.Branch) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Path
	}
	return out
}
