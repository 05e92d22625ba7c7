package config

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mfs-union/mfs/vfs/policy"
)

// Branch is one entry of the branch list.
type Branch struct {
	Path         string      // absolute path; symlinks resolved when the branch existed at parse time
	Mode         policy.Mode // RW, RO or NC
	MinFreeSpace uint64      // this branch's own minfreespace; meaningful only if HasMinFree
	HasMinFree   bool        // false: the global minfreespace applies
}

// String returns the branch in list syntax: PATH=MODE[,SIZE].
func (b Branch) String() string {
	s := b.Path + "=" + b.Mode.String()
	if b.HasMinFree {
		s += "," + FormatSize(b.MinFreeSpace)
	}
	return s
}

// BranchError reports a branch list element that could not be parsed.
type BranchError struct {
	Element string // the element as written, e.g. "/mnt/a=rw"
	Reason  string // what is wrong with it
	Fix     string // how to write it instead
}

func (e *BranchError) Error() string {
	s := fmt.Sprintf("branch %q: %s", e.Element, e.Reason)
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// ParseBranches parses a ':'-separated branch list. Each element is
// PATH[=MODE[,MINFREESPACE]], split at its last '=' so a PATH may contain '='
// when a MODE follows. MODE is RW, RO or NC (case-sensitive); MINFREESPACE
// uses the SIZE syntax. Empty elements (a doubled or trailing ':') are
// ignored. PATH is expanded like glob(3) with GLOB_BRACE|GLOB_ONLYDIR (see
// expandGlob), so only directories (or symlinks to them) match, and each
// result is made absolute with symlinks resolved. A glob that matches
// nothing (or only non-directories) is kept literally, as is a path that does
// not exist; a literal path that is not a directory is skipped. The first bad
// element fails the whole list with a *BranchError.
func ParseBranches(spec string) ([]Branch, error) {
	bs, _, err := parseBranches(spec)
	return bs, err
}

// parseBranches is ParseBranches that also returns a notice for each path
// skipped because it names no directory (mergerfs logs a warning for each).
func parseBranches(spec string) ([]Branch, []string, error) {
	var out []Branch
	var notices []string
	for _, elem := range strings.Split(spec, ":") {
		if elem == "" {
			continue
		}
		bs, skipped, err := parseBranchElem(elem)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, bs...)
		notices = append(notices, skipped...)
	}
	return out, notices, nil
}

func parseBranchElem(elem string) ([]Branch, []string, error) {
	pattern, opts := elem, ""
	hasOpts := false
	if i := strings.LastIndexByte(elem, '='); i >= 0 {
		pattern, opts, hasOpts = elem[:i], elem[i+1:], true
	}
	tmpl := Branch{Mode: policy.RW}
	if pattern == "" {
		return nil, nil, &BranchError{Element: elem, Reason: "empty path",
			Fix: "write PATH[=RW|RO|NC[,SIZE]], e.g. /mnt/disk1=RW"}
	}
	if hasOpts {
		modeStr, sizeStr, hasSize := strings.Cut(opts, ",")
		switch modeStr {
		case "RW":
			tmpl.Mode = policy.RW
		case "RO":
			tmpl.Mode = policy.RO
		case "NC":
			tmpl.Mode = policy.NC
		default:
			fix := "MODE must be RW, RO or NC (upper case)"
			if up := strings.ToUpper(modeStr); up == "RW" || up == "RO" || up == "NC" {
				fix += fmt.Sprintf(", e.g. %s=%s", pattern, up)
			} else {
				fix += fmt.Sprintf("; a path containing '=' needs an explicit mode: %s=RW", elem)
			}
			return nil, nil, &BranchError{Element: elem, Reason: fmt.Sprintf("invalid mode %q", modeStr), Fix: fix}
		}
		if hasSize {
			n, err := ParseSize(sizeStr)
			if err != nil || strings.Contains(sizeStr, ",") {
				return nil, nil, &BranchError{Element: elem,
					Reason: fmt.Sprintf("invalid minfreespace %q", sizeStr),
					Fix:    "write digits with an optional B/K/M/G/T suffix after the mode, e.g. " + pattern + "=" + modeStr + ",100G"}
			}
			tmpl.MinFreeSpace, tmpl.HasMinFree = n, true
		}
	}

	type resolved struct {
		out     []Branch
		skipped []string
	}
	r, ok := withinProbeTimeout(func() resolved {
		out, skipped := resolveBranches(pattern, tmpl)
		return resolved{out, skipped}
	})
	if !ok {
		return nil, nil, &BranchError{Element: elem,
			Reason: fmt.Sprintf("%s did not answer within %s (a hung network or FUSE file system?)", pattern, probeTimeout),
			Fix:    "repair it, or leave it out of the branch list"}
	}
	return r.out, r.skipped, nil
}

// resolveBranches expands pattern and makes a branch of tmpl for each
// directory it names. A path that names something else is skipped, as
// mergerfs does, with a notice saying so (a device given instead of its
// mount point otherwise left a pool with "no branches" and no reason).
func resolveBranches(pattern string, tmpl Branch) ([]Branch, []string) {
	paths := expandGlob(pattern)
	if len(paths) == 0 {
		paths = []string{pattern} // no match: keep the literal (mergerfs logs a notice)
	}
	var out []Branch
	var skipped []string
	for _, p := range paths {
		p = realpath(p)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			skipped = append(skipped, fmt.Sprintf("branch %s is a %s, not a directory: skipped (a branch is a directory, such as the mount point of a disk)", p, fileKind(fi.Mode())))
			continue
		}
		// A branch that does not exist (yet) is kept.
		b := tmpl
		b.Path = p
		out = append(out, b)
	}
	return out, skipped
}

// fileKind names the type of a non-directory for a message.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "block device"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return "file"
}

// probeTimeout bounds how long resolving one branch element (glob, symlinks,
// stat) may take. A branch on a hung file system (an NFS server gone, a
// FUSE daemon stopped) never answers, and every step would wait with it in
// an uninterruptible sleep: `mfs mount` or `mfs run` sat there without a
// word. Generous, because a disk spinning up takes seconds.
var probeTimeout = 30 * time.Second

// withinProbeTimeout runs f and returns its result, or ok=false when it has
// not returned within probeTimeout. f then stays blocked until the file
// system answers; the caller is about to give up anyway.
func withinProbeTimeout[T any](f func() T) (v T, ok bool) {
	done := make(chan T, 1)
	go func() { done <- f() }()
	t := time.NewTimer(probeTimeout)
	defer t.Stop()
	select {
	case v = <-done:
		return v, true
	case <-t.C:
		return v, false
	}
}

// realpath returns p made absolute with symlinks resolved, or just made
// absolute and cleaned when it cannot be resolved (e.g. it does not exist).
func realpath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// expandGlob expands brace alternatives ({a,b}, nested allowed, '\' escapes)
// and then shell wildcards (* ? [...]) in each alternative, keeping only
// directories (or symlinks to them). Results keep alternative order and are
// sorted within an alternative, like glob(3). As in glob(3), a wildcard does
// not match a leading '.' of a name unless the pattern has one there.
func expandGlob(pattern string) []string {
	var out []string
	for _, alt := range expandBraces(pattern) {
		matches, err := filepath.Glob(alt)
		if err != nil {
			continue
		}
		for _, m := range matches {
			if hiddenByWildcard(alt, m) {
				continue
			}
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				out = append(out, m)
			}
		}
	}
	return out
}

// hiddenByWildcard reports whether a wildcard component of pattern matched a
// dot-file component of match. filepath.Glob never crosses '/', so the
// components line up.
func hiddenByWildcard(pattern, match string) bool {
	pc := strings.Split(pattern, "/")
	mc := strings.Split(match, "/")
	if len(pc) != len(mc) {
		return false
	}
	for i := range pc {
		if strings.HasPrefix(mc[i], ".") && !strings.HasPrefix(pc[i], ".") &&
			strings.ContainsAny(pc[i], "*?[") {
			return true
		}
	}
	return false
}

// maxBraceExpansions bounds brace expansion so a hostile pattern can't
// allocate without limit.
const maxBraceExpansions = 4096

// expandBraces expands the first top-level {x,y,...} group that has a
// matching '}' and at least one top-level ',', recursively. Groups without a
// comma ("{}" or "{a}") and unmatched braces stay literal.
func expandBraces(s string) []string {
	out := []string{}
	var rec func(s string)
	rec = func(s string) {
		if len(out) >= maxBraceExpansions {
			return
		}
		open, close, parts := findBraceGroup(s)
		if open < 0 {
			out = append(out, s)
			return
		}
		for _, p := range parts {
			rec(s[:open] + p + s[close+1:])
		}
	}
	rec(s)
	return out
}

// findBraceGroup finds the first expandable brace group in s and returns its
// bounds and top-level alternatives, or open == -1.
func findBraceGroup(s string) (open, close int, parts []string) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth, start := 0, i+1
			var alts []string
			for j := i; j < len(s); j++ {
				switch s[j] {
				case '\\':
					j++
				case '{':
					depth++
				case ',':
					if depth == 1 {
						alts = append(alts, s[start:j])
						start = j + 1
					}
				case '}':
					depth--
					if depth == 0 {
						if alts != nil {
							return i, j, append(alts, s[start:j])
						}
						j = len(s) // no comma: this group is literal
					}
				}
			}
			// Unmatched or comma-less: keep scanning after this '{' so a
			// group nested inside it can still expand.
		}
	}
	return -1, -1, nil
}

// EditBranches applies a runtime edit instruction (the value written to
// user.mergerfs.branches) to cur and returns the new list:
//
//	LIST or =LIST   replace the list
//	+<LIST          prepend
//	+>LIST or +LIST append
//	-PATTERNS       remove branches whose path matches any ':'-separated pattern
//	-<              remove the first branch
//	->              remove the last branch
//
// Patterns use fnmatch(3) rules without FNM_PATHNAME, as mergerfs does: '*'
// and '?' also match '/'. On any error cur is returned unchanged together
// with the error; cur itself is never modified.
func EditBranches(cur []Branch, instr string) ([]Branch, error) {
	nb, _, err := editBranches(cur, instr)
	return nb, err
}

// editBranches is EditBranches that also returns the notices of the paths
// it skipped (parseBranches).
func editBranches(cur []Branch, instr string) ([]Branch, []string, error) {
	clone := func() []Branch { return append([]Branch(nil), cur...) }
	switch {
	case strings.HasPrefix(instr, "+<"):
		add, notes, err := parseBranches(instr[2:])
		if err != nil {
			return cur, nil, err
		}
		return append(add, cur...), notes, nil
	case strings.HasPrefix(instr, "+>"), strings.HasPrefix(instr, "+"):
		list := strings.TrimPrefix(strings.TrimPrefix(instr, "+"), ">")
		add, notes, err := parseBranches(list)
		if err != nil {
			return cur, nil, err
		}
		return append(clone(), add...), notes, nil
	case instr == "-<" || instr == "->":
		if len(cur) == 0 {
			return cur, nil, &BranchError{Element: instr, Reason: "the branch list is empty", Fix: "nothing to remove"}
		}
		if instr == "-<" {
			return clone()[1:], nil, nil
		}
		return clone()[:len(cur)-1], nil, nil
	case strings.HasPrefix(instr, "-<"), strings.HasPrefix(instr, "->"):
		return cur, nil, &BranchError{Element: instr, Reason: "-< and -> take no argument",
			Fix: "use -PATTERN to remove branches by path"}
	case strings.HasPrefix(instr, "-"):
		pats := strings.Split(instr[1:], ":")
		for _, p := range pats {
			if _, err := fnmatch(p, ""); err != nil {
				return cur, nil, &BranchError{Element: p, Reason: "invalid pattern: " + err.Error(),
					Fix: "use fnmatch syntax (* ? [...]), e.g. -/mnt/disk*"}
			}
		}
		var out []Branch
		for _, b := range cur {
			keep := true
			for _, p := range pats {
				if ok, _ := fnmatch(p, b.Path); ok {
					keep = false
					break
				}
			}
			if keep {
				out = append(out, b)
			}
		}
		return out, nil, nil
	case strings.HasPrefix(instr, "<"), strings.HasPrefix(instr, ">"):
		return cur, nil, &BranchError{Element: instr, Reason: "unknown edit instruction",
			Fix: "use LIST, =LIST, +<LIST, +>LIST, +LIST, -PATTERNS, -< or ->"}
	}
	nb, notes, err := parseBranches(strings.TrimPrefix(instr, "="))
	if err != nil {
		return cur, nil, err
	}
	return nb, notes, nil
}

// fnmatch matches name against an fnmatch(3) pattern with flags 0 ('*' and
// '?' match '/'). It reuses path.Match by mapping '/' to a byte that path
// names cannot contain, so only path.Match's special case for '/' changes.
func fnmatch(pattern, name string) (bool, error) {
	const sep = "\x00"
	return path.Match(strings.ReplaceAll(pattern, "/", sep), strings.ReplaceAll(name, "/", sep))
}

// FormatBranches renders bs as mergerfs prints user.mergerfs.branches:
// PATH=MODE for each branch, with ",SIZE" appended only when the branch has
// its own minfreespace, joined by ':'.
func FormatBranches(bs []Branch) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.String()
	}
	return strings.Join(parts, ":")
}

// SrcMounts renders the branch paths alone joined by ':' (the legacy
// user.mergerfs.srcmounts value).
func SrcMounts(bs []Branch) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.Path
	}
	return strings.Join(parts, ":")
}
