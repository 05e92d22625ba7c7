package intercept

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

// unionInfo is one union as the supervisor maps it: the target and the
// canonical branch roots, so a kernel path inside a branch (the cwd after a
// chdir into the union, the path of an injected fd) maps back to the union.
type unionInfo struct {
	u      *vfs.Union
	target string
	// direct: the target's ancestors are real directories without symlinks
	// (or do not exist), so a path spelled "TARGET/rest" is resolved from
	// the union root without walking the host components before it.
	direct bool
	// roots holds the branch roots; replaced when the control file changes
	// the branch list.
	roots atomic.Pointer[[]string]
}

func (ui *unionInfo) branches() []string { return *ui.roots.Load() }

// where says how a path argument is answered.
type where uint8

const (
	// whereOutside: the kernel resolves the raw string to the same object
	// the union namespace would: CONTINUE.
	whereOutside where = iota
	// whereUnion: the object is rel in union ui; emulate through vfs.
	whereUnion
	// whereHost: the resolution went through a union (a symlink in it, or
	// ".." out of it, or a cwd inside a branch) and ended on the host path
	// host, which the kernel cannot reach from the raw string: the
	// supervisor performs the syscall on host itself.
	whereHost
)

type loc struct {
	where where
	ui    *unionInfo
	rel   string
	host  string
	dir   bool // the raw path ended in "/", "/." or "/..": a directory is required
}

// hostPath is the path the supervisor uses for a whereHost location; a
// trailing slash is kept so the kernel applies the same directory checks.
func (l loc) hostPath() string {
	if l.dir && l.host != "/" {
		return l.host + "/"
	}
	return l.host
}

// buildUnions validates the targets and collects the branch roots.
func buildUnions(us []vfs.Union) ([]*unionInfo, error) {
	out := make([]*unionInfo, 0, len(us))
	for i := range us {
		u := &us[i]
		if u.Pool == nil {
			return nil, fmt.Errorf("union %q has no pool", u.Target)
		}
		if !filepath.IsAbs(u.Target) || filepath.Clean(u.Target) != u.Target || u.Target == "/" {
			return nil, fmt.Errorf("union target %q must be an absolute, clean path other than /", u.Target)
		}
		ui := &unionInfo{u: u, target: u.Target}
		parent := filepath.Dir(u.Target)
		if r, err := filepath.EvalSymlinks(parent); err == nil && r == parent {
			ui.direct = true
		} else if os.IsNotExist(err) {
			ui.direct = true
		}
		roots := branchRoots(u.Pool)
		ui.roots.Store(&roots)
		out = append(out, ui)
	}
	// Nested or overlapping targets and branches would make the reverse map
	// (branch path → union path) ambiguous.
	for i := range out {
		for j := range out {
			if i != j && within(out[i].target, out[j].target) {
				return nil, fmt.Errorf("union targets %q and %q overlap", out[i].target, out[j].target)
			}
			for _, b := range out[j].branches() {
				if within(b, out[i].target) || within(out[i].target, b) {
					return nil, fmt.Errorf("union target %q and branch %q overlap: a branch may not lie inside a target or contain one", out[i].target, b)
				}
			}
		}
	}
	return out, nil
}

// branchRoots lists a pool's branch directories as the kernel spells them
// (symlinks resolved), which is how /proc/PID/cwd and fd/N show them.
func branchRoots(p *vfs.Pool) []string {
	o := p.Options()
	out := make([]string, len(o.Branches))
	for i, b := range o.Branches {
		path := b.Path
		if r, err := filepath.EvalSymlinks(path); err == nil {
			path = r
		}
		out[i] = filepath.Clean(path)
	}
	return out
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// touchesTarget reports whether the absolute, ".."-free path p names a
// union target or something below it. Runs of slashes and "." components
// are ignored as the kernel ignores them.
func (s *supervisor) touchesTarget(p string) bool {
	if strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.HasSuffix(p, "/.") {
		p = lexClean(p)
	}
	for _, u := range s.unions {
		if within(p, u.target) {
			return true
		}
	}
	return false
}

// walkTouches applies the components of rel (".." included) to base
// lexically and reports whether any intermediate lands in a target.
func (s *supervisor) walkTouches(base, rel string) bool {
	cur := lexClean(base)
	if s.touchesTarget(cur) {
		return true
	}
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			cur = parentOf(cur)
		default:
			if cur == "/" {
				cur = "/" + c
			} else {
				cur += "/" + c
			}
		}
		if s.touchesTarget(cur) {
			return true
		}
	}
	return false
}

// mapBranch maps a kernel path inside a branch to the union path it shows.
func (s *supervisor) mapBranch(p string) (ui *unionInfo, vpath, rel string, ok bool) {
	for _, u := range s.unions {
		for _, b := range u.branches() {
			if p == b {
				return u, u.target, "", true
			}
			if strings.HasPrefix(p, b+"/") {
				r := p[len(b)+1:]
				return u, u.target + "/" + r, r, true
			}
		}
	}
	return nil, "", "", false
}

// mapUnionPath rewrites a kernel path for display (readlink of /proc magic
// links, getcwd): inside a branch → the union path; else unchanged.
func (s *supervisor) mapUnionPath(p string) (string, bool) {
	if _, v, _, ok := s.mapBranch(p); ok {
		return v, true
	}
	return p, false
}

// locate decides how the path argument of an *at syscall is answered. Cheap
// checks first (INTERCEPT.md §3): an absolute path that is ".."-free and not
// under any target, or a relative one whose base is neither in a branch nor
// leads into a target, is left to the kernel. Everything else is resolved in
// the union namespace by vfs.Resolver. ok=false carries the reply to send
// instead (an errno of the resolution).
func (t *task) locate(dirfd int, path string, follow bool) (loc, reply, bool) {
	if path == "" {
		return loc{}, reply{}, true // fd operation (AT_EMPTY_PATH) or ENOENT: the kernel's call
	}
	s := t.s
	base := "/"
	if path[0] == '/' {
		if !hasDotDot(path) {
			if !s.touchesTarget(path) {
				return loc{}, reply{}, true
			}
			if l, r, ok, done := t.locateDirect(path, follow); done {
				return l, r, ok
			}
		} else if !s.walkTouches("/", path) {
			return loc{}, reply{}, true
		}
	} else {
		b, virtual, e := t.base(dirfd)
		if e != 0 || !strings.HasPrefix(b, "/") {
			// EBADF, ENOTDIR and friends, or an anonymous inode: the kernel's call.
			return loc{}, reply{}, true
		}
		if strings.HasSuffix(b, " (deleted)") {
			return loc{}, reply{}, true
		}
		if virtual {
			base = b
		} else if _, v, _, mapped := s.mapBranch(b); mapped {
			base = v
		} else {
			base = b
			if !s.walkTouches(b, path) {
				return loc{}, reply{}, true
			}
		}
	}
	res, e := s.resolver.Resolve(s.ctx, t.creds(false, false), base, path, follow)
	if e != 0 {
		return loc{}, fail(e), false
	}
	return t.located(res)
}

// located turns a resolution into a loc.
func (t *task) located(res vfs.Resolved) (loc, reply, bool) {
	s := t.s
	if res.Union == nil {
		t.path = res.Host
		return loc{where: whereHost, host: res.Host, dir: res.Dir}, reply{}, true
	}
	for _, u := range s.unions {
		if u.u == res.Union {
			t.path = res.Union.Target
			if res.Rel != "" {
				t.path += "/" + res.Rel
			}
			return loc{where: whereUnion, ui: u, rel: res.Rel, dir: res.Dir}, reply{}, true
		}
	}
	return loc{}, fail(unix.EIO), false
}

// locateAttr locates path and, inside a union, fetches the attributes of
// the final object (attrErr is vfs.Getattr's errno). It resolves without
// following first, so the last component is looked up once; only a symlink
// that must be followed is resolved again.
func (t *task) locateAttr(dirfd int, path string, follow bool) (l loc, a vfs.Attr, attrErr unix.Errno, r reply, ok bool) {
	l, r, ok = t.locate(dirfd, path, false)
	if !ok {
		return
	}
	if l.where != whereUnion {
		if follow && l.where == whereHost {
			l, r, ok = t.locate(dirfd, path, true)
		}
		return
	}
	a, attrErr = l.ui.u.Pool.Getattr(t.s.ctx, t.creds(false, false), l.rel)
	if attrErr != 0 || !follow || a.Stat.Mode&unix.S_IFMT != unix.S_IFLNK {
		return
	}
	l, r, ok = t.locate(dirfd, path, true)
	if ok && l.where == whereUnion {
		a, attrErr = l.ui.u.Pool.Getattr(t.s.ctx, t.creds(false, false), l.rel)
	}
	return
}

// locateDirect resolves "TARGET/rest" (no "..") from the union root.
func (t *task) locateDirect(path string, follow bool) (loc, reply, bool, bool) {
	for _, u := range t.s.unions {
		if !u.direct || !strings.HasPrefix(path, u.target) {
			continue
		}
		rest := path[len(u.target):]
		if rest != "" && rest[0] != '/' {
			continue
		}
		rest = strings.TrimLeft(rest, "/")
		if rest == "" || strings.Trim(rest, "/.") == "" {
			// the union root itself
			t.path = u.target
			return loc{where: whereUnion, ui: u, dir: strings.HasSuffix(path, "/") || strings.HasSuffix(path, "/.")}, reply{}, true, true
		}
		res, e := t.s.resolver.Resolve(t.s.ctx, t.creds(false, false), u.target, rest, follow)
		if e != 0 {
			return loc{}, fail(e), false, true
		}
		l, r, ok := t.located(res)
		return l, r, ok, true
	}
	return loc{}, reply{}, false, false
}

// kernelPath names the object a raw path argument designates, as a path the
// supervisor can use itself: absolute paths as they are, relative ones below
// the task's magic cwd or fd link, which the kernel follows into exactly the
// directory the task would start from.
func (t *task) kernelPath(dirfd int, path string) string {
	if strings.HasPrefix(path, "/") {
		return path
	}
	if dirfd == unix.AT_FDCWD {
		return t.procPath("cwd/" + path)
	}
	return t.procPath("fd/" + itoa(dirfd) + "/" + path)
}

func hasDotDot(p string) bool {
	if !strings.Contains(p, "..") {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

// lexClean collapses slashes, "." and ".." of an absolute path without
// looking at the disk.
func lexClean(p string) string {
	if p == "" {
		return "/"
	}
	return filepath.Clean("/" + p)
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// lastComponent returns the final component of a raw path ("" for "/").
func lastComponent(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// refreshBranches reloads the branch roots after the control file changed
// the options.
func (s *supervisor) refreshBranches() {
	for _, u := range s.unions {
		roots := branchRoots(u.u.Pool)
		u.roots.Store(&roots)
	}
}
