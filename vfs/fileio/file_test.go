package fileio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// creations are the two ways CopyFileAt makes its temp file.
var creations = []struct {
	name string
	opt  CopyOptions
}{{"tmpfile", CopyOptions{}}, {"named", CopyOptions{noTmpfile: true}}}

func TestCopyFileAt(t *testing.T) {
	sizes := []int{0, 1, 4095, 4096, 1<<20 + 3}
	opts := []struct {
		name string
		opt  CopyOptions
	}{
		{"plain", CopyOptions{}},
		{"sync+checksum", CopyOptions{Sync: true, Checksum: true}},
		{"verify+noreplace", CopyOptions{Verify: true, NoReplace: true}},
	}
	for _, fk := range fsKinds {
		t.Run("fs="+fk.name, func(t *testing.T) {
			srcDir, dstDir := fsPair(t, fk.cross)
			sfd, dfd := openDir(t, srcDir), openDir(t, dstDir)
			for _, size := range sizes {
				name := fmt.Sprint("f", size)
				writeFile(t, filepath.Join(srcDir, name), randBytes(size, uint64(size)+1))
				for _, cr := range creations {
					for _, o := range opts {
						t.Run(fmt.Sprintf("size=%d/%s/%s", size, cr.name, o.name), func(t *testing.T) {
							opt := o.opt
							opt.noTmpfile = cr.opt.noTmpfile
							dst := fmt.Sprintf("%s-%s-%s", name, cr.name, o.name)
							if err := CopyFileAt(sfd, name, dfd, dst, opt); err != nil {
								t.Fatalf("CopyFileAt(%s -> %s): %v", name, dst, err)
							}
							sameContent(t, filepath.Join(srcDir, name), filepath.Join(dstDir, dst))
							noTemps(t, dstDir)
						})
					}
				}
			}
		})
	}
}

func TestCopyFileAtSparse(t *testing.T) {
	for _, fk := range fsKinds {
		t.Run("fs="+fk.name, func(t *testing.T) {
			srcDir, dstDir := fsPair(t, fk.cross)
			want := makeSparse(t, filepath.Join(srcDir, "s"), 16<<20, 0, 9<<20)
			if err := CopyFileAt(openDir(t, srcDir), "s", openDir(t, dstDir), "s", CopyOptions{Checksum: true}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dstDir, "s"))
			if err != nil || string(got) != string(want) {
				t.Fatalf("sparse copy differs (err %v)", err)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(dstDir, "s"), &st); err != nil {
				t.Fatal(err)
			}
			if st.Blocks*512 > 1<<20 {
				t.Errorf("copy of a 16 MiB file with 8 KiB of data allocates %d bytes", st.Blocks*512)
			}
		})
	}
}

// setupMeta gives the file at path distinctive metadata: owner 65534:65534,
// mode 04751|sgid, user.* xattrs (one large), nanosecond times. It returns
// the xattrs set.
func setupMeta(t *testing.T, path string) map[string]string {
	t.Helper()
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(path, 06751); err != nil {
		t.Fatal(err)
	}
	xa := map[string]string{
		"user.a":      "1",
		"user.empty":  "",
		"user.large":  strings.Repeat("x", 3000),
		"trusted.mfs": "root only",
	}
	for k, v := range xa {
		if err := unix.Setxattr(path, k, []byte(v), 0); err != nil {
			t.Fatalf("setxattr %s %s: %v", path, k, err)
		}
	}
	ts := []unix.Timespec{{Sec: 1500000000, Nsec: 123456789}, {Sec: 1600000000, Nsec: 987654321}}
	if err := unix.UtimesNano(path, ts); err != nil {
		t.Fatal(err)
	}
	return xa
}

// checkMeta compares the metadata of got with want's.
func checkMeta(t *testing.T, want, got string, xa map[string]string) {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Lstat(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(got, &b); err != nil {
		t.Fatal(err)
	}
	if a.Mode != b.Mode {
		t.Errorf("mode %#o, want %#o", b.Mode, a.Mode)
	}
	if a.Uid != b.Uid || a.Gid != b.Gid {
		t.Errorf("owner %d:%d, want %d:%d", b.Uid, b.Gid, a.Uid, a.Gid)
	}
	if a.Mtim != b.Mtim {
		t.Errorf("mtime %v, want %v", b.Mtim, a.Mtim)
	}
	if a.Atim != b.Atim {
		t.Errorf("atime %v, want %v", b.Atim, a.Atim)
	}
	for k, v := range xa {
		buf := make([]byte, 8192)
		n, err := unix.Getxattr(got, k, buf)
		if err != nil || string(buf[:n]) != v {
			t.Errorf("xattr %s = %q, %v; want %d bytes", k, buf[:max(n, 0)], err, len(v))
		}
	}
}

func TestCopyFileAtMeta(t *testing.T) {
	for _, fk := range fsKinds {
		for _, cr := range creations {
			t.Run("fs="+fk.name+"/"+cr.name, func(t *testing.T) {
				srcDir, dstDir := fsPair(t, fk.cross)
				sp := filepath.Join(srcDir, "m")
				writeFile(t, sp, randBytes(10000, 5))
				xa := setupMeta(t, sp)
				if err := CopyFileAt(openDir(t, srcDir), "m", openDir(t, dstDir), "m", cr.opt); err != nil {
					t.Fatal(err)
				}
				checkMeta(t, sp, filepath.Join(dstDir, "m"), xa)
			})
		}
	}
}

func TestCopyMeta(t *testing.T) {
	for _, fk := range fsKinds {
		t.Run("fs="+fk.name, func(t *testing.T) {
			srcDir, dstDir := fsPair(t, fk.cross)
			sp, dp := filepath.Join(srcDir, "m"), filepath.Join(dstDir, "m")
			writeFile(t, sp, []byte("hello"))
			writeFile(t, dp, []byte("hello"))
			xa := setupMeta(t, sp)
			if err := CopyMeta(openFile(t, dp, unix.O_RDONLY), openFile(t, sp, unix.O_RDONLY)); err != nil {
				t.Fatal(err)
			}
			checkMeta(t, sp, dp, xa)
		})
	}
}

// requireFlags sets inode flags on fd or skips (fails with CI=true) when the
// filesystem or the caller's capabilities don't allow it.
func requireFlags(t *testing.T, fd int, flags uint32) {
	t.Helper()
	if err := setFlags(fd, flags); err != nil {
		if os.Getenv("CI") != "true" && ignorableFlags(err) {
			t.Skipf("needs FS_IOC_SETFLAGS %#x (CAP_LINUX_IMMUTABLE, ext4-like filesystem): %v", flags, err)
		}
		t.Fatalf("FS_IOC_SETFLAGS %#x: %v", flags, err)
	}
}

// TestCopyFileAtFlags: an immutable, nodump source gives an immutable,
// nodump copy (immutable applied after the rename, which it would forbid).
func TestCopyFileAtFlags(t *testing.T) {
	for _, cr := range creations {
		t.Run(cr.name, func(t *testing.T) {
			dir := t.TempDir()
			sp := filepath.Join(dir, "src")
			writeFile(t, sp, []byte("sealed"))
			unseal := func(p string) {
				if fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK, 0); err == nil {
					_ = setFlags(fd, 0)
					unix.Close(fd)
				}
			}
			t.Cleanup(func() { unseal(sp); unseal(filepath.Join(dir, "dst")) })
			fd := openFile(t, sp, unix.O_RDONLY)
			requireFlags(t, fd, flImmutable|flNoDump)
			dfd := openDir(t, dir)
			if err := CopyFileAt(dfd, "src", dfd, "dst", cr.opt); err != nil {
				t.Fatal(err)
			}
			got := openFile(t, filepath.Join(dir, "dst"), unix.O_RDONLY)
			f, err := getFlags(got)
			if err != nil {
				t.Fatal(err)
			}
			if f&(flImmutable|flNoDump) != flImmutable|flNoDump {
				t.Errorf("copy flags %#x, want immutable|nodump set", f)
			}
			noTemps(t, dir)
		})
	}
}

// TestCopyFileAtENOSPC: a 4 MiB copy into a 1 MiB tmpfs fails with ENOSPC,
// leaves no temp file and gives the space back.
func TestCopyFileAtENOSPC(t *testing.T) {
	srcDir := t.TempDir()
	writeFile(t, filepath.Join(srcDir, "big"), randBytes(4<<20, 9))
	small := requireMount(t, "1m")
	sfd, dfd := openDir(t, srcDir), openDir(t, small)
	var before unix.Statfs_t
	if err := unix.Fstatfs(dfd, &before); err != nil {
		t.Fatal(err)
	}
	for _, cr := range creations {
		t.Run(cr.name, func(t *testing.T) {
			err := CopyFileAt(sfd, "big", dfd, "big", cr.opt)
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("CopyFileAt into a full tmpfs: %v, want ENOSPC", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Op != "copy data" || ce.Src != "big" || ce.Dst != "big" {
				t.Errorf("error %#v, want *Error{Op: copy data, Src: big, Dst: big}", err)
			}
			if names := listDir(t, small); len(names) != 0 {
				t.Errorf("left behind: %q", names)
			}
			var after unix.Statfs_t
			if err := unix.Fstatfs(dfd, &after); err != nil {
				t.Fatal(err)
			}
			if after.Bfree != before.Bfree {
				t.Errorf("free blocks %d after the failed copy, %d before", after.Bfree, before.Bfree)
			}
		})
	}
}

func TestCopyFileAtReplace(t *testing.T) {
	for _, cr := range creations {
		t.Run(cr.name, func(t *testing.T) {
			dir := t.TempDir()
			fd := openDir(t, dir)
			writeFile(t, filepath.Join(dir, "src"), []byte("new"))
			writeFile(t, filepath.Join(dir, "dst"), []byte("old"))

			opt := cr.opt
			opt.NoReplace = true
			err := CopyFileAt(fd, "src", fd, "dst", opt)
			if !errors.Is(err, unix.EEXIST) {
				t.Errorf("NoReplace over an existing file: %v, want EEXIST", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "dst")); string(b) != "old" {
				t.Errorf("NoReplace changed dst to %q", b)
			}
			noTemps(t, dir)

			if err := CopyFileAt(fd, "src", fd, "fresh", opt); err != nil {
				t.Errorf("NoReplace to a new name: %v", err)
			}
			opt.NoReplace = false
			if err := CopyFileAt(fd, "src", fd, "dst", opt); err != nil {
				t.Fatalf("replace: %v", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "dst")); string(b) != "new" {
				t.Errorf("replace left dst = %q", b)
			}
			noTemps(t, dir)
		})
	}
}

// TestLinkNoReplace covers the NoReplace fallback for filesystems without
// RENAME_NOREPLACE.
func TestLinkNoReplace(t *testing.T) {
	dir := t.TempDir()
	fd := openDir(t, dir)
	writeFile(t, filepath.Join(dir, "tmp"), []byte("new"))
	writeFile(t, filepath.Join(dir, "dst"), []byte("old"))
	if err := linkNoReplace(fd, "tmp", "dst"); !errors.Is(err, unix.EEXIST) {
		t.Errorf("onto an existing name: %v, want EEXIST", err)
	}
	if err := linkNoReplace(fd, "tmp", "fresh"); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); strings.Join(got, ",") != "dst,fresh" {
		t.Errorf("directory holds %q, want dst, fresh", got)
	}
}

func TestCopyFileAtLongNames(t *testing.T) {
	names := []string{
		strings.Repeat("a", 255),
		strings.Repeat("é", 127), // 254 bytes of 2-byte runes
		strings.Repeat("€", 85),  // 255 bytes of 3-byte runes
		strings.Repeat("😀", 63),  // 252 bytes of 4-byte runes
		strings.Repeat("b", 233), // exactly fits the temp base
		strings.Repeat("c", 234), // one byte too many
	}
	for _, cr := range creations {
		t.Run(cr.name, func(t *testing.T) {
			dir := t.TempDir()
			fd := openDir(t, dir)
			for i, name := range names {
				writeFile(t, filepath.Join(dir, "src"), []byte(name))
				if err := CopyFileAt(fd, "src", fd, name, cr.opt); err != nil {
					t.Fatalf("name %d (%d bytes): %v", i, len(name), err)
				}
				if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != name {
					t.Errorf("name %d: read back %q, %v", i, b, err)
				}
			}
			noTemps(t, dir)
		})
	}
}

func TestCopyFileAtErrors(t *testing.T) {
	dir := t.TempDir()
	fd := openDir(t, dir)
	writeFile(t, filepath.Join(dir, "file"), []byte("x"))
	if err := os.Symlink("file", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		src, dst string
		op       string
		errno    unix.Errno
	}{
		{"missing", "out", "open source", unix.ENOENT},
		{"link", "out", "open source", unix.ELOOP},
		{"dir", "out", "check source", unix.EINVAL},
		{"fifo", "out", "check source", unix.EINVAL}, // and does not block
		{"file", "a/b", "check destination name", unix.EINVAL},
		{"file", "", "check destination name", unix.EINVAL},
		{"file", "..", "check destination name", unix.EINVAL},
		{"file", strings.Repeat("n", 256), "check destination name", unix.EINVAL},
	}
	for _, c := range cases {
		t.Run(c.src+"->"+c.dst[:min(len(c.dst), 8)], func(t *testing.T) {
			err := CopyFileAt(fd, c.src, fd, c.dst, CopyOptions{})
			var ce *Error
			if !errors.Is(err, c.errno) || !errors.As(err, &ce) || ce.Op != c.op {
				t.Errorf("CopyFileAt(%q, %q) = %v; want %s error with %v", c.src, c.dst, err, c.op, c.errno)
			}
		})
	}
	noTemps(t, dir)
	if _, err := os.Lstat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("failed copies created out: %v", err)
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(300000, 11)
	writeFile(t, filepath.Join(dir, "a"), data)
	bad := append([]byte(nil), data...)
	bad[200001] ^= 1
	writeFile(t, filepath.Join(dir, "b"), bad)
	writeFile(t, filepath.Join(dir, "c"), data[:1000])
	a := openFile(t, filepath.Join(dir, "a"), unix.O_RDONLY)
	var st unix.Stat_t
	if err := unix.Fstat(a, &st); err != nil {
		t.Fatal(err)
	}
	b := openFile(t, filepath.Join(dir, "b"), unix.O_RDONLY)
	if err := verify(b, a, &st, false); err != nil {
		t.Errorf("size-only verify of same-size files: %v", err)
	}
	if err := verify(b, a, &st, true); !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "200001") {
		t.Errorf("checksum verify of a flipped bit: %v, want ErrVerify at byte 200001", err)
	}
	c := openFile(t, filepath.Join(dir, "c"), unix.O_RDONLY)
	if err := verify(c, a, &st, false); !errors.Is(err, ErrVerify) {
		t.Errorf("verify of a short copy: %v, want ErrVerify", err)
	}
	changed := st
	changed.Mtim.Nsec++
	if err := verify(a, a, &changed, false); !errors.Is(err, ErrVerify) {
		t.Errorf("verify of a source that changed: %v, want ErrVerify", err)
	}
}

// TestCopyFileAtLinkWays covers each way of naming the O_TMPFILE copy:
// linkat AT_EMPTY_PATH, /proc/self/fd, and, when neither works (no /proc, no
// CAP_DAC_READ_SEARCH), redoing the copy with a named temp.
func TestCopyFileAtLinkWays(t *testing.T) {
	old, oldProc := tmpfileLink.Load(), procSelfFd
	t.Cleanup(func() { tmpfileLink.Store(old); procSelfFd = oldProc })
	for _, c := range []struct {
		name string
		way  int32
		proc string
	}{
		{"empty-path", linkUnknown, oldProc},
		{"proc", linkProc, oldProc},
		{"no-proc", linkProc, "/nonexistent/fd/"}, // link fails: redo named
		{"none", linkNone, oldProc},
	} {
		t.Run(c.name, func(t *testing.T) {
			procSelfFd = c.proc
			dir := t.TempDir()
			fd := openDir(t, dir)
			writeFile(t, filepath.Join(dir, "src"), []byte("payload"))
			for _, noReplace := range []bool{false, true} {
				tmpfileLink.Store(c.way)
				dst := fmt.Sprint("dst-", noReplace)
				if err := CopyFileAt(fd, "src", fd, dst, CopyOptions{NoReplace: noReplace}); err != nil {
					t.Fatal(err)
				}
				sameContent(t, filepath.Join(dir, "src"), filepath.Join(dir, dst))
			}
			noTemps(t, dir)
			if c.proc != oldProc && tmpfileLink.Load() != linkNone {
				t.Errorf("without /proc the O_TMPFILE path stays enabled (%d)", tmpfileLink.Load())
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Op: "copy data", Src: "a", Dst: "b", Err: unix.ENOSPC}
	if got, want := e.Error(), `fileio: copy data ("a" -> "b"): no space left on device`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
