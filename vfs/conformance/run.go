package conformance

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Run runs every case of Cases() that applies to target and that filter
// accepts (nil accepts all) as a parallel subtest named after the case.
// Cases that do not apply (multi-branch cases on the oracle) create no
// subtest; the count is logged. Cases listed in KnownGaps[target.Name()] must
// fail: their failures are logged with the reason, and a known gap that
// passes fails the run so it gets removed from the list.
func Run(t *testing.T, target Target, filter func(Case) bool) {
	t.Helper()
	unix.Umask(0) // layouts and expectations assume umask 0 (vfs.New sets it too)
	f := target.Features()
	gaps := KnownGaps[target.Name()]
	ran, notApplicable, filtered := 0, 0, 0
	for _, c := range Cases() {
		if filter != nil && !filter(c) {
			filtered++
			continue
		}
		if !f.Union && !c.POSIX {
			notApplicable++
			continue
		}
		ran++
		reason, isGap := gaps[c.Name]
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			errs, logs := verdict(target.Name(), c.Name, reason, isGap, runCase(t, target, f, c))
			for _, msg := range logs {
				t.Log(msg)
			}
			for _, msg := range errs {
				t.Error(msg)
			}
		})
	}
	t.Logf("%s: %d cases run, %d not applicable (multi-branch or mergerfs-specific on a plain directory), %d filtered out",
		target.Name(), ran, notApplicable, filtered)
}

// verdict turns a case's failures into test errors and log lines: a case
// that is not a known gap fails with its failures; a known gap logs them, and
// fails if there are none (it passes now and must leave KnownGaps).
func verdict(target, name, reason string, isGap bool, failures []string) (errs, logs []string) {
	switch {
	case isGap && len(failures) == 0:
		return []string{fmt.Sprintf("known gap now passes: remove %q from KnownGaps[%q] (reason was: %s)", name, target, reason)}, nil
	case isGap:
		return nil, []string{fmt.Sprintf("known gap (%s):\n\t%s", reason, strings.Join(failures, "\n\t"))}
	}
	return failures, nil
}

// runner executes one case and collects its failures.
type runner struct {
	t    *testing.T
	c    Case
	f    Features
	cl   Client
	en   env
	fail []string
	// prevIno is the inode number of the previous stat result, for the
	// "prev"/"notprev" inode rules.
	prevIno uint64
}

func (r *runner) errorf(format string, args ...any) {
	r.fail = append(r.fail, fmt.Sprintf(format, args...))
}

func runCase(t *testing.T, target Target, f Features, c Case) []string {
	en := setup(t, c)
	cl := target.Open(t, en.spec)
	r := &runner{t: t, c: c, f: f, cl: cl, en: en}
	res := r.do(c.Op)
	r.expect(c.Op.String(), c.Op, res, c.Want)
	for _, s := range c.After {
		res := r.do(s.Op)
		r.expect("then "+s.Op.String(), s.Op, res, s.Want)
	}
	for _, w := range c.Place {
		for _, msg := range r.where(w) {
			r.errorf("placement: %s", msg)
		}
	}
	if len(c.AnyOf) > 0 {
		r.anyOf()
	}
	return r.fail
}

// expand replaces {mnt} with the client's root and {N} with branch N's directory.
func (r *runner) expand(s string) string {
	s = strings.ReplaceAll(s, "{mnt}", r.cl.Root())
	for i := len(r.en.dirs) - 1; i >= 0; i-- {
		s = strings.ReplaceAll(s, "{"+strconv.Itoa(i)+"}", r.en.dirs[i])
	}
	return s
}

// do performs op through the client, with placeholders expanded in xattr
// names and values.
func (r *runner) do(op Op) Result {
	if op.Kind == "getxattr" || op.Kind == "setxattr" {
		op.Name, op.Data = r.expand(op.Name), r.expand(op.Data)
	}
	return Do(r.cl, op)
}

// expect compares one result with its expectation.
func (r *runner) expect(label string, op Op, res Result, w Expect) {
	if res.Err != w.Err {
		r.errorf("%s: errno %v (%d), want %v (%d)", label, errName(res.Err), int(res.Err), errName(w.Err), int(w.Err))
		return
	}
	if res.Err != 0 {
		return
	}
	if w.Out != nil {
		if want := r.expand(*w.Out); res.Out != want {
			r.errorf("%s: output %q, want %q", label, res.Out, want)
		}
	}
	if w.OutAnyOf != nil {
		r.checkOutAnyOf(label, res.Out, w.OutAnyOf)
	}
	if w.N != nil && res.N != *w.N {
		r.errorf("%s: size %d, want %d", label, res.N, *w.N)
	}
	if w.Stat != "" {
		for _, msg := range checkStat(w.Stat, res.Stat) {
			r.errorf("%s: %s", label, msg)
		}
	}
	if rule, ok := w.Ino[r.f.Inodes]; ok {
		r.checkIno(label, op.Path, rule, res.Stat.Ino)
	}
	if op.Kind == "lstat" || op.Kind == "stat" {
		r.prevIno = res.Stat.Ino
	}
	if op.Kind == "readdir" {
		r.checkReaddir(label, op, res, w)
	}
	if op.Kind == "listxattr" {
		got := strings.Split(strings.TrimSuffix(res.Out, "\x00"), "\x00")
		r.checkHas(label, got, w.Has, w.Lacks)
	}
	if w.Statfs != nil {
		r.checkStatfs(label, res.Statfs, *w.Statfs)
	}
}

func errName(e unix.Errno) string {
	if e == 0 {
		return "success"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return e.Error()
}

// checkStat checks a stat spec (see Expect.Stat).
func checkStat(spec string, s Stat) []string {
	var bad []string
	for _, tok := range strings.Fields(spec) {
		switch {
		case len(tok) == 1:
			if got := typeOfMode(s.Mode); got != tok[0] {
				bad = append(bad, fmt.Sprintf("type %c, want %s", got, tok))
			}
		case tok[0] == '0':
			want, _ := strconv.ParseUint(tok, 8, 32)
			if got := s.Mode & 0o7777; uint64(got) != want {
				bad = append(bad, fmt.Sprintf("mode %#o, want %#o", got, want))
			}
		default:
			k, v, _ := strings.Cut(tok, "=")
			want, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				panic(fmt.Sprintf("conformance: bad stat spec %q", spec))
			}
			var got int64
			switch k {
			case "size":
				got = s.Size
			case "nlink":
				got = int64(s.Nlink)
			case "uid":
				got = int64(s.UID)
			case "gid":
				got = int64(s.GID)
			case "mtime":
				got = s.Mtime.Sec
			default:
				panic(fmt.Sprintf("conformance: bad stat spec key %q", k))
			}
			if got != want {
				bad = append(bad, fmt.Sprintf("%s %d, want %d", k, got, want))
			}
		}
	}
	return bad
}

func typeOfMode(m uint32) byte {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return 'f'
	case unix.S_IFDIR:
		return 'd'
	case unix.S_IFLNK:
		return 'l'
	case unix.S_IFIFO:
		return 'p'
	case unix.S_IFSOCK:
		return 's'
	case unix.S_IFCHR:
		return 'c'
	case unix.S_IFBLK:
		return 'b'
	}
	return '?'
}

func typeOfDT(t uint8) byte {
	switch t {
	case unix.DT_REG:
		return 'f'
	case unix.DT_DIR:
		return 'd'
	case unix.DT_LNK:
		return 'l'
	case unix.DT_FIFO:
		return 'p'
	case unix.DT_SOCK:
		return 's'
	case unix.DT_CHR:
		return 'c'
	case unix.DT_BLK:
		return 'b'
	}
	return '?'
}

// checkIno applies an inode rule (see Expect.Ino).
func (r *runner) checkIno(label, p, rule string, got uint64) {
	kind, arg, _ := strings.Cut(rule, ":")
	switch kind {
	case "branch":
		k, _ := strconv.Atoi(arg)
		var s unix.Stat_t
		if err := unix.Lstat(path.Join(r.en.dirs[k], p), &s); err != nil {
			r.errorf("%s: ino rule %s: %v", label, rule, err)
			return
		}
		if got != s.Ino {
			r.errorf("%s: ino %d, want branch %d's st_ino %d (front end: %s inodes)", label, got, k, s.Ino, r.f.Inodes)
		}
	case "same", "diff":
		o, e := r.cl.Lstat(arg)
		if e != 0 {
			r.errorf("%s: ino rule %s: lstat %q: %v", label, rule, arg, errName(e))
			return
		}
		if (got == o.Ino) != (kind == "same") {
			r.errorf("%s: ino %d vs %q's %d: want %s (front end: %s inodes)", label, got, arg, o.Ino, kind, r.f.Inodes)
		}
	case "prev", "notprev":
		if (got == r.prevIno) != (kind == "prev") {
			r.errorf("%s: ino %d vs the previous stat's %d: want %s (front end: %s inodes)", label, got, r.prevIno, kind, r.f.Inodes)
		}
	case "lt32":
		if got >= 1<<32 {
			r.errorf("%s: ino %#x does not fit in 32 bits", label, got)
		}
	default:
		panic(fmt.Sprintf("conformance: bad ino rule %q", rule))
	}
}

func (r *runner) checkHas(label string, got, has, lacks []string) {
	for _, h := range has {
		if !slices.Contains(got, r.expand(h)) {
			r.errorf("%s: %q missing from %q", label, h, got)
		}
	}
	for _, l := range lacks {
		if slices.Contains(got, r.expand(l)) {
			r.errorf("%s: %q present in %q", label, l, got)
		}
	}
}

// invariantsApply reports whether a readdir listing must agree with lstat of
// each entry: not when getattr may pick another branch than readdir's first
// one, nor when follow-symlinks changes what lstat reports, nor for cor
// (whose winner among duplicates varies).
func (c Case) invariantsApply() bool {
	for _, o := range c.Opts {
		switch {
		case strings.HasPrefix(o, "func.getattr="), strings.HasPrefix(o, "category.search="),
			strings.HasPrefix(o, "follow-symlinks=") && o != "follow-symlinks=never",
			strings.HasPrefix(o, "func.readdir=cor"):
			return false
		}
	}
	return true
}

// checkReaddir checks names and types, then fstest-style invariants: lstat
// of each entry agrees with d_type and d_ino, and listing again gives the
// same entries.
func (r *runner) checkReaddir(label string, op Op, res Result, w Expect) {
	var got []string
	for _, d := range res.Ents {
		got = append(got, d.Name)
	}
	if w.Names != nil {
		a := slices.Clone(got)
		b := slices.Clone(w.Names)
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			r.errorf("%s: names %q, want %q", label, a, b)
		}
	}
	for n, want := range w.Types {
		i := slices.Index(got, n)
		if i < 0 {
			r.errorf("%s: %q not listed", label, n)
			continue
		}
		if t := typeOfDT(res.Ents[i].Type); t != want {
			r.errorf("%s: d_type of %q is %c, want %c", label, n, t, want)
		}
	}
	r.checkHas(label, got, w.Has, w.Lacks)
	if !r.c.invariantsApply() {
		return
	}
	for _, d := range res.Ents {
		p := d.Name
		if op.Path != "" {
			p = op.Path + "/" + d.Name
		}
		s, e := r.cl.Lstat(p)
		if e != 0 {
			if strings.HasPrefix(d.Name, "error: ") && op.Path == "" {
				continue // the placeholder entry of a pool without branches
			}
			r.errorf("%s: invariant: lstat of listed %q: %v", label, p, errName(e))
			continue
		}
		if typeOfMode(s.Mode) != typeOfDT(d.Type) {
			r.errorf("%s: invariant: %q has d_type %c but lstat type %c", label, p, typeOfDT(d.Type), typeOfMode(s.Mode))
		}
		if s.Ino != d.Ino {
			r.errorf("%s: invariant: %q has d_ino %d but st_ino %d (%s inodes)", label, p, d.Ino, s.Ino, r.f.Inodes)
		}
	}
	again, e := r.cl.Readdir(op.Path)
	if e != 0 || !slices.Equal(again, res.Ents) {
		r.errorf("%s: invariant: listing again gave %v (%v), first %v", label, again, errName(e), res.Ents)
	}
}

// checkStatfs compares a statfs result with the sum of the branches' own
// statvfs figures. Totals must match exactly; free counts exactly when every
// summed branch is a private tmpfs, else within a tolerance (other tests
// write to the shared filesystem meanwhile).
func (r *runner) checkStatfs(label string, got unix.Statfs_t, w StatfsWant) {
	var fr int64
	sts := make([]unix.Statfs_t, len(w.Sum))
	private := true
	for k, i := range w.Sum {
		if err := unix.Statfs(r.en.dirs[i], &sts[k]); err != nil {
			r.errorf("%s: statfs branch %d: %v", label, i, err)
			return
		}
		f := sts[k].Frsize
		if f == 0 {
			f = sts[k].Bsize
		}
		if fr == 0 || f < fr {
			fr = f
		}
		if r.c.Branches[i].Size == "" {
			private = false
		}
	}
	var blocks, bavail, files, ffree uint64
	for k, i := range w.Sum {
		s := sts[k]
		f := s.Frsize
		if f == 0 {
			f = s.Bsize
		}
		scale := func(v uint64) uint64 { return v * uint64(f) / uint64(fr) }
		blocks += scale(s.Blocks)
		files += s.Files
		if !slices.Contains(w.NoAvail, i) {
			bavail += scale(s.Bavail)
			ffree += s.Ffree
		}
	}
	gfr := got.Frsize
	if gfr == 0 {
		gfr = got.Bsize
	}
	if gfr != fr {
		r.errorf("%s: f_frsize %d, want %d", label, gfr, fr)
		return
	}
	if got.Blocks != blocks {
		r.errorf("%s: f_blocks %d, want %d (sum of branches %v)", label, got.Blocks, blocks, w.Sum)
	}
	if got.Files != files {
		r.errorf("%s: f_files %d, want %d (sum of branches %v)", label, got.Files, files, w.Sum)
	}
	tol := uint64(0)
	if !private {
		tol = blocks/100 + 1
	}
	if diff(got.Bavail, bavail) > tol {
		r.errorf("%s: f_bavail %d, want %d±%d (branches %v, none from %v)", label, got.Bavail, bavail, tol, w.Sum, w.NoAvail)
	}
	if private && len(w.NoAvail) == 0 && got.Ffree != ffree {
		r.errorf("%s: f_ffree %d, want %d", label, got.Ffree, ffree)
	}
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// where checks one placement statement against the branch directories.
func (r *runner) where(w Where) []string {
	var bad []string
	var on []int
	for i, d := range r.en.dirs {
		if _, err := lstatPath(path.Join(d, w.Path)); err == nil {
			on = append(on, i)
		}
	}
	want := slices.Clone(w.On)
	sort.Ints(want)
	switch {
	case w.Subset:
		for _, i := range want {
			if !slices.Contains(on, i) {
				bad = append(bad, fmt.Sprintf("%q is on branches %v, want at least %v", w.Path, nilEmpty(on), want))
				break
			}
		}
	case !slices.Equal(on, want):
		bad = append(bad, fmt.Sprintf("%q is on branches %v, want %v", w.Path, nilEmpty(on), want))
	}
	for _, i := range w.On {
		if !slices.Contains(on, i) {
			continue
		}
		p := path.Join(r.en.dirs[i], w.Path)
		s, _ := lstatPath(p)
		if w.Type != 0 && typeOfMode(s.Mode) != w.Type {
			bad = append(bad, fmt.Sprintf("%q on branch %d is type %c, want %c", w.Path, i, typeOfMode(s.Mode), w.Type))
			continue
		}
		if w.Data != nil {
			b, err := readAll(p)
			if err != nil || string(b) != *w.Data {
				bad = append(bad, fmt.Sprintf("%q on branch %d holds %q (%v), want %q", w.Path, i, b, err, *w.Data))
			}
		}
		if w.Perm != nil && s.Mode&0o7777 != *w.Perm {
			bad = append(bad, fmt.Sprintf("%q on branch %d has mode %#o, want %#o", w.Path, i, s.Mode&0o7777, *w.Perm))
		}
		if w.UID != nil && (int(s.Uid) != *w.UID || int(s.Gid) != *w.GID) {
			bad = append(bad, fmt.Sprintf("%q on branch %d is owned by %d:%d, want %d:%d", w.Path, i, s.Uid, s.Gid, *w.UID, *w.GID))
		}
		if w.Mtime != nil && s.Mtim.Sec != *w.Mtime {
			bad = append(bad, fmt.Sprintf("%q on branch %d has mtime %d, want %d", w.Path, i, s.Mtim.Sec, *w.Mtime))
		}
		if w.Link != nil {
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlink(p, buf)
			if want := r.expand(*w.Link); err != nil || string(buf[:n]) != want {
				bad = append(bad, fmt.Sprintf("%q on branch %d links to %q (%v), want %q", w.Path, i, buf[:max(n, 0)], err, want))
			}
		}
		for k, v := range w.Xattr {
			buf := make([]byte, 4096)
			n, err := unix.Lgetxattr(p, k, buf)
			if err != nil || string(buf[:n]) != v {
				bad = append(bad, fmt.Sprintf("%q on branch %d: xattr %s = %q (%v), want %q", w.Path, i, k, buf[:max(n, 0)], err, v))
			}
		}
	}
	return bad
}

func nilEmpty(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

func lstatPath(p string) (unix.Stat_t, error) {
	var s unix.Stat_t
	err := ignoringEINTR(func() error { return unix.Lstat(p, &s) })
	return s, err
}

func readAll(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

// anyOf checks the randomised outcomes: the pinned one for targets that pin
// their random source, any one otherwise.
func (r *runner) anyOf() {
	check := func(alt []Where) []string {
		var bad []string
		for _, w := range alt {
			bad = append(bad, r.where(w)...)
		}
		return bad
	}
	switch r.f.Rand {
	case RandFirst, RandLast:
		k := 0
		if r.f.Rand == RandLast {
			k = len(r.c.AnyOf) - 1
		}
		for _, msg := range check(r.c.AnyOf[k]) {
			r.errorf("placement (outcome %d of %d, pinned by the target's random source): %s", k, len(r.c.AnyOf), msg)
		}
	default:
		var all []string
		for k, alt := range r.c.AnyOf {
			bad := check(alt)
			if len(bad) == 0 {
				return
			}
			all = append(all, fmt.Sprintf("outcome %d: %s", k, strings.Join(bad, "; ")))
		}
		r.errorf("placement matches none of the outcomes: %s", strings.Join(all, " | "))
	}
}

// checkOutAnyOf checks the output of a randomised search.
func (r *runner) checkOutAnyOf(label, got string, alts []string) {
	switch r.f.Rand {
	case RandFirst, RandLast:
		k := 0
		if r.f.Rand == RandLast {
			k = len(alts) - 1
		}
		if want := r.expand(alts[k]); got != want {
			r.errorf("%s: output %q, want %q (outcome %d of %d, pinned by the target's random source)", label, got, want, k, len(alts))
		}
	default:
		for _, a := range alts {
			if got == r.expand(a) {
				return
			}
		}
		r.errorf("%s: output %q, want one of %q", label, got, alts)
	}
}
