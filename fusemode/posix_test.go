package fusemode

// POSIX behaviour on a real mount, differential: the same steps run on a
// plain directory of the branch filesystem and on the mount, and the
// results (errors, times that changed, link counts, owners, modes) must be
// the same. Then one test per FUSE-level option with an effect the option
// is the only cause of. The basic EISDIR/ENOTDIR/EEXIST/ELOOP/ENOTEMPTY
// cases are in the conformance table (vfs/conformance/cases_posix.go),
// which cmd/mfs runs against a mount; they are not repeated here.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pair is a plain directory and a one-branch pool mounted in this process
// (mountChild when the test forks or maps files), laid out alike.
type pair struct {
	native string
	f      *fixture
}

func newPair(t *testing.T, child bool, opts ...string) *pair {
	t.Helper()
	f := newFixture(t, 1)
	p := &pair{native: filepath.Join(filepath.Dir(f.mnt), "native"), f: f}
	if err := os.Mkdir(p.native, 0o755); err != nil {
		t.Fatal(err)
	}
	if child {
		f.mountChild(t, opts...)
	} else {
		f.mountInProcess(t, opts...)
	}
	return p
}

// roots are the two places the steps run in: native first, then the mount.
func (p *pair) roots() [2]string { return [2]string{p.native, p.f.mnt} }

// errName is an error's errno name ("ok" for nil), for comparing outcomes.
func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

// sameOutcome fails t when the native and mount results differ.
func sameOutcome(t *testing.T, what string, native, mount string) {
	t.Helper()
	if native != mount {
		t.Errorf("%s:\n  native: %s\n  mount:  %s", what, native, mount)
	}
}

// --- permissions, sticky directories, setgid inheritance ---------------------

// shAs runs a shell script as uid/gid 65534 (with groups) in dir and returns
// its combined output, the exit status appended.
func shAs(t *testing.T, dir string, groups []uint32, script string) string {
	t.Helper()
	out, err := runAsIn(t, dir, 65534, 65534, groups, script)
	code := 0
	if err != nil {
		code = -1
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
	}
	return fmt.Sprintf("%s[exit %d]", out, code)
}

// openUp makes every directory above dir searchable by others (t.TempDir is 0700).
func openUp(dir string) {
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, st.Mode().Perm()|0o055)
		}
	}
}

// A file or directory created by uid 65534 in a setgid directory gets the
// directory's group, a new subdirectory inherits the setgid bit, and in a
// sticky directory another user's file can be neither removed nor renamed
// nor replaced by a rename (EPERM), with the kernel's permission checks and
// with mfs's own.
func TestPosixSetgidSticky(t *testing.T) {
	requireRoot(t)
	for _, kpc := range []string{"true", "false"} {
		t.Run("kernel-permissions-check="+kpc, func(t *testing.T) {
			p := newPair(t, true, "kernel-permissions-check="+kpc, "cache.attr=0", "cache.entry=0")
			for _, root := range []string{p.native, p.f.branches[0]} {
				layout(t, root, "sg/", "sticky/victim=v", "sticky/mine=m")
				must(t, os.Chown(filepath.Join(root, "sg"), 0, 4242))
				must(t, unix.Chmod(filepath.Join(root, "sg"), 0o2777))
				must(t, unix.Chmod(filepath.Join(root, "sticky"), 0o1777))
				must(t, os.Chown(filepath.Join(root, "sticky/mine"), 65534, 65534))
				os.Chmod(root, 0o755)
			}
			openUp(p.native)
			openUp(p.f.mnt)
			script := `umask 022
touch sg/f && mkdir sg/d && mkdir sg/d/e
stat -c '%n %u:%g %a' sg/f sg/d sg/d/e
rm -f sticky/victim; echo "rm other's: $?"
mv sticky/victim sticky/moved; echo "mv other's: $?"
mv sticky/mine sticky/victim; echo "mv over other's: $?"
echo x >> sticky/victim; echo "append other's 0644: $?"
mv sticky/mine sticky/renamed; echo "mv mine: $?"
rm sticky/renamed; echo "rm mine: $?"
ls sticky`
			want := shAs(t, p.native, nil, script)
			got := shAs(t, p.f.mnt, nil, script)
			sameOutcome(t, "as uid 65534", want, got)
			// The differential proves nothing if the native run went wrong.
			for _, s := range []string{"sg/d 65534:4242 2755", "sg/d/e 65534:4242 2755", "sg/f 65534:4242 644",
				"rm other's: 1", "mv other's: 1", "mv over other's: 1", "rm mine: 0"} {
				if !strings.Contains(want, s) {
					t.Errorf("native run lacks %q:\n%s", s, want)
				}
			}
		})
	}
}

// --- timestamps and link counts ----------------------------------------------

type stamp struct {
	a, m, c unix.Timespec
	nlink   uint64
	err     error
}

func stampOf(p string) stamp {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return stamp{err: err}
	}
	return stamp{a: st.Atim, m: st.Mtim, c: st.Ctim, nlink: st.Nlink}
}

// change describes what differs between two stamps: "a", "m", "c" for the
// times that changed and the link count.
func change(before, after stamp) string {
	if before.err != nil || after.err != nil {
		return errName(before.err) + "/" + errName(after.err)
	}
	var b strings.Builder
	for _, x := range []struct {
		name string
		b, a unix.Timespec
	}{{"a", before.a, after.a}, {"m", before.m, after.m}, {"c", before.c, after.c}} {
		if x.b != x.a {
			b.WriteString(x.name)
		}
	}
	if b.Len() == 0 {
		b.WriteString("-")
	}
	fmt.Fprintf(&b, " nlink=%d", after.nlink)
	return b.String()
}

// utimensat(2) on an fd (futimens), which x/sys/unix does not wrap.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Which of atime, mtime and ctime each operation changes, on the file and
// on its parents, and the link counts of files and directories afterwards
// (a directory's nlink as the branch filesystem counts it), as on the
// branch filesystem itself. Hard links are one node per name (doc.go): with
// cache.attr=1 the name a link was made from (or whose other name was
// unlinked) may show its cached ctime and nlink until the timeout, as
// documented; with cache.attr=0 everything must match.
func TestPosixTimestampsAndLinks(t *testing.T) {
	type obs struct{ before, after string } // the paths observed before and after
	type step struct {
		name    string
		observe []obs
		do      func(root string) error
	}
	// The mount's result while the cached attributes of another name of
	// the file are still valid.
	otherName := map[string]string{
		"link":            "ok; d2/f: - nlink=1; d2: mc nlink=2",
		"unlink one link": "ok; d2/f: - nlink=1; d2: mc nlink=2",
	}
	same := func(ps ...string) []obs {
		var o []obs
		for _, p := range ps {
			o = append(o, obs{p, p})
		}
		return o
	}
	steps := []step{
		{"write", same("d1/f", "d1"), func(r string) error {
			fd, err := os.OpenFile(filepath.Join(r, "d1/f"), os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = fd.WriteAt([]byte("more"), 1)
			return errors.Join(err, fd.Close())
		}},
		{"read", same("d1/f"), func(r string) error {
			_, err := os.ReadFile(filepath.Join(r, "d1/f"))
			return err
		}},
		{"chmod", same("d1/f", "d1"), func(r string) error { return os.Chmod(filepath.Join(r, "d1/f"), 0o600) }},
		{"chown", same("d1/f"), func(r string) error { return os.Chown(filepath.Join(r, "d1/f"), 7, 7) }},
		{"setxattr", same("d1/f"), func(r string) error {
			return unix.Setxattr(filepath.Join(r, "d1/f"), "user.k", []byte("v"), 0)
		}},
		{"truncate", same("d1/f"), func(r string) error { return os.Truncate(filepath.Join(r, "d1/f"), 2) }},
		{"utimensat atime=NOW mtime=OMIT", same("d1/f"), func(r string) error {
			ts := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_OMIT}}
			return unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(r, "d1/f"), ts, 0)
		}},
		{"utimensat atime=OMIT mtime=NOW", same("d1/f"), func(r string) error {
			ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}
			return unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(r, "d1/f"), ts, 0)
		}},
		{"futimens NOW NOW", same("d1/f"), func(r string) error {
			fd, err := unix.Open(filepath.Join(r, "d1/f"), unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return futimens(fd, &[2]unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}})
		}},
		{"create", same("d1"), func(r string) error { return os.WriteFile(filepath.Join(r, "d1/new"), nil, 0o644) }},
		{"rename to another dir", []obs{{"d1/f", "d2/f"}, {"d1", "d1"}, {"d2", "d2"}}, func(r string) error {
			return os.Rename(filepath.Join(r, "d1/f"), filepath.Join(r, "d2/f"))
		}},
		{"link", same("d2/f", "d2"), func(r string) error {
			return os.Link(filepath.Join(r, "d2/f"), filepath.Join(r, "d2/g"))
		}},
		{"unlink one link", same("d2/f", "d2"), func(r string) error { return os.Remove(filepath.Join(r, "d2/g")) }},
		{"mkdir", same("d2"), func(r string) error { return os.Mkdir(filepath.Join(r, "d2/sub"), 0o755) }},
		{"mkdir another", same("d2", "d2/sub"), func(r string) error { return os.Mkdir(filepath.Join(r, "d2/sub2"), 0o755) }},
		{"rename dir into dir", []obs{{"d2/sub2", "d2/sub/sub2"}, {"d2", "d2"}, {"d2/sub", "d2/sub"}}, func(r string) error {
			return os.Rename(filepath.Join(r, "d2/sub2"), filepath.Join(r, "d2/sub/sub2"))
		}},
		{"rmdir", same("d2", "d2/sub"), func(r string) error { return os.Remove(filepath.Join(r, "d2/sub/sub2")) }},
		{"rename over file", []obs{{"d2/f", "d1/new"}, {"d1", "d1"}}, func(r string) error {
			return os.Rename(filepath.Join(r, "d2/f"), filepath.Join(r, "d1/new"))
		}},
	}
	for _, attr := range []string{"0", "1"} {
		t.Run("cache.attr="+attr, func(t *testing.T) {
			p := newPair(t, false, "cache.attr="+attr)
			for _, root := range []string{p.native, p.f.branches[0]} {
				layout(t, root, "d1/f=x", "d2/")
				// relatime: an atime older than mtime is updated by a read.
				old := []unix.Timespec{{Sec: 1000}, {Sec: 2000}}
				must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, "d1/f"), old, 0))
			}
			for _, s := range steps {
				var res [2]string
				for i, root := range p.roots() {
					var before []stamp
					for _, o := range s.observe {
						before = append(before, stampOf(filepath.Join(root, o.before)))
					}
					// Coarse ctime granularity: let the clock move on.
					time.Sleep(15 * time.Millisecond)
					err := s.do(root)
					var parts []string
					for j, o := range s.observe {
						parts = append(parts, o.after+": "+change(before[j], stampOf(filepath.Join(root, o.after))))
					}
					res[i] = errName(err) + "; " + strings.Join(parts, "; ")
				}
				if attr != "0" && otherName[s.name] != "" && res[1] == otherName[s.name] {
					// Documented (doc.go, hard links): the name the link
					// was made from keeps its cached attributes until
					// cache.attr runs out.
					continue
				}
				sameOutcome(t, s.name, res[0], res[1])
			}
		})
	}
}

// --- names and depth -----------------------------------------------------------

// A name of NAME_MAX bytes works everywhere; one byte more is ENAMETOOLONG
// for every call, as on the branch filesystem.
func TestPosixNameMax(t *testing.T) {
	p := newPair(t, false)
	long := strings.Repeat("n", 255)
	over := long + "x"
	ops := []struct {
		name string
		do   func(r string) error
	}{
		{"create 255", func(r string) error { return os.WriteFile(filepath.Join(r, long), []byte("x"), 0o644) }},
		{"stat 255", func(r string) error { _, err := os.Lstat(filepath.Join(r, long)); return err }},
		{"readdir has 255", func(r string) error {
			names, err := readNames(r)
			if err == nil && !slices.Contains(names, long) {
				err = errors.New("missing from readdir")
			}
			return err
		}},
		{"mkdir 255", func(r string) error { return os.Mkdir(filepath.Join(r, "d"+long[1:]), 0o755) }},
		{"rename to 255", func(r string) error {
			return os.Rename(filepath.Join(r, long), filepath.Join(r, "d"+long[1:], "r"+long[1:]))
		}},
		{"symlink 255", func(r string) error { return os.Symlink(long, filepath.Join(r, "s"+long[1:])) }},
		{"create 256", func(r string) error { return os.WriteFile(filepath.Join(r, over), nil, 0o644) }},
		{"stat 256", func(r string) error { _, err := os.Lstat(filepath.Join(r, over)); return err }},
		{"mkdir 256", func(r string) error { return os.Mkdir(filepath.Join(r, over), 0o755) }},
		{"symlink 256", func(r string) error { return os.Symlink("t", filepath.Join(r, over)) }},
		{"link 256", func(r string) error { return os.Link(filepath.Join(r, "s"+long[1:]), filepath.Join(r, over)) }},
		{"rename to 256", func(r string) error { return os.Rename(filepath.Join(r, "s"+long[1:]), filepath.Join(r, over)) }},
		{"mknod 256", func(r string) error { return unix.Mkfifo(filepath.Join(r, over), 0o644) }},
	}
	for _, op := range ops {
		var res [2]string
		for i, root := range p.roots() {
			res[i] = errName(op.do(root))
		}
		sameOutcome(t, op.name, res[0], res[1])
		if wantErr := strings.HasSuffix(op.name, "256"); (res[0] == "ok") == wantErr {
			t.Errorf("%s natively: %s", op.name, res[0])
		}
	}
	var sn, sm unix.Statfs_t
	must(t, unix.Statfs(p.native, &sn))
	must(t, unix.Statfs(p.f.mnt, &sm))
	if sn.Namelen != sm.Namelen {
		t.Errorf("statfs f_namelen: native %d, mount %d", sn.Namelen, sm.Namelen)
	}
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// A tree whose paths are longer than PATH_MAX, built and used by walking
// it with openat: every step as on the branch filesystem.
func TestPosixDeeperThanPathMax(t *testing.T) {
	p := newPair(t, false)
	const depth = 24
	name := strings.Repeat("p", 200) // 24 × 201 bytes > PATH_MAX (4096)
	var res [2]string
	for i, root := range p.roots() {
		var log []string
		note := func(what string, err error) {
			log = append(log, what+"="+errName(err))
		}
		fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, err)
		fds := []int{fd}
		for d := 0; d < depth; d++ {
			err := unix.Mkdirat(fd, name, 0o755)
			if err != nil {
				note(fmt.Sprintf("mkdirat %d", d), err)
				break
			}
			fd, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				note(fmt.Sprintf("openat %d", d), err)
				break
			}
			fds = append(fds, fd)
		}
		ffd, err := unix.Openat(fd, "leaf", unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o640)
		note("create leaf", err)
		if err == nil {
			_, err = unix.Pwrite(ffd, []byte("deep"), 0)
			note("write", err)
			unix.Close(ffd)
		}
		var st unix.Stat_t
		err = unix.Fstatat(fd, "leaf", &st, unix.AT_SYMLINK_NOFOLLOW)
		note(fmt.Sprintf("fstatat size=%d mode=%o", st.Size, st.Mode&0o7777), err)
		note("symlinkat", unix.Symlinkat("leaf", fd, "link"))
		note("linkat", unix.Linkat(fd, "leaf", fd, "hard", 0))
		note("renameat", unix.Renameat(fd, "hard", fd, "hard2"))
		buf := make([]byte, 16)
		rfd, err := unix.Openat(fd, "link", unix.O_RDONLY, 0)
		if err == nil {
			n, _ := unix.Read(rfd, buf)
			unix.Close(rfd)
			note("read via symlink "+string(buf[:n]), nil)
		} else {
			note("open via symlink", err)
		}
		// The whole path is too long for one call, as everywhere.
		_, err = os.Lstat(filepath.Join(append([]string{root}, slices.Repeat([]string{name}, depth)...)...))
		note("lstat by full path", err)
		for _, n := range []string{"leaf", "link", "hard2"} {
			note("unlinkat "+n, unix.Unlinkat(fd, n, 0))
		}
		// Take the tree down from the bottom.
		for d := len(fds) - 1; d > 0; d-- {
			unix.Close(fds[d])
			note(fmt.Sprintf("rmdir %d", d), unix.Unlinkat(fds[d-1], name, unix.AT_REMOVEDIR))
		}
		unix.Close(fds[0])
		res[i] = strings.Join(log, "\n")
	}
	sameOutcome(t, "deep tree", res[0], res[1])
	if strings.Contains(strings.Replace(res[0], "lstat by full path=ENAMETOOLONG", "", 1), "=E") {
		t.Errorf("native run failed:\n%s", res[0])
	}
}

// --- open files ------------------------------------------------------------------

// open, unlink, then fstat, fchmod, ftruncate, futimens, fallocate, write,
// read and fsync through the descriptor: the same results as natively.
func TestPosixOpenUnlinkUse(t *testing.T) {
	p := newPair(t, false)
	var res [2]string
	for i, root := range p.roots() {
		var log []string
		note := func(what string, err error) { log = append(log, what+"="+errName(err)) }
		fst := func(fd int) string {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				return errName(err)
			}
			mtime := "now" // the two files were made at slightly different times
			if st.Mtim.Sec < 1000 {
				mtime = fmt.Sprint(st.Mtim.Sec)
			}
			return fmt.Sprintf("nlink=%d mode=%o size=%d mtime=%s", st.Nlink, st.Mode&0o7777, st.Size, mtime)
		}
		path := filepath.Join(root, "f")
		must(t, os.WriteFile(path, []byte("hello"), 0o644))
		fd, err := unix.Open(path, unix.O_RDWR, 0)
		must(t, err)
		note("unlink", unix.Unlink(path))
		note("fstat "+fst(fd), nil)
		note("fchmod", unix.Fchmod(fd, 0o600))
		note("ftruncate", unix.Ftruncate(fd, 3))
		note("fstat "+fst(fd), nil)
		note("fallocate", unix.Fallocate(fd, 0, 0, 8192))
		_, err = unix.Pwrite(fd, []byte("XY"), 1)
		note("pwrite", err)
		note("futimens", futimens(fd, &[2]unix.Timespec{{Sec: 100}, {Sec: 200}}))
		note("fsync", unix.Fsync(fd))
		note("fdatasync", unix.Fdatasync(fd))
		buf := make([]byte, 4)
		n, err := unix.Pread(fd, buf, 0)
		note(fmt.Sprintf("pread %q", buf[:n]), err)
		note("fstat "+fst(fd), nil)
		note("stat by name", func() error { _, err := os.Lstat(path); return err }())
		unix.Close(fd)
		res[i] = strings.Join(log, "\n")
	}
	sameOutcome(t, "open-unlink-use", res[0], res[1])
	if !strings.Contains(res[0], "nlink=0 mode=600 size=8192 mtime=200") {
		t.Errorf("native run:\n%s", res[0])
	}
}

// Stores into a shared mapping are seen by read(2) on another descriptor
// before any msync, and reach the file after fsync, for every page-cache
// mode. The mapping needs a mount served by another process.
func TestPosixSharedMmapRead(t *testing.T) {
	for _, cache := range []string{"off", "partial", "auto-full", "full"} {
		t.Run("cache.files="+cache, func(t *testing.T) {
			p := newPair(t, true, "cache.files="+cache)
			var res [2]string
			for i, root := range p.roots() {
				path := filepath.Join(root, "f")
				if i == 0 {
					must(t, os.WriteFile(path, []byte("0123456789"), 0o644))
				} else {
					must(t, os.WriteFile(p.f.b(0, "f"), []byte("0123456789"), 0o644))
				}
				fd, err := os.OpenFile(path, os.O_RDWR, 0)
				must(t, err)
				mem, err := unix.Mmap(int(fd.Fd()), 0, 10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
				if err != nil {
					fd.Close()
					t.Fatalf("mmap in %s: %v", root, err)
				}
				copy(mem[3:], "abc")
				other, err := os.Open(path)
				must(t, err)
				buf := make([]byte, 10)
				n, _ := other.ReadAt(buf, 0)
				other.Close()
				syncErr := fd.Sync()
				unix.Munmap(mem)
				fd.Close()
				res[i] = fmt.Sprintf("read before msync %q; fsync %s", buf[:n], errName(syncErr))
			}
			sameOutcome(t, "mmap store then read", res[0], res[1])
			if got := readFile(t, p.f.b(0, "f")); got != "012abc6789" {
				t.Errorf("branch after fsync: %q", got)
			}
		})
	}
}

// --- statx -------------------------------------------------------------------------

// statx through the mount: the basic fields as on the branch file, st_ino
// stable across calls, blksize and nlink as the branch reports them. statx
// is not served (doc.go, known gaps): the kernel falls back to GETATTR, so
// STATX_BTIME is never in the mask even where the branch has it.
func TestPosixStatx(t *testing.T) {
	f := newFixture(t, 1)
	layout(t, f.branches[0], "f=hello", "d/sub/")
	must(t, os.Link(f.b(0, "f"), f.b(0, "g")))
	f.mountInProcess(t)
	const basic = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_NLINK | unix.STATX_UID | unix.STATX_GID |
		unix.STATX_ATIME | unix.STATX_MTIME | unix.STATX_CTIME | unix.STATX_INO | unix.STATX_SIZE | unix.STATX_BLOCKS
	for _, name := range []string{"f", "d"} {
		var b, m1, m2 unix.Statx_t
		must(t, unix.Statx(unix.AT_FDCWD, f.b(0, name), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_ALL, &b))
		must(t, unix.Statx(unix.AT_FDCWD, f.m(name), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_ALL, &m1))
		must(t, unix.Statx(unix.AT_FDCWD, f.m(name), unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_FORCE_SYNC, unix.STATX_ALL, &m2))
		if m1.Mask&basic != basic {
			t.Errorf("%s: mask %#x lacks basic stats %#x", name, m1.Mask, basic)
		}
		if b.Mask&unix.STATX_BTIME == 0 {
			t.Errorf("%s: the branch filesystem reports no btime; the test needs one that does", name)
		}
		// FUSE_STATX (Linux ≥ 6.6): the birth time of the branch object.
		if m1.Mask&unix.STATX_BTIME == 0 || m1.Btime != b.Btime {
			t.Errorf("%s: mount btime %v (mask %#x), branch %v", name, m1.Btime, m1.Mask, b.Btime)
		}
		if m1.Ino != m2.Ino || m1.Ino == 0 {
			t.Errorf("%s: st_ino %d then %d", name, m1.Ino, m2.Ino)
		}
		var st unix.Stat_t
		must(t, unix.Lstat(f.m(name), &st))
		if st.Ino != m1.Ino {
			t.Errorf("%s: statx ino %d, stat ino %d", name, m1.Ino, st.Ino)
		}
		got := fmt.Sprintf("mode=%o nlink=%d uid=%d gid=%d size=%d blocks=%d blksize=%d mtime=%v ctime=%v",
			m1.Mode, m1.Nlink, m1.Uid, m1.Gid, m1.Size, m1.Blocks, m1.Blksize, m1.Mtime, m1.Ctime)
		want := fmt.Sprintf("mode=%o nlink=%d uid=%d gid=%d size=%d blocks=%d blksize=%d mtime=%v ctime=%v",
			b.Mode, b.Nlink, b.Uid, b.Gid, b.Size, b.Blocks, b.Blksize, b.Mtime, b.Ctime)
		sameOutcome(t, "statx "+name, want, got)
	}
}

// --- O_DIRECT ------------------------------------------------------------------------

// O_DIRECT opens work in every page-cache mode, and aligned 4096-byte
// blocks written through them read back, through O_DIRECT and through the
// branch file.
func TestPosixODirect(t *testing.T) {
	for _, cache := range []string{"off", "partial", "auto-full", "full"} {
		t.Run("cache.files="+cache, func(t *testing.T) {
			p := newPair(t, false, "cache.files="+cache)
			// Anonymous mappings are page-aligned, as O_DIRECT buffers must be.
			buf, err := unix.Mmap(-1, 0, 3*4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
			must(t, err)
			defer unix.Munmap(buf)
			want := buf[:2*4096]
			for i := range want {
				want[i] = byte(i*7 + i/4096)
			}
			var res [2]string
			for i, root := range p.roots() {
				fd, err := unix.Open(filepath.Join(root, "f"), unix.O_RDWR|unix.O_CREAT|unix.O_DIRECT, 0o644)
				if err != nil {
					res[i] = "open: " + errName(err)
					continue
				}
				n, werr := unix.Pwrite(fd, want, 4096)
				got := buf[2*4096:]
				clear(got)
				m, rerr := unix.Pread(fd, got, 4096*2)
				var st unix.Stat_t
				unix.Fstat(fd, &st)
				unix.Close(fd)
				res[i] = fmt.Sprintf("write %d %s; read %d %s same=%v; size %d", n, errName(werr), m, errName(rerr),
					bytes.Equal(got[:m], want[4096:]), st.Size)
			}
			sameOutcome(t, "O_DIRECT", res[0], res[1])
			b, err := os.ReadFile(p.f.b(0, "f"))
			must(t, err)
			if len(b) != 3*4096 || !bytes.Equal(b[4096:], want) {
				t.Errorf("branch file: %d bytes, blocks equal %v", len(b), len(b) == 3*4096 && bytes.Equal(b[4096:], want))
			}
		})
	}
}

// --- options ---------------------------------------------------------------------------

// cache.attr: a mode changed on the branch behind the mount's back shows
// only once the attribute timeout has passed.
func TestOptionCacheAttr(t *testing.T) {
	for _, tc := range []struct {
		attr     string
		wantMode uint32
	}{{"60", 0o644}, {"0", 0o600}} {
		t.Run("cache.attr="+tc.attr, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f")
			f.mountInProcess(t, "cache.attr="+tc.attr, "cache.entry=60")
			lstat(t, f.m("f"))
			must(t, os.Chmod(f.b(0, "f"), 0o600))
			if m := lstat(t, f.m("f")).Mode & 0o777; m != tc.wantMode {
				t.Errorf("mode %o after a change behind the mount, want %o", m, tc.wantMode)
			}
		})
	}
}

// cache.entry: while a name's entry is valid the kernel resolves it
// without asking (no LOOKUP), after it expires it asks again.
func TestOptionCacheEntry(t *testing.T) {
	for _, tc := range []struct {
		entry string
		want  int64
	}{{"60", 0}, {"0", 3}} {
		t.Run("cache.entry="+tc.entry, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f")
			f.mountInProcess(t, "cache.entry="+tc.entry, "cache.attr=60")
			lstat(t, f.m("f"))
			before := f.srv.fs.stats.lookups.Load()
			for i := 0; i < 3; i++ {
				lstat(t, f.m("f"))
			}
			if n := f.srv.fs.stats.lookups.Load() - before; n != tc.want {
				t.Errorf("%d LOOKUPs for 3 stats of a known name, want %d", n, tc.want)
			}
		})
	}
}

// cache.negative-entry: a name found missing stays missing for the
// timeout, even once a file of that name appears on a branch.
func TestOptionNegativeEntry(t *testing.T) {
	for _, tc := range []struct {
		neg       string
		wantFound bool
	}{{"60", false}, {"0", true}} {
		t.Run("cache.negative-entry="+tc.neg, func(t *testing.T) {
			f := newFixture(t, 1)
			f.mountInProcess(t, "cache.negative-entry="+tc.neg)
			_, err := os.Lstat(f.m("late"))
			wantErrno(t, "lstat before", err, unix.ENOENT)
			layout(t, f.branches[0], "late=x")
			_, err = os.Lstat(f.m("late"))
			if found := err == nil; found != tc.wantFound {
				t.Errorf("a file created behind the mount: lstat %v, want found=%v", err, tc.wantFound)
			}
			// Creating through the mount works either way (the kernel
			// drops its negative entry for names it creates).
			must(t, os.WriteFile(f.m("mine"), nil, 0o644))
			lstat(t, f.m("mine"))
		})
	}
}

// cache.writeback: small writes are gathered in the page cache and reach
// the daemon as a few large WRITEs; without it each write(2) is one WRITE.
func TestOptionCacheWriteback(t *testing.T) {
	for _, wb := range []bool{true, false} {
		t.Run(fmt.Sprint("cache.writeback=", wb), func(t *testing.T) {
			f := newFixture(t, 1)
			f.mountInProcess(t, "cache.files=partial", fmt.Sprint("cache.writeback=", wb))
			fd, err := os.OpenFile(f.m("f"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			must(t, err)
			before := f.srv.fs.stats.writes.Load()
			var want bytes.Buffer
			for i := 0; i < 64; i++ {
				s := fmt.Sprintf("line %02d\n", i)
				want.WriteString(s)
				if _, err := fd.WriteString(s); err != nil {
					t.Fatal(err)
				}
			}
			must(t, fd.Close())
			n := f.srv.fs.stats.writes.Load() - before
			if wb && n > 4 || !wb && n != 64 {
				t.Errorf("%d WRITE requests for 64 small appends", n)
			}
			if got := readFile(t, f.b(0, "f")); got != want.String() {
				t.Errorf("branch file: %q", got)
			}
		})
	}
}

// cache.symlinks: the kernel keeps a symlink's target, so a target changed
// behind the mount's back is still read as the old one.
func TestOptionCacheSymlinks(t *testing.T) {
	for _, tc := range []struct {
		on   string
		want string
	}{{"true", "old"}, {"false", "new"}} {
		t.Run("cache.symlinks="+tc.on, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "l -> old")
			f.mountInProcess(t, "cache.symlinks="+tc.on, "cache.attr=60", "cache.entry=60")
			if got, err := os.Readlink(f.m("l")); err != nil || got != "old" {
				t.Fatalf("readlink: %q %v", got, err)
			}
			must(t, os.Remove(f.b(0, "l")))
			must(t, os.Symlink("new", f.b(0, "l")))
			if got, err := os.Readlink(f.m("l")); err != nil || got != tc.want {
				t.Errorf("readlink after a change behind the mount: %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

// cache.readdir: the kernel keeps a directory listing, so a file added
// behind the mount's back is missing from the next listing.
func TestOptionCacheReaddir(t *testing.T) {
	for _, tc := range []struct {
		on   string
		want []string
	}{{"true", []string{"a"}}, {"false", []string{"a", "b"}}} {
		t.Run("cache.readdir="+tc.on, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "d/a")
			f.mountInProcess(t, "cache.readdir="+tc.on, "cache.attr=60", "cache.entry=60")
			if names, err := readNames(f.m("d")); err != nil || len(names) != 1 {
				t.Fatalf("first listing: %v %v", names, err)
			}
			layout(t, f.branches[0], "d/b")
			names, err := readNames(f.m("d"))
			slices.Sort(names)
			if err != nil || !slices.Equal(names, tc.want) {
				t.Errorf("listing after a change behind the mount: %v %v, want %v", names, err, tc.want)
			}
		})
	}
}

// direct-io-allow-mmap: with cache.files=off (direct I/O) a shared
// mapping is possible only when the option asks the kernel for it.
func TestOptionDirectIOAllowMmap(t *testing.T) {
	for _, tc := range []struct {
		on   string
		want unix.Errno
	}{{"true", 0}, {"false", unix.ENODEV}} {
		t.Run("direct-io-allow-mmap="+tc.on, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f=0123456789")
			f.mountChild(t, "cache.files=off", "direct-io-allow-mmap="+tc.on)
			fd, err := os.OpenFile(f.m("f"), os.O_RDWR, 0)
			must(t, err)
			defer fd.Close()
			mem, err := unix.Mmap(int(fd.Fd()), 0, 10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err == nil {
				copy(mem, "ab")
				unix.Msync(mem, unix.MS_SYNC)
				unix.Munmap(mem)
			}
			if tc.want == 0 && err != nil {
				t.Fatalf("shared mmap: %v", err)
			}
			if tc.want != 0 {
				wantErrno(t, "shared mmap", err, tc.want)
				return
			}
			if got := readFile(t, f.b(0, "f")); got != "ab23456789" {
				t.Errorf("branch after msync: %q", got)
			}
		})
	}
}

// peakOf installs a test hook that counts the requests of op in flight
// (each held for hold) and returns the peak so far.
func peakOf(f *fixture, op string, hold time.Duration) func() int32 {
	var cur, peak atomic.Int32
	hook := func(o string) {
		if o != op {
			return
		}
		c := cur.Add(1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		time.Sleep(hold)
		cur.Add(-1)
	}
	f.srv.fs.testHook.Store(&hook)
	return func() int32 { f.srv.fs.testHook.Store(nil); return peak.Load() }
}

// parallel-direct-writes: direct-I/O writes to one file inside its size
// reach the daemon concurrently; without it the kernel serialises them
// under the inode lock.
func TestOptionParallelDirectWrites(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("parallel-direct-writes=", on), func(t *testing.T) {
			f := newFixture(t, 1)
			must(t, os.WriteFile(f.b(0, "f"), make([]byte, 1<<20), 0o644))
			f.mountInProcess(t, "cache.files=off", fmt.Sprint("parallel-direct-writes=", on))
			fd, err := os.OpenFile(f.m("f"), os.O_RDWR, 0)
			must(t, err)
			defer fd.Close()
			peak := peakOf(f, "write", 100*time.Millisecond)
			var wg sync.WaitGroup
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := fd.WriteAt(bytes.Repeat([]byte{'w'}, 4096), int64(i)*8192); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if p := peak(); on && p < 2 || !on && p != 1 {
				t.Errorf("%d WRITEs to one file in flight at most", p)
			}
		})
	}
}

// async-read: readahead sends several READs at once; without it the
// kernel waits for each. fuse-msg-size=8 (pages) splits the readahead.
func TestOptionAsyncRead(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("async-read=", on), func(t *testing.T) {
			f := newFixture(t, 1)
			must(t, os.WriteFile(f.b(0, "f"), make([]byte, 1<<20), 0o644))
			f.mountInProcess(t, "cache.files=partial", "fuse-msg-size=8", fmt.Sprint("async-read=", on))
			peak := peakOf(f, "read", 15*time.Millisecond)
			b, err := os.ReadFile(f.m("f"))
			p := peak()
			if err != nil || len(b) != 1<<20 {
				t.Fatalf("read %d bytes: %v", len(b), err)
			}
			if on && p < 2 || !on && p != 1 {
				t.Errorf("%d READs in flight at most", p)
			}
		})
	}
}

// fuse-msg-size bounds the size of one WRITE: a 1 MiB direct write takes
// 64 requests with 4 pages, one with the default (1 MiB).
func TestOptionFuseMsgSize(t *testing.T) {
	for _, tc := range []struct {
		opt      string
		min, max int64
	}{{"fuse-msg-size=4", 64, 64}, {"", 1, 1}} {
		t.Run("opt="+tc.opt, func(t *testing.T) {
			f := newFixture(t, 1)
			opts := []string{"cache.files=off"}
			if tc.opt != "" {
				opts = append(opts, tc.opt)
			}
			f.mountInProcess(t, opts...)
			fd, err := os.Create(f.m("f"))
			must(t, err)
			defer fd.Close()
			before := f.srv.fs.stats.writes.Load()
			if _, err := fd.Write(make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			if n := f.srv.fs.stats.writes.Load() - before; n < tc.min || n > tc.max {
				t.Errorf("%d WRITEs for one 1 MiB write, want %d..%d", n, tc.min, tc.max)
			}
		})
	}
}

// flush-on-close decides which close(2) sends a FLUSH: never, always, or
// (the default) only for descriptors opened for writing.
func TestOptionFlushOnClose(t *testing.T) {
	for _, tc := range []struct {
		mode                string
		wantRead, wantWrite int32
	}{{"never", 0, 0}, {"always", 1, 1}, {"opened-for-write", 0, 1}} {
		t.Run("flush-on-close="+tc.mode, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f=x")
			f.mountInProcess(t, "flush-on-close="+tc.mode)
			var flushes atomic.Int32
			hook := func(op string) {
				if op == "flush" {
					flushes.Add(1)
				}
			}
			f.srv.fs.testHook.Store(&hook)
			defer f.srv.fs.testHook.Store(nil)
			count := func(flag int) int32 {
				before := flushes.Load()
				fd, err := os.OpenFile(f.m("f"), flag, 0)
				must(t, err)
				must(t, fd.Close())
				return flushes.Load() - before
			}
			if n := count(os.O_RDONLY); n != tc.wantRead {
				t.Errorf("close of a read-only open: %d FLUSHes, want %d", n, tc.wantRead)
			}
			if n := count(os.O_WRONLY); n != tc.wantWrite {
				t.Errorf("close of a write open: %d FLUSHes, want %d", n, tc.wantWrite)
			}
		})
	}
}

// nullrw: writes report success and never reach the branch; reads report
// the full size asked for without reading the branch, and hand back no
// data of anything else (zeros).
func TestOptionNullRW(t *testing.T) {
	f := newFixture(t, 1)
	layout(t, f.branches[0], "f=original content")
	f.mountInProcess(t, "nullrw=true")
	// Fill the daemon's request and reply buffers with something
	// recognisable first: a write, a listing, an xattr value.
	must(t, os.WriteFile(f.m("g"), bytes.Repeat([]byte("SECRET"), 20000), 0o644))
	for i := 0; i < 40; i++ {
		layout(t, f.branches[0], fmt.Sprintf("d/SECRET-%s-%d", strings.Repeat("S", 200), i))
	}
	must(t, unix.Setxattr(f.b(0, "f"), "user.secret", bytes.Repeat([]byte("SECRET"), 500), 0))
	for i := 0; i < 3; i++ {
		if names, err := readNames(f.m("d")); err != nil || len(names) != 40 {
			t.Fatalf("readdir: %d names, %v", len(names), err)
		}
		unix.Getxattr(f.m("f"), "user.secret", make([]byte, 4096))
	}
	fd, err := os.OpenFile(f.m("f"), os.O_RDWR, 0)
	must(t, err)
	defer fd.Close()
	if n, err := fd.WriteAt([]byte("XXXX"), 0); n != 4 || err != nil {
		t.Errorf("write: %d %v", n, err)
	}
	buf := bytes.Repeat([]byte{1}, 8192)
	n, err := fd.ReadAt(buf, 0)
	if n != len(buf) || err != nil {
		t.Errorf("read of %d bytes: %d %v, want the size asked for", len(buf), n, err)
	}
	if !bytes.Equal(buf[:n], make([]byte, n)) {
		t.Errorf("nullrw read returned data: %q", bytes.Trim(buf[:n], "\x00"))
	}
	if got := readFile(t, f.b(0, "f")); got != "original content" {
		t.Errorf("branch after a nullrw write: %q", got)
	}
	if st := lstat(t, f.b(0, "g")); st.Size != 0 {
		t.Errorf("g on the branch has %d bytes", st.Size)
	}
}

// resident counts the pages of a file in the page cache (mincore).
func resident(t *testing.T, path string) int {
	t.Helper()
	fd, err := os.Open(path)
	must(t, err)
	defer fd.Close()
	st, err := fd.Stat()
	must(t, err)
	mem, err := unix.Mmap(int(fd.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	must(t, err)
	defer unix.Munmap(mem)
	vec := make([]byte, (len(mem)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)),
		uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal("mincore:", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// dropcacheonclose: closing a file on the mount drops the branch file's
// pages from the page cache.
func TestOptionDropCacheOnClose(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("dropcacheonclose=", on), func(t *testing.T) {
			f := newFixture(t, 1)
			must(t, os.WriteFile(f.b(0, "f"), bytes.Repeat([]byte("d"), 256<<10), 0o644))
			// Dirty pages are not dropped: write them out first.
			wf, err := os.OpenFile(f.b(0, "f"), os.O_RDWR, 0)
			must(t, err)
			must(t, wf.Sync())
			wf.Close()
			f.mountInProcess(t, fmt.Sprint("dropcacheonclose=", on))
			if b, err := os.ReadFile(f.m("f")); err != nil || len(b) != 256<<10 {
				t.Fatalf("read: %d %v", len(b), err)
			}
			// RELEASE is asynchronous: the drop of that first close may
			// come after a read of the branch file. Read it until its pages
			// stay cached, then close through the mount.
			waitFor(t, "the branch file cached", func() bool {
				os.ReadFile(f.b(0, "f"))
				return resident(t, f.b(0, "f")) > 0
			})
			fd, err := os.Open(f.m("f"))
			must(t, err)
			fd.Close()
			if on {
				waitFor(t, "the branch file's pages dropped", func() bool { return resident(t, f.b(0, "f")) == 0 })
				return
			}
			time.Sleep(100 * time.Millisecond)
			if n := resident(t, f.b(0, "f")); n == 0 {
				t.Errorf("pages dropped without dropcacheonclose")
			}
		})
	}
}

// posixACL builds a system.posix_acl_access value: owner rw, user uid r,
// group none, mask r, other none.
func posixACL(uid uint32) []byte {
	var b bytes.Buffer
	le := func(v uint32, n int) {
		for i := 0; i < n; i++ {
			b.WriteByte(byte(v >> (8 * i)))
		}
	}
	le(2, 4) // version
	for _, e := range []struct{ tag, perm, id uint32 }{
		{0x01, 6, ^uint32(0)}, {0x02, 4, uid}, {0x04, 0, ^uint32(0)}, {0x10, 4, ^uint32(0)}, {0x20, 0, ^uint32(0)},
	} {
		le(e.tag, 2)
		le(e.perm, 2)
		le(e.id, 4)
	}
	return b.Bytes()
}

// posix-acl: with the kernel's permission checks an ACL entry granting
// uid 65534 read access to a 0640 root file counts only when posix-acl asks
// the kernel to evaluate ACLs; without default_permissions the branch
// filesystem decides (the daemon acts as the caller), ACL included.
func TestOptionPosixACL(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		acl, kpc string
		wantRead bool
	}{{"true", "true", true}, {"false", "true", false}, {"false", "false", true}} {
		t.Run("posix-acl="+tc.acl+",kernel-permissions-check="+tc.kpc, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f=acl")
			if err := unix.Setxattr(f.b(0, "f"), "system.posix_acl_access", posixACL(65534), 0); err != nil {
				t.Fatalf("the branch filesystem takes no ACL: %v", err)
			}
			openUp(f.mnt)
			f.mountChild(t, "posix-acl="+tc.acl, "kernel-permissions-check="+tc.kpc, "cache.attr=0")
			out, err := runAs(t, 65534, 65534, nil, "cat "+f.m("f"))
			if ok := err == nil && out == "acl"; ok != tc.wantRead {
				t.Errorf("cat as uid 65534: %q %v, want readable=%v", out, err, tc.wantRead)
			}
			if tc.acl == "true" {
				// The kernel serves the ACL xattr from the branch.
				buf := make([]byte, 256)
				n, err := unix.Getxattr(f.m("f"), "system.posix_acl_access", buf)
				if err != nil || !bytes.Equal(buf[:n], posixACL(65534)) {
					t.Errorf("getxattr system.posix_acl_access: %x %v", buf[:max(n, 0)], err)
				}
			}
		})
	}
}

// cache.files=auto-full keeps the page cache across opens only while the
// file's mtime and size are those of the previous open.
func TestOptionCacheFilesAutoFull(t *testing.T) {
	f := newFixture(t, 1)
	layout(t, f.branches[0], "f=old content")
	f.mountInProcess(t, "cache.files=auto-full", "cache.attr=0")
	if got := readFile(t, f.m("f")); got != "old content" {
		t.Fatalf("first read %q", got)
	}
	st := lstat(t, f.b(0, "f"))
	must(t, os.WriteFile(f.b(0, "f"), []byte("new content"), 0o644))
	ts := []unix.Timespec{st.Atim, st.Mtim}
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, f.b(0, "f"), ts, 0))
	if got := readFile(t, f.m("f")); got != "old content" {
		t.Errorf("same mtime and size: read %q, want the cached old content", got)
	}
	ts[1].Sec += 10
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, f.b(0, "f"), ts, 0))
	if got := readFile(t, f.m("f")); got != "new content" {
		t.Errorf("newer mtime: read %q, want the new content", got)
	}
}

// subtype and fsname show in /proc/self/mountinfo.
func TestOptionSubtypeFSName(t *testing.T) {
	f := newFixture(t, 1)
	f.mountInProcess(t, "subtype=mergerfs", "fsname=mypool")
	line := mountLine(f.mnt)
	fields := strings.Fields(line)
	if len(fields) < 3 || fields[0] != "mypool" || fields[2] != "fuse.mergerfs" {
		t.Errorf("/proc/self/mounts: %q, want mypool ... fuse.mergerfs", line)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runAsIn is runAs with the script run in dir.
func runAsIn(t testing.TB, dir string, uid, gid uint32, groups []uint32, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}
