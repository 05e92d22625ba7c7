package intercept

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// known remembers union directories the resolver walked through, so
	// the next path below them is not looked up component by component.
	known knownDirs
}

// knownDirs is a short-lived record of paths that were union directories
// (not symlinks, not files) when a resolution went through them: with
// every intermediate component of a ".."-free, symlink-free spelling known,
// the path is the same union path lexically, and resolving it costs no
// lookup (the operation's own vfs call then looks the final component up,
// walking the same parents on its branches, so permissions and missing
// parents are still seen). It is forgotten on every emulated unlink, rmdir
// and rename in the union and on branch changes (the only ways the
// workload can turn a directory into something else or remove it), and each
// entry lasts knownDirTTL, which bounds how long a change made behind the
// supervisor's back (another process editing a branch) can go unseen, like
// the entry timeout of a mount.
type knownDirs struct {
	mu sync.Mutex
	m  map[string]int64 // union-relative directory → expiry (supervisor clock)
}

const (
	knownDirTTL = int64(time.Second)
	knownDirMax = 8192
)

// parentsKnown reports whether every proper prefix of the clean relative
// path rel is a known directory at time now (true for a top-level name).
func (k *knownDirs) parentsKnown(rel string, now int64) bool {
	i := strings.IndexByte(rel, '/')
	if i < 0 {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for ; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		if exp, ok := k.m[rel[:i]]; !ok || exp < now {
			return false
		}
	}
	return true
}

// learn records the proper prefixes of rel as directories until now+TTL.
func (k *knownDirs) learn(rel string, now int64) {
	if strings.IndexByte(rel, '/') < 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) >= knownDirMax {
		k.m = make(map[string]int64)
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' {
			k.m[rel[:i]] = now + knownDirTTL
		}
	}
}

// forget drops every entry.
func (k *knownDirs) forget() {
	k.mu.Lock()
	k.m = nil
	k.mu.Unlock()
}

// forgetKnown drops the known directories of every union before an rmdir
// or rename: raw is the task's path string. Relative strings and strings
// under a target may name a union directory; an absolute string elsewhere
// does only when it lies in a branch (the workload editing a branch
// directly).
func (s *supervisor) forgetKnown(raw string) {
	if strings.HasPrefix(raw, "/") && !s.touchesTarget(lexClean(raw)) && !s.inBranch(lexClean(raw)) {
		return
	}
	for _, u := range s.unions {
		u.known.forget()
	}
}

// inBranch reports whether the clean absolute path p is a branch root or
// lies below one (or is a parent of one: renaming it moves the branch).
func (s *supervisor) inBranch(p string) bool {
	for _, u := range s.unions {
		for _, b := range u.branches() {
			if within(p, b) || within(b, p) {
				return true
			}
		}
	}
	return false
}

// onlyDotComponents reports whether rel has no component but "." (and
// empty ones): it names the directory it is relative to. A name made of
// dots ("...") is an ordinary name.
func onlyDotComponents(rel string) bool {
	for i := 0; i < len(rel); i++ {
		if rel[i] == '.' && (i+1 == len(rel) || rel[i+1] == '/') && (i == 0 || rel[i-1] == '/') {
			continue
		}
		if rel[i] != '/' {
			return false
		}
	}
	return true
}

// cleanRel reports whether rel is a union-relative path spelled without
// empty, "." or ".." components and without a trailing slash: the only
// spellings the known-directory fast path takes.
func cleanRel(rel string) bool {
	if rel == "" || rel[0] == '/' || rel[len(rel)-1] == '/' {
		return false
	}
	start := 0
	for i := 0; i <= len(rel); i++ {
		if i < len(rel) && rel[i] != '/' {
			continue
		}
		c := rel[start:i]
		if c == "" || c == "." || c == ".." {
			return false
		}
		start = i + 1
	}
	return true
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
		// Stats report real st_dev/st_ino (fstat of injected fds is native),
		// so a directory must not change identity when a create clones it
		// onto an earlier branch: tar and fts compare it.
		u.Pool.KeepDirIdentity()
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
	return strings.HasPrefix(p, dir) && (len(p) == len(dir) || p[len(dir)] == '/')
}

// plainlyOutside reports the cheapest CONTINUE: an absolute path without
// "..", neither under a union target nor under /proc (whose magic links the
// supervisor may rewrite).
func (s *supervisor) plainlyOutside(p string) bool {
	if len(p) == 0 || p[0] != '/' || strings.HasPrefix(p, "/proc/") {
		return false
	}
	dotdot, unclean := pathShape(p)
	if dotdot {
		return false
	}
	if unclean {
		p = lexClean(p)
	}
	return !s.touchesClean(p)
}

// pathShape reports, in one pass, whether path p has a ".." component and
// whether it is lexically unclean: a run of slashes or a "." component
// after the first (as strings.Contains "//" or "/./", or a final "/.",
// would find; a trailing slash is clean).
func pathShape(p string) (dotdot, unclean bool) {
	start, idx := 0, 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		switch p[start:i] {
		case "..":
			dotdot = true
		case ".":
			unclean = unclean || idx > 0
		case "":
			unclean = unclean || (idx > 0 && i < len(p))
		}
		start, idx = i+1, idx+1
	}
	return dotdot, unclean
}

// touchesTarget reports whether the absolute, ".."-free path p names a
// union target or something below it. Runs of slashes and "." components
// are ignored as the kernel ignores them.
func (s *supervisor) touchesTarget(p string) bool {
	if _, unclean := pathShape(p); unclean {
		p = lexClean(p)
	}
	return s.touchesClean(p)
}

// touchesClean is touchesTarget of a lexically clean path.
func (s *supervisor) touchesClean(p string) bool {
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
// leads into a target, is left to the kernel. A clean spelling below known
// union directories is the union path itself (knownDirs). Everything else
// is resolved in the union namespace by vfs.Resolver. ok=false carries the
// reply to send instead (an errno of the resolution).
func (t *task) locate(dirfd int, path string, follow bool) (loc, reply, bool) {
	if path == "" {
		return loc{}, reply{}, true // fd operation (AT_EMPTY_PATH) or ENOENT: the kernel's call
	}
	if t.s.plainlyOutside(path) {
		return loc{}, reply{}, true
	}
	if t.unchecked && !t.valid() {
		return loc{}, gone(), false
	}
	s := t.s
	base := "/"
	// lexUI and lex: the union and union path the raw string names
	// lexically, when its base is in a union (to learn from the result).
	var lexUI *unionInfo
	lex := ""
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
			if ui, rel, ok := s.unionOf(b); ok {
				lexUI, lex = ui, joinRel(rel, path)
			}
		} else if ui, v, rel, mapped := s.mapBranch(b); mapped {
			base = v
			lexUI, lex = ui, joinRel(rel, path)
		} else {
			base = b
			if !s.walkTouches(b, path) {
				return loc{}, reply{}, true
			}
		}
		if lexUI != nil && !follow && cleanRel(lex) && lexUI.known.parentsKnown(lex, t.now) {
			return t.inUnion(lexUI, lex, false), reply{}, true
		}
	}
	res, e := s.resolver.Resolve(s.ctx, t.creds(false, false), base, path, follow)
	if e != 0 {
		return loc{}, fail(e), false
	}
	l, r, ok := t.located(res)
	if ok && lexUI != nil && l.ui == lexUI && l.rel == lex && cleanRel(lex) {
		lexUI.known.learn(lex, t.now)
	}
	return l, r, ok
}

// inUnion is the location of union path rel of ui.
func (t *task) inUnion(ui *unionInfo, rel string, dir bool) loc {
	t.traceUI, t.traceRel = ui, rel
	return loc{where: whereUnion, ui: ui, rel: rel, dir: dir}
}

// unionOf maps an absolute, clean path in the workload's view (a virtual
// cwd) to the union it lies in.
func (s *supervisor) unionOf(p string) (*unionInfo, string, bool) {
	for _, u := range s.unions {
		if p == u.target {
			return u, "", true
		}
		if strings.HasPrefix(p, u.target) && p[len(u.target)] == '/' {
			return u, p[len(u.target)+1:], true
		}
	}
	return nil, "", false
}

// joinRel appends the raw relative path p to the union path rel.
func joinRel(rel, p string) string {
	if rel == "" {
		return p
	}
	return rel + "/" + p
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
			return t.inUnion(u, res.Rel, res.Dir), reply{}, true
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
	return t.attrOf(l, dirfd, path, follow)
}

// attrOf completes locate(dirfd, path, false) as locateAttr does.
func (t *task) attrOf(l loc, dirfd int, path string, follow bool) (loc, vfs.Attr, unix.Errno, reply, bool) {
	var a vfs.Attr
	if l.where != whereUnion {
		if follow && l.where == whereHost {
			l, r, ok := t.locate(dirfd, path, true)
			return l, a, 0, r, ok
		}
		return l, a, 0, reply{}, true
	}
	c := t.creds(false, false)
	a, ae := t.getattr(l, c)
	if ae != 0 || !follow || a.Stat.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.noteFound(l, a, ae)
		return l, a, ae, reply{}, true
	}
	l, r, ok := t.locate(dirfd, path, true)
	if ok && l.where == whereUnion {
		a, ae = t.getattr(l, c)
		t.noteFound(l, a, ae)
	}
	return l, a, ae, r, ok
}

// getattr is vfs Getattr of union location l, or GetattrStatx while a
// statx(2) locates its path (t.sx): the search's own lookup then yields the
// branch object's statx, no second call on that branch.
func (t *task) getattr(l loc, c *vfs.Cred) (vfs.Attr, unix.Errno) {
	if t.sx == nil {
		return l.ui.u.Pool.Getattr(t.s.ctx, c, l.rel)
	}
	a, filled, e := l.ui.u.Pool.GetattrStatx(t.s.ctx, c, l.rel, t.sx.flags, t.sx.mask, &t.sx.stx)
	t.sx.filled = filled
	return a, e
}

// noteFound keeps what Getattr found for l for the xattr reads that may
// follow (worker.found).
func (t *task) noteFound(l loc, a vfs.Attr, ae unix.Errno) {
	if ae == 0 && a.Branch >= 0 {
		t.w.found = foundObj{ok: true, tid: t.tid, ui: l.ui, rel: l.rel, a: a}
	}
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
		if onlyDotComponents(rest) {
			// the union root itself
			return t.inUnion(u, "", strings.HasSuffix(path, "/") || strings.HasSuffix(path, "/.")), reply{}, true, true
		}
		clean := cleanRel(rest)
		if clean && !follow && u.known.parentsKnown(rest, t.now) {
			return t.inUnion(u, rest, false), reply{}, true, true
		}
		res, e := t.s.resolver.Resolve(t.s.ctx, t.creds(false, false), u.target, rest, follow)
		if e != 0 {
			return loc{}, fail(e), false, true
		}
		l, r, ok := t.located(res)
		if ok && clean && l.ui == u && l.rel == rest {
			u.known.learn(rest, t.now)
		}
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
		u.known.forget()
	}
}
