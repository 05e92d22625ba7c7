package tools

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// ControlFile is the name of the control file at a pool's mount root.
const ControlFile = ".mergerfs"

// Control-file keys and per-path attributes (MERGERFS.md §4.10).
const (
	KeyBranches     = "user.mergerfs.branches"
	KeySrcMounts    = "user.mergerfs.srcmounts"
	KeyMinFreeSpace = "user.mergerfs.minfreespace"
	KeyVersion      = "user.mergerfs.version"
	AttrAllPaths    = "user.mergerfs.allpaths"
	AttrBasePath    = "user.mergerfs.basepath"
	AttrFullPath    = "user.mergerfs.fullpath"
)

// Pool is the set of branches a tool works on.
type Pool struct {
	// Mount is the mount root the pool was discovered from; "" when the
	// branches were given directly.
	Mount string
	// Branches in the pool's order (the order the "mergerfs" policies use).
	Branches []config.Branch
	// MinFree is the pool-wide minfreespace: a tool never fills a branch
	// past it (a branch's own MinFreeSpace wins when it has one).
	MinFree uint64
}

// minFree returns the free space branch i must keep.
func (p *Pool) minFree(i int) uint64 {
	if b := p.Branches[i]; b.HasMinFree {
		return b.MinFreeSpace
	}
	return p.MinFree
}

// canCreate reports whether tools may put new files on branch i: RW only,
// as mergerfs's create policies (RO and NC branches are left out).
func (p *Pool) canCreate(i int) bool { return p.Branches[i].Mode == policy.RW }

// canRemove reports whether tools may remove files from branch i: not RO,
// as mergerfs's action policies.
func (p *Pool) canRemove(i int) bool { return p.Branches[i].Mode != policy.RO }

// DiscoverError says why a path is not the mount of a pool.
type DiscoverError struct {
	Path string
	Err  error
}

func (e *DiscoverError) Error() string {
	return fmt.Sprintf("%s is not in an mfs or mergerfs mount (no %s control file with %s): %v; "+
		"give the branches directly with --branches /mnt/disk1:/mnt/disk2", e.Path, ControlFile, KeySrcMounts, e.Err)
}

func (e *DiscoverError) Unwrap() error { return e.Err }

// Discover finds the pool that path belongs to: path is the mount root of
// an mfs or mergerfs mount, or any directory inside one. It reads the
// branch list from the control file's user.mergerfs.branches (which keeps
// the RW/RO/NC modes and per-branch minfreespace) or, where that key is
// missing, user.mergerfs.srcmounts, plus user.mergerfs.minfreespace.
//
// scope is path relative to the mount root ("" for the root itself): the
// tools that walk the pool walk only that subtree.
func Discover(path string) (p *Pool, scope string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", &DiscoverError{Path: path, Err: err}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, "", &DiscoverError{Path: path, Err: err}
	}
	if !fi.IsDir() {
		return nil, "", &DiscoverError{Path: path, Err: unix.ENOTDIR}
	}
	var first error
	for dir := abs; ; dir = filepath.Dir(dir) {
		p, err := discoverAt(dir)
		if err == nil {
			rel, _ := filepath.Rel(dir, abs)
			if rel == "." {
				rel = ""
			}
			return p, rel, nil
		}
		if first == nil {
			first = err
		}
		// Keep walking up only while the control file is simply absent:
		// a control file that exists but fails is the answer.
		if !errors.Is(err, unix.ENOENT) || dir == "/" {
			return nil, "", &DiscoverError{Path: path, Err: first}
		}
	}
}

// discoverAt reads the pool whose mount root is dir.
func discoverAt(dir string) (*Pool, error) {
	ctl := filepath.Join(dir, ControlFile)
	spec, err := getxattr(ctl, KeyBranches)
	if err != nil {
		spec, err = getxattr(ctl, KeySrcMounts)
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, unix.ENOENT
		}
		return nil, fmt.Errorf("read %s of %s: %w", KeySrcMounts, ctl, err)
	}
	bs, err := parseBranchValue(spec)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", KeyBranches, ctl, err)
	}
	p := &Pool{Mount: dir, Branches: bs}
	if v, err := getxattr(ctl, KeyMinFreeSpace); err == nil {
		if n, err := config.ParseSize(strings.TrimSpace(v)); err == nil {
			p.MinFree = n
		}
	}
	return p, nil
}

// parseBranchValue parses the control file's branch list. Its paths are
// the daemon's already-expanded ones, so they are taken literally (no
// globbing); only the =MODE[,MINFREE] suffix goes through config's parser.
func parseBranchValue(spec string) ([]config.Branch, error) {
	var out []config.Branch
	for _, elem := range strings.Split(strings.TrimSpace(spec), ":") {
		if elem == "" {
			continue
		}
		b := config.Branch{Path: elem, Mode: policy.RW}
		if i := strings.LastIndexByte(elem, '='); i > 0 {
			// "/" always parses to exactly one branch: it exists and is a
			// directory, so the parser's glob and existence rules stay out.
			bs, err := config.ParseBranches("/" + elem[i:])
			if err != nil {
				return nil, err
			}
			b = bs[0]
			b.Path = elem[:i]
		}
		if !filepath.IsAbs(b.Path) {
			return nil, fmt.Errorf("branch %q is not an absolute path", b.Path)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("no branches")
	}
	return out, nil
}

// FromBranches builds a pool from a branch list in mergerfs syntax
// (PATH[=RW|RO|NC[,MINFREE]] joined by ':'; globs are expanded) as given
// to --branches. Every branch must be an existing directory.
func FromBranches(spec string) (*Pool, error) {
	bs, err := config.ParseBranches(spec)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("--branches %q names no branch", spec)
	}
	for _, b := range bs {
		fi, err := os.Stat(b.Path)
		if err != nil {
			return nil, fmt.Errorf("branch %s: %w", b.Path, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("branch %s: not a directory", b.Path)
		}
	}
	return &Pool{Branches: bs}, nil
}

// ScopeOf turns a directory argument into a path relative to the pool root:
// an absolute path inside the pool's mount or inside one of its branches
// loses that prefix; a relative path is taken as relative to the pool root.
// The result is clean and never escapes the root ("" is the root).
func (p *Pool) ScopeOf(dir string) (string, error) {
	if filepath.IsAbs(dir) {
		roots := []string{}
		if p.Mount != "" {
			roots = append(roots, p.Mount)
		}
		for _, b := range p.Branches {
			roots = append(roots, b.Path)
		}
		d := filepath.Clean(dir)
		for _, r := range roots {
			if rel, err := filepath.Rel(r, d); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				if rel == "." {
					return "", nil
				}
				return rel, nil
			}
		}
		return "", fmt.Errorf("%s is neither inside the mount nor inside a branch of this pool", dir)
	}
	rel := filepath.Clean(dir)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s leaves the pool", dir)
	}
	if rel == "." {
		return "", nil
	}
	return rel, nil
}

// branchStat is one statfs of a branch.
type branchStat struct {
	dev         uint64 // st_dev of the branch root
	size, avail uint64 // bytes: f_blocks and f_bavail times f_frsize
	used        uint64 // (f_blocks - f_bfree) * f_frsize, as df(1)
	ok          bool   // the branch could be stat'ed
	err         error
}

func statBranch(root int) branchStat {
	var st unix.Stat_t
	var fs unix.Statfs_t
	if err := fstat(root, &st); err != nil {
		return branchStat{err: err}
	}
	if err := fstatfs(root, &fs); err != nil {
		return branchStat{err: err}
	}
	bs := uint64(fs.Frsize)
	if bs == 0 {
		bs = uint64(fs.Bsize)
	}
	return branchStat{
		dev:   st.Dev,
		size:  fs.Blocks * bs,
		avail: fs.Bavail * bs,
		used:  (fs.Blocks - fs.Bfree) * bs,
		ok:    true,
	}
}

// pct is df(1)'s Use%: used / (used + avail), in percent.
func pct(used, avail uint64) float64 {
	if used+avail == 0 {
		return 0
	}
	return 100 * float64(used) / float64(used+avail)
}
