package fusemode

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
)

func lstat(t testing.TB, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

// readDirInos lists dir with getdents (through os.File.ReadDir) and returns name → d_ino.
func readDirInos(t testing.TB, dir string) map[string]uint64 {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	out := map[string]uint64{}
	buf := make([]byte, 512) // small: forces several READDIR rounds
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		for b := buf[:n]; len(b) > 0; {
			ino := binary.LittleEndian.Uint64(b[0:8])
			reclen := int(binary.LittleEndian.Uint16(b[16:18]))
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if _, dup := out[string(name)]; dup {
				t.Errorf("readdir %s: %q listed twice", dir, name)
			}
			out[string(name)] = ino
			b = b[reclen:]
		}
	}
}

func TestLookupGetattrReaddir(t *testing.T) {
	f := newFixture(t, 3)
	layout(t, f.branches[0], "a/x=1", "dup=first", "d/")
	layout(t, f.branches[1], "a/y=22", "dup=second", "d/in1")
	layout(t, f.branches[2], "z=333", "d/in2")
	f.mountInProcess(t)

	ents := readDirInos(t, f.mnt)
	var names []string
	for n := range ents {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{".", "..", "a", "d", "dup", "z"}; !slices.Equal(names, want) {
		t.Errorf("readdir /: got %v, want %v", names, want)
	}
	for name, ino := range ents {
		if name == "." || name == ".." {
			continue
		}
		if st := lstat(t, f.m(name)); st.Ino != ino {
			t.Errorf("%s: d_ino %d != st_ino %d", name, ino, st.Ino)
		}
	}
	sub := readDirInos(t, f.m("a"))
	if _, ok := sub["x"]; !ok || len(sub) != 4 {
		t.Errorf("readdir a: %v, want ., .., x, y", sub)
	}
	if got := readFile(t, f.m("dup")); got != "first" {
		t.Errorf("dup: got %q, want the first branch's copy", got)
	}
	if got := readFile(t, f.m("z")); got != "333" {
		t.Errorf("z: got %q", got)
	}
	if st := lstat(t, f.m("a/y")); st.Size != 2 {
		t.Errorf("a/y size %d", st.Size)
	}
	_, err := os.Lstat(f.m("nope"))
	wantErrno(t, "lstat missing", err, unix.ENOENT)
	_, err = os.Lstat(f.m("z/nope"))
	wantErrno(t, "lstat under a file", err, unix.ENOTDIR)

	// The control file is stat-able but never listed.
	st := lstat(t, f.m(vfs.ControlFile))
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf(".mergerfs mode %o", st.Mode)
	}

	// A reopened directory lists the same entries; a rewound one re-reads.
	d, err := os.Open(f.m("d"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	n1, _ := d.Readdirnames(-1)
	layout(t, f.branches[2], "d/in3")
	if _, err := d.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	n2, _ := d.Readdirnames(-1)
	slices.Sort(n1)
	slices.Sort(n2)
	if !slices.Equal(n1, []string{"in1", "in2"}) || !slices.Equal(n2, []string{"in1", "in2", "in3"}) {
		t.Errorf("readdir d before/after rewind: %v / %v", n1, n2)
	}
}

func TestCreateLandsPerPolicy(t *testing.T) {
	f := newFixture(t, 3)
	layout(t, f.branches[1], "only2/")
	f.mountInProcess(t, "category.create=epff")

	if err := os.WriteFile(f.m("top"), []byte("t"), 0o640); err != nil {
		t.Fatal(err)
	}
	if !exists(f.b(0, "top")) || exists(f.b(1, "top")) || exists(f.b(2, "top")) {
		t.Errorf("epff create at the root should land on branch 1 only")
	}
	if st := lstat(t, f.b(0, "top")); st.Mode&0o777 != 0o640 {
		t.Errorf("mode %o, want 640", st.Mode&0o777)
	}
	// epff: the parent exists only on branch 2, so the file goes there.
	if err := os.WriteFile(f.m("only2/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !exists(f.b(1, "only2/f")) || exists(f.b(0, "only2/f")) {
		t.Errorf("epff: only2/f should land on branch 2")
	}
	if err := os.Mkdir(f.m("only2/sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, f.b(1, "only2/sub")); st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o777 != 0o750 {
		t.Errorf("mkdir only2/sub on branch 2: mode %o", st.Mode)
	}
	// O_EXCL on an existing name.
	_, err := os.OpenFile(f.m("top"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	wantErrno(t, "O_EXCL", err, unix.EEXIST)

	// Runtime policy change through the control file, then create again.
	if err := unix.Setxattr(f.m(vfs.ControlFile), "user.mergerfs.category.create", []byte("ff"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.m("only2/deep/er"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !exists(f.b(0, "only2/deep/er")) {
		t.Errorf("ff after setxattr: only2/deep/er should land on branch 1 (clonepath)")
	}
}

func TestWriteReadTruncate(t *testing.T) {
	for _, cache := range []string{"off", "partial", "full", "auto-full"} {
		t.Run(cache, func(t *testing.T) {
			f := newFixture(t, 2)
			f.mountInProcess(t, "cache.files="+cache, "category.create=ff")
			data := make([]byte, 3<<20+123)
			rand.Read(data)
			if err := os.WriteFile(f.m("big"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(f.m("big")); !bytes.Equal(got, data) {
				t.Fatalf("read back through the mount differs (len %d)", len(got))
			}
			if got, _ := os.ReadFile(f.b(0, "big")); !bytes.Equal(got, data) {
				t.Fatalf("branch file differs")
			}
			// O_APPEND
			fd, err := os.OpenFile(f.m("big"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fd.Write([]byte("tail")); err != nil {
				t.Fatal(err)
			}
			// ftruncate through the handle
			if err := fd.Truncate(10); err != nil {
				t.Fatal(err)
			}
			fd.Close()
			if got := readFile(t, f.m("big")); got != string(data[:10]) {
				t.Errorf("after ftruncate: %q", got)
			}
			// truncate by path, growing
			if err := os.Truncate(f.m("big"), 100); err != nil {
				t.Fatal(err)
			}
			if st := lstat(t, f.m("big")); st.Size != 100 {
				t.Errorf("size %d after truncate, want 100", st.Size)
			}
			// O_TRUNC on open
			if err := os.WriteFile(f.m("big"), []byte("new"), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, f.b(0, "big")); got != "new" {
				t.Errorf("O_TRUNC rewrite: branch has %q", got)
			}
		})
	}
}

func TestRename(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], "dir/a=A", "dir/sub/deep=D", "other/", "x=X", "y=Y")
	layout(t, f.branches[1], "dir/a=A2", "other/")
	f.mountInProcess(t)

	// Prime the node table, then rename the directory and use the child.
	readFile(t, f.m("dir/sub/deep"))
	if err := os.Rename(f.m("dir"), f.m("renamed")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, f.m("renamed/sub/deep")); got != "D" {
		t.Errorf("after dir rename: %q", got)
	}
	if exists(f.m("dir")) || exists(f.b(0, "dir")) || exists(f.b(1, "dir")) {
		t.Errorf("old dir still visible")
	}
	if !exists(f.b(1, "renamed/a")) {
		t.Errorf("rename must act on every branch holding the source")
	}
	// File across directories, over an existing target.
	if err := os.Rename(f.m("renamed/a"), f.m("other/x")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, f.m("other/x")); got != "A" {
		t.Errorf("other/x = %q", got)
	}
	// RENAME_NOREPLACE
	err := unix.Renameat2(unix.AT_FDCWD, f.m("x"), unix.AT_FDCWD, f.m("y"), unix.RENAME_NOREPLACE)
	wantErrno(t, "RENAME_NOREPLACE", err, unix.EEXIST)
	// RENAME_EXCHANGE
	if err := unix.Renameat2(unix.AT_FDCWD, f.m("x"), unix.AT_FDCWD, f.m("y"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatalf("RENAME_EXCHANGE: %v", err)
	}
	if readFile(t, f.m("x")) != "Y" || readFile(t, f.m("y")) != "X" {
		t.Errorf("exchange: x=%q y=%q", readFile(t, f.m("x")), readFile(t, f.m("y")))
	}
	err = unix.Renameat2(unix.AT_FDCWD, f.m("x"), unix.AT_FDCWD, f.m("y"), unix.RENAME_WHITEOUT)
	if err == nil {
		t.Errorf("RENAME_WHITEOUT succeeded")
	}
	// rename onto a non-empty directory
	layout(t, f.branches[0], "full/f", "empty/")
	err = os.Rename(f.m("empty"), f.m("full"))
	if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		t.Errorf("rename onto non-empty dir: %v", err)
	}
}

func TestUnlinkRmdir(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], "f=1", "d/", "full/x")
	layout(t, f.branches[1], "f=2", "d/")
	f.mountInProcess(t)
	if err := os.Remove(f.m("f")); err != nil {
		t.Fatal(err)
	}
	if exists(f.b(0, "f")) || exists(f.b(1, "f")) || exists(f.m("f")) {
		t.Errorf("unlink must remove every copy")
	}
	err := unix.Rmdir(f.m("full"))
	wantErrno(t, "rmdir non-empty", err, unix.ENOTEMPTY)
	if err := unix.Rmdir(f.m("d")); err != nil {
		t.Fatal(err)
	}
	if exists(f.b(0, "d")) || exists(f.b(1, "d")) {
		t.Errorf("rmdir must remove every copy")
	}
	err = unix.Unlink(f.m("full"))
	wantErrno(t, "unlink dir", err, unix.EISDIR)
	err = unix.Rmdir(f.m("full/x"))
	wantErrno(t, "rmdir file", err, unix.ENOTDIR)
}

func TestSymlinkLinkMknod(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, 2)
	layout(t, f.branches[0], "file=data")
	f.mountInProcess(t, "category.create=ff")
	if err := os.Symlink("file", f.m("sl")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(f.m("sl")); err != nil || got != "file" {
		t.Errorf("readlink: %q, %v", got, err)
	}
	if got := readFile(t, f.m("sl")); got != "data" {
		t.Errorf("read through symlink: %q", got)
	}
	if got, _ := os.Readlink(f.b(0, "sl")); got != "file" {
		t.Errorf("symlink on branch: %q", got)
	}
	if err := os.Link(f.m("file"), f.m("hard")); err != nil {
		t.Fatal(err)
	}
	a, b := lstat(t, f.m("file")), lstat(t, f.m("hard"))
	if a.Ino != b.Ino || b.Nlink != 2 {
		t.Errorf("hard link: ino %d/%d nlink %d", a.Ino, b.Ino, b.Nlink)
	}
	if err := unix.Mkfifo(f.m("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, f.b(0, "fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo mode %o", st.Mode)
	}
	if err := unix.Mknod(f.m("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, f.m("null")); st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device rdev %x, want %x", st.Rdev, unix.Mkdev(1, 3))
	}
}

func TestChmodChownUtimens(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, 2)
	layout(t, f.branches[0], "f=x")
	f.mountInProcess(t)
	if err := os.Chmod(f.m("f"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(f.m("f"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	st := lstat(t, f.b(0, "f"))
	if st.Mode&0o7777 != 0o600 || st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("branch: mode %o uid %d gid %d", st.Mode&0o7777, st.Uid, st.Gid)
	}
	if err := os.Lchown(f.m("f"), -1, 42); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, f.m("f")); st.Uid != 1234 || st.Gid != 42 {
		t.Errorf("chown -1: uid %d gid %d", st.Uid, st.Gid)
	}
	at := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	mt := time.Date(2002, 3, 4, 5, 6, 7, 8000, time.UTC)
	if err := os.Chtimes(f.m("f"), at, mt); err != nil {
		t.Fatal(err)
	}
	st = lstat(t, f.m("f"))
	if st.Atim.Nano() != at.UnixNano() || st.Mtim.Nano() != mt.UnixNano() {
		t.Errorf("times: %v %v", time.Unix(st.Atim.Unix()), time.Unix(st.Mtim.Unix()))
	}
	// UTIME_OMIT keeps atime; UTIME_NOW sets mtime to now.
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, f.m("f"), ts, 0); err != nil {
		t.Fatal(err)
	}
	st = lstat(t, f.b(0, "f"))
	if st.Atim.Nano() != at.UnixNano() {
		t.Errorf("UTIME_OMIT changed atime")
	}
	if d := time.Since(time.Unix(st.Mtim.Unix())); d < 0 || d > time.Minute {
		t.Errorf("UTIME_NOW: mtime %v", time.Unix(st.Mtim.Unix()))
	}
}

func TestXattrsAndControlFile(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], "f=x")
	layout(t, f.branches[1], "f=y")
	f.mountInProcess(t)
	if err := unix.Setxattr(f.m("f"), "user.k", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(f.m("f"), "user.k", buf)
	if err != nil || string(buf[:n]) != "v1" {
		t.Errorf("getxattr: %q %v", buf[:n], err)
	}
	if n, err := unix.Getxattr(f.m("f"), "user.k", nil); err != nil || n != 2 {
		t.Errorf("getxattr size query: %d %v", n, err)
	}
	_, err = unix.Getxattr(f.m("f"), "user.k", make([]byte, 1))
	wantErrno(t, "getxattr small buffer", err, unix.ERANGE)
	n, err = unix.Listxattr(f.m("f"), buf)
	if err != nil || !strings.Contains(string(buf[:n]), "user.k\x00") {
		t.Errorf("listxattr: %q %v", buf[:n], err)
	}
	if err := unix.Removexattr(f.m("f"), "user.k"); err != nil {
		t.Fatal(err)
	}
	_, err = unix.Getxattr(f.m("f"), "user.k", buf)
	wantErrno(t, "getxattr removed", err, unix.ENODATA)

	// Path information every file has.
	big := make([]byte, 4096)
	n, err = unix.Getxattr(f.m("f"), "user.mergerfs.allpaths", big)
	if err != nil {
		t.Fatal(err)
	}
	// NUL-separated; whether a final NUL follows is vfs's business.
	want := f.b(0, "f") + "\x00" + f.b(1, "f")
	if strings.TrimSuffix(string(big[:n]), "\x00") != want {
		t.Errorf("allpaths: %q, want %q", big[:n], want)
	}
	n, err = unix.Getxattr(f.m("f"), "user.mergerfs.basepath", big)
	if err != nil || string(big[:n]) != f.branches[0] {
		t.Errorf("basepath: %q %v", big[:n], err)
	}

	// The control file: list, get, set, errors.
	ctl := f.m(vfs.ControlFile)
	n, err = unix.Listxattr(ctl, big)
	if err != nil || !strings.Contains(string(big[:n]), "user.mergerfs.branches\x00") {
		t.Errorf("listxattr .mergerfs: %v %q", err, big[:min(n, 200)])
	}
	n, err = unix.Getxattr(ctl, "user.mergerfs.srcmounts", big)
	if err != nil || string(big[:n]) != strings.Join(f.branches, ":") {
		t.Errorf("srcmounts: %q %v", big[:n], err)
	}
	if err := unix.Setxattr(ctl, "user.mergerfs.func.getattr", []byte("newest"), 0); err != nil {
		t.Fatal(err)
	}
	n, _ = unix.Getxattr(ctl, "user.mergerfs.func.getattr", big)
	if string(big[:n]) != "newest" {
		t.Errorf("func.getattr after set: %q", big[:n])
	}
	_, err = unix.Getxattr(ctl, "user.mergerfs.nosuchkey", big)
	wantErrno(t, "unknown key", err, unix.ENODATA)
	err = unix.Setxattr(ctl, "user.mergerfs.category.create", []byte("bogus"), 0)
	wantErrno(t, "bad value", err, unix.EINVAL)
	err = unix.Setxattr(ctl, "user.mergerfs.version", []byte("1"), 0)
	wantErrno(t, "read-only key", err, unix.EROFS)
	err = unix.Setxattr(ctl, "user.mergerfs.category.create", []byte("ff"), unix.XATTR_CREATE)
	wantErrno(t, "XATTR_CREATE", err, unix.EEXIST)
}

func TestStatfs(t *testing.T) {
	f := newFixture(t, 2)
	f.mountInProcess(t)
	var got unix.Statfs_t
	if err := unix.Statfs(f.mnt, &got); err != nil {
		t.Fatal(err)
	}
	want, e := f.pool.Statfs(bg, vfs.RootCred, "")
	if e != 0 {
		t.Fatal(e)
	}
	if got.Blocks != want.Blocks || got.Bsize != want.Bsize || got.Files != want.Files || got.Blocks == 0 {
		t.Errorf("statfs through the mount: blocks %d bsize %d files %d; pool: %d %d %d",
			got.Blocks, got.Bsize, got.Files, want.Blocks, want.Bsize, want.Files)
	}
	if got.Type != 0x65735546 { // FUSE_SUPER_MAGIC
		t.Errorf("f_type %x", got.Type)
	}
}

func TestInodesStableAndDistinct(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], "a=1", "d/x=2", "d/y=3")
	layout(t, f.branches[1], "b=4", "d/z=5")
	names := []string{"a", "b", "d", "d/x", "d/y", "d/z"}
	var first []uint64
	for round := 0; round < 2; round++ {
		f.mnt = filepath.Join(filepath.Dir(f.mnt), "mnt"+string(rune('0'+round)))
		os.Mkdir(f.mnt, 0o755)
		f.mountInProcess(t)
		seen := map[uint64]string{}
		for i, n := range names {
			st := lstat(t, f.m(n))
			if other, dup := seen[st.Ino]; dup {
				t.Errorf("%s and %s share inode %d", n, other, st.Ino)
			}
			seen[st.Ino] = n
			if round == 0 {
				first = append(first, st.Ino)
			} else if first[i] != st.Ino {
				t.Errorf("%s: inode %d on the second mount, %d on the first", n, st.Ino, first[i])
			}
			if again := lstat(t, f.m(n)); again.Ino != st.Ino {
				t.Errorf("%s: inode changed between stats", n)
			}
		}
	}
}

// Two different branch files with the same branch inode number (two fresh
// tmpfs instances number their files alike) and inodecalc=passthrough: the
// mount reports equal st_ino, but they must stay distinct kernel inodes.
func TestEqualBranchInodesStayDistinct(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, 2)
	for _, b := range f.branches {
		if err := unix.Mount("tmpfs", b, "tmpfs", 0, "size=4m"); err != nil {
			t.Fatalf("mount tmpfs: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(b, unix.MNT_DETACH) })
	}
	layout(t, f.branches[0], "one=first branch")
	layout(t, f.branches[1], "two=second branch, longer")
	if lstat(t, f.b(0, "one")).Ino != lstat(t, f.b(1, "two")).Ino {
		t.Logf("branch inode numbers differ on this kernel; the test still checks distinct data")
	}
	f.mountInProcess(t, "inodecalc=passthrough")
	for i := 0; i < 3; i++ {
		if got := readFile(t, f.m("one")); got != "first branch" {
			t.Fatalf("one: %q", got)
		}
		if got := readFile(t, f.m("two")); got != "second branch, longer" {
			t.Fatalf("two: %q", got)
		}
	}
	if lstat(t, f.m("one")).Size == lstat(t, f.m("two")).Size {
		t.Errorf("the two files got the same attributes")
	}
}

// open, unlink, then keep using the file through its descriptor.
func TestOpenUnlinkUse(t *testing.T) {
	f := newFixture(t, 1)
	layout(t, f.branches[0], "f=hello")
	f.mountInProcess(t)
	fd, err := os.OpenFile(f.m("f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if err := os.Remove(f.m("f")); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &st); err != nil {
		t.Fatalf("fstat after unlink: %v", err)
	}
	if st.Nlink != 0 || st.Size != 5 {
		t.Errorf("fstat after unlink: nlink %d size %d", st.Nlink, st.Size)
	}
	if err := fd.Chmod(0o600); err != nil {
		t.Errorf("fchmod after unlink: %v", err)
	}
	if err := fd.Truncate(2); err != nil {
		t.Errorf("ftruncate after unlink: %v", err)
	}
	if err := unix.Fallocate(int(fd.Fd()), 0, 0, 4096); err != nil {
		t.Errorf("fallocate after unlink: %v", err)
	}
	if _, err := fd.WriteAt([]byte("XY"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := fd.ReadAt(buf, 0); err != nil || string(buf) != "XY" {
		t.Errorf("read after unlink: %q %v", buf, err)
	}
	ts := []unix.Timespec{{Sec: 100}, {Sec: 200}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+itoa(int(fd.Fd())), ts, 0); err != nil {
		t.Errorf("futimens after unlink: %v", err)
	}
	if err := unix.Fstat(int(fd.Fd()), &st); err != nil || st.Mode&0o777 != 0o600 || st.Size != 4096 || st.Mtim.Sec != 200 {
		t.Errorf("fstat: mode %o size %d mtime %d err %v", st.Mode&0o777, st.Size, st.Mtim.Sec, err)
	}
}

func TestFallocateLseek(t *testing.T) {
	f := newFixture(t, 1)
	f.mountInProcess(t)
	fd, err := os.Create(f.m("sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := fd.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.WriteAt([]byte("data"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(fd.Fd()), 0, 0, 3<<20); err != nil {
		t.Fatalf("fallocate: %v", err)
	}
	if st := lstat(t, f.b(0, "sparse")); st.Size != 3<<20 {
		t.Errorf("size after fallocate: %d", st.Size)
	}
	hole, err := unix.Seek(int(fd.Fd()), 0, unix.SEEK_HOLE)
	if err != nil {
		t.Fatalf("SEEK_HOLE: %v", err)
	}
	data, err := unix.Seek(int(fd.Fd()), hole, unix.SEEK_DATA)
	if err != nil {
		t.Fatalf("SEEK_DATA: %v", err)
	}
	if hole < 4 || hole >= 1<<20 || data > 1<<20 || data <= hole {
		t.Errorf("SEEK_HOLE %d SEEK_DATA %d", hole, data)
	}
	_, err = unix.Seek(int(fd.Fd()), 4<<20, unix.SEEK_DATA)
	wantErrno(t, "SEEK_DATA past the end", err, unix.ENXIO)
}

func TestNodesForgotten(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, 1)
	var entries []string
	for i := 0; i < 200; i++ {
		entries = append(entries, "d/f"+itoa(i))
	}
	layout(t, f.branches[0], entries...)
	f.mountInProcess(t)
	for _, e := range entries {
		lstat(t, f.m(e))
	}
	before := f.srv.fs.nodes.count()
	if before < 200 {
		t.Fatalf("node table holds %d nodes after 200 lookups", before)
	}
	// Dropping the dentry cache makes the kernel send FORGET for them.
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.fs.nodes.count() > 10 && time.Now().Before(deadline) {
		os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0)
		time.Sleep(100 * time.Millisecond)
	}
	if n := f.srv.fs.nodes.count(); n > 10 {
		t.Errorf("node table still holds %d nodes after drop_caches (had %d)", n, before)
	}
	// Everything still resolves afterwards.
	if got := readFile(t, f.m("d/f7")); got != "" {
		t.Errorf("d/f7: %q", got)
	}
}

func TestServerLifecycle(t *testing.T) {
	requireFUSE(t)
	f := newFixture(t, 1)
	o, pool, err := buildPool(helperArgs{Branches: f.branches, Mountpoint: f.mnt})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	srv, err := Mount(pool, f.mnt, o, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkUnmounted(t, f.mnt) })
	if srv.Mountpoint() != f.mnt || !isMounted(f.mnt) {
		t.Fatalf("not mounted at %s", f.mnt)
	}
	line := mountLine(f.mnt)
	if !strings.Contains(line, " fuse.mfs ") {
		t.Errorf("/proc/mounts: %q, want type fuse.mfs", line)
	}
	// Busy: an open file keeps the mount.
	fd, err := os.Create(f.m("f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Unmount(); err == nil {
		t.Errorf("Unmount with an open file succeeded")
	}
	fd.Close()
	var uerr error
	for i := 0; i < 50; i++ {
		if uerr = srv.Unmount(); uerr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if uerr != nil {
		t.Fatal(uerr)
	}
	waited := make(chan struct{})
	go func() { srv.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Unmount")
	}
	if err := srv.Unmount(); err != nil {
		t.Errorf("second Unmount: %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// cache.files decides whether the kernel keeps file pages across opens: a
// branch file changed behind the pool's back (same size, same mtime, so
// nothing tells the kernel) is seen at once with off and on the next open
// with partial, while full keeps serving the cached pages.
func TestCacheFilesModes(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		wantFresh bool
	}{{"off", true}, {"partial", true}, {"full", false}} {
		t.Run(tc.mode, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f=old content")
			f.mountInProcess(t, "cache.files="+tc.mode, "cache.attr=60", "cache.entry=60")
			if got := readFile(t, f.m("f")); got != "old content" {
				t.Fatalf("first read %q", got)
			}
			st := lstat(t, f.b(0, "f"))
			if err := os.WriteFile(f.b(0, "f"), []byte("new content"), 0o644); err != nil {
				t.Fatal(err)
			}
			ts := []unix.Timespec{st.Atim, st.Mtim}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, f.b(0, "f"), ts, 0); err != nil {
				t.Fatal(err)
			}
			got := readFile(t, f.m("f"))
			if fresh := got == "new content"; fresh != tc.wantFresh {
				t.Errorf("cache.files=%s: read %q after an out-of-band change", tc.mode, got)
			}
		})
	}
}

// NFS export: a file handle outlives the kernel's inode cache. With
// never-forget-nodes the node id in the handle stays valid and the kernel
// resolves it with a LOOKUP of "."; without it the id is gone and the
// handle is stale (ESTALE, never a crash).
func TestExportHandles(t *testing.T) {
	requireRoot(t)
	for _, remember := range []bool{true, false} {
		t.Run(map[bool]string{true: "never-forget", false: "forget"}[remember], func(t *testing.T) {
			f := newFixture(t, 2)
			layout(t, f.branches[1], "dir/file=exported")
			f.mountInProcess(t, "export-support=true", "never-forget-nodes="+strconv.FormatBool(remember))
			h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, f.m("dir/file"), 0)
			if err != nil {
				t.Fatalf("name_to_handle_at: %v", err)
			}
			mfd, err := unix.Open(f.mnt, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(mfd)
			// Wait until the kernel has evicted the inode and sent FORGET,
			// so opening the handle must go through LOOKUP ".".
			if n := dropUntilForgotten(f, 5*time.Second); n > 0 {
				t.Fatalf("the kernel still holds %d node references after drop_caches", n)
			}
			fd, err := unix.OpenByHandleAt(mfd, h, unix.O_RDONLY)
			if !remember {
				if err == nil {
					unix.Close(fd)
				}
				wantErrno(t, "open_by_handle_at of a forgotten node", err, unix.ESTALE)
				return
			}
			if err != nil {
				t.Fatalf("open_by_handle_at: %v", err)
			}
			defer unix.Close(fd)
			buf := make([]byte, 64)
			n, _ := unix.Read(fd, buf)
			if string(buf[:n]) != "exported" {
				t.Errorf("read through the handle: %q", buf[:n])
			}
		})
	}
}

// liveLookups sums the lookup counts the kernel holds on non-root nodes.
// dropUntilForgotten drops the kernel's dentry and inode caches until
// every node lookup of the in-process mount is forgotten or d has passed,
// and returns the lookups still counted.
func dropUntilForgotten(f *fixture, d time.Duration) uint64 {
	deadline := time.Now().Add(d)
	for liveLookups(f.srv.fs.nodes) > 0 && time.Now().Before(deadline) {
		os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0)
		time.Sleep(20 * time.Millisecond)
	}
	return liveLookups(f.srv.fs.nodes)
}

func liveLookups(t *nodeTable) uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var n uint64
	for _, c := range t.byID {
		if c != t.root {
			n += c.nlookup
		}
	}
	return n
}

// TestUnlinkedOpenXattrs: xattr calls on a file unlinked while open reach it
// through its handle.
func TestUnlinkedOpenXattrs(t *testing.T) {
	f := newFixture(t, 1)
	layout(t, f.branches[0], "f=hello")
	f.mountInProcess(t)
	fd, err := os.OpenFile(f.m("f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if err := os.Remove(f.m("f")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fsetxattr(int(fd.Fd()), "user.k", []byte("v"), 0); err != nil {
		t.Fatalf("fsetxattr after unlink: %v", err)
	}
	buf := make([]byte, 8)
	n, err := unix.Fgetxattr(int(fd.Fd()), "user.k", buf)
	if err != nil || string(buf[:n]) != "v" {
		t.Fatalf("fgetxattr after unlink: %q %v", buf[:n], err)
	}
	if err := unix.Fremovexattr(int(fd.Fd()), "user.k"); err != nil {
		t.Fatalf("fremovexattr after unlink: %v", err)
	}
}

// TestXattrWhereLookupFound: while the kernel holds a lookup's reply, an
// xattr read goes to the branch that lookup found the file on; when the
// file has left that branch meanwhile, the search decides (the copy on the
// other branch), never an error.
func TestXattrWhereLookupFound(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], "f=x")
	layout(t, f.branches[1], "f=y")
	for i, v := range []string{"b0", "b1"} {
		if err := unix.Setxattr(f.b(i, "f"), "user.k", []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	f.mountInProcess(t, "cache.entry=60", "cache.attr=60")
	var st unix.Stat_t
	if err := unix.Lstat(f.m("f"), &st); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(f.m("f"), "user.k", buf); err != nil || string(buf[:n]) != "b0" {
		t.Fatalf("lgetxattr: %q %v, want b0 (ff)", buf[:n], err)
	}
	if err := os.Remove(f.b(0, "f")); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Lgetxattr(f.m("f"), "user.k", buf); err != nil || string(buf[:n]) != "b1" {
		t.Fatalf("lgetxattr after the first copy went: %q %v, want b1", buf[:n], err)
	}
}
