package fusemode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// makeTree builds a small source tree for cp and rsync: nested directories,
// files of several sizes, a symlink and distinct modes and times.
func makeTree(t testing.TB, dir string, files int) {
	t.Helper()
	for i := 0; i < files; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%d/s%d/f%d", i%5, i%3, i))
		mkParent(t, p)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", i*37)), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			os.Chmod(p, 0o600)
		}
	}
	if err := os.Symlink("d0/s0/f0", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode()&os.ModeSymlink == 0 {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

func TestToolsThroughMount(t *testing.T) {
	f := newFixture(t, 3)
	layout(t, f.branches[0], "top=1", "shared/a=a")
	layout(t, f.branches[1], "shared/b=b", "shared/a=other")
	f.mountChild(t)

	line := strings.Fields(mountLine(f.mnt))
	if len(line) < 4 || line[2] != "fuse.mfs" || line[0] != "1:2:3" {
		t.Errorf("/proc/mounts: %v, want fsname 1:2:3 and type fuse.mfs", line)
	}
	if !strings.Contains(line[3], "default_permissions") || !strings.Contains(line[3], "allow_other") {
		t.Errorf("mount options %q lack default_permissions or allow_other", line[3])
	}

	t.Run("ls", func(t *testing.T) {
		out := run(t, "ls", "-la", f.m("shared"))
		for _, want := range []string{" a\n", " b\n", " .\n", " ..\n"} {
			if !strings.Contains(out+"\n", want) {
				t.Errorf("ls -la shared lacks %q:\n%s", want, out)
			}
		}
		out = run(t, "ls", "-la", f.mnt)
		if strings.Contains(out, ".mergerfs") {
			t.Errorf("ls lists the control file:\n%s", out)
		}
	})

	t.Run("cp", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "src")
		makeTree(t, src, 60)
		run(t, "cp", "-a", src, f.m("cp"))
		run(t, "diff", "-r", "--no-dereference", src, f.m("cp"))
	})

	t.Run("rsync", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "src")
		makeTree(t, src, 120)
		run(t, "rsync", "-a", src+"/", f.m("rs")+"/")
		run(t, "diff", "-r", "--no-dereference", src, f.m("rs"))
		// A second identical run must find nothing to do: sizes, modes
		// and times of files and directories all survived the pool.
		if out := run(t, "rsync", "-a", "-i", src+"/", f.m("rs")+"/"); strings.TrimSpace(out) != "" {
			t.Errorf("second rsync -a -i reports changes:\n%s", out)
		}
	})

	t.Run("getfattr", func(t *testing.T) {
		out := run(t, "getfattr", "--absolute-names", "-d", f.m(".mergerfs"))
		for _, want := range []string{`user.mergerfs.branches="`, `user.mergerfs.category.create="`, `user.mergerfs.version=`} {
			if !strings.Contains(out, want) {
				t.Errorf("getfattr -d .mergerfs lacks %s:\n%s", want, out)
			}
		}
		run(t, "setfattr", "-n", "user.mergerfs.category.create", "-v", "mfs", f.m(".mergerfs"))
		out = run(t, "getfattr", "--absolute-names", "--only-values", "-n", "user.mergerfs.category.create", f.m(".mergerfs"))
		if out != "mfs" {
			t.Errorf("category.create after setfattr: %q", out)
		}
		out = run(t, "getfattr", "--absolute-names", "--only-values", "-n", "user.mergerfs.allpaths", f.m("shared/a"))
		if want := f.b(0, "shared/a") + "\x00" + f.b(1, "shared/a"); strings.TrimSuffix(out, "\x00") != want {
			t.Errorf("allpaths: %q, want %q", out, want)
		}
		if _, err := runErr("setfattr", "-n", "user.mergerfs.nosuch", "-v", "1", f.m(".mergerfs")); err == nil {
			t.Errorf("setfattr of an unknown key succeeded")
		}
	})
}

// A shared mapping of a file on the mount: stores reach the branch file and
// read(2). Page faults on a FUSE mapping block the faulting thread with the
// mm lock held, so the mount must be served by another process.
func TestMmapThroughMount(t *testing.T) {
	for _, cache := range []string{"off", "partial", "auto-full"} {
		t.Run(cache, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f=0123456789")
			f.mountChild(t, "cache.files="+cache)
			fd, err := os.OpenFile(f.m("f"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer fd.Close()
			mem, err := unix.Mmap(int(fd.Fd()), 0, 10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err != nil {
				t.Fatalf("mmap: %v", err)
			}
			if string(mem) != "0123456789" {
				t.Errorf("mapped content %q", mem)
			}
			copy(mem[2:], "ab")
			if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
				t.Errorf("msync: %v", err)
			}
			unix.Munmap(mem)
			if got := readFile(t, f.b(0, "f")); got != "01ab456789" {
				t.Errorf("branch after msync: %q", got)
			}
			buf := make([]byte, 10)
			if _, err := fd.ReadAt(buf, 0); err != nil || string(buf) != "01ab456789" {
				t.Errorf("read after msync: %q %v", buf, err)
			}
		})
	}
}

func TestMountOptionsPassThrough(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], "f=x")
	f.mountChild(t, "ro", "noatime", "nosuid", "nodev", "noexec", "defaults", "nofail", "_netdev",
		"x-systemd.automount", "comment=fstab", "fsname=mypool", "allow_other")
	line := strings.Fields(mountLine(f.mnt))
	if len(line) < 4 || line[0] != "mypool" {
		t.Fatalf("/proc/mounts: %v", line)
	}
	opts := "," + line[3] + ","
	for _, want := range []string{",ro,", ",noatime,", ",nosuid,", ",nodev,", ",noexec,", ",allow_other,"} {
		if !strings.Contains(opts, want) {
			t.Errorf("mount options %s lack %s", line[3], want)
		}
	}
	if got := readFile(t, f.m("f")); got != "x" {
		t.Errorf("read on ro mount: %q", got)
	}
	err := os.WriteFile(f.m("new"), nil, 0o644)
	wantErrno(t, "create on a ro mount", err, unix.EROFS)
}

// runAs runs a shell command as uid/gid with the given supplementary groups
// and reports whether it succeeded.
func runAs(t testing.TB, uid, gid uint32, groups []uint32, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	cmd.Dir = "/"
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The caller's uid, gid, supplementary groups (from /proc/PID/status) and
// umask reach the branches, with and without the kernel's own permission
// checks (default_permissions).
func TestCallerIdentity(t *testing.T) {
	requireRoot(t)
	for _, kpc := range []string{"true", "false"} {
		t.Run("kernel-permissions-check="+kpc, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "shared/", "private/")
			os.Chown(f.b(0, "shared"), 0, 4242)
			os.Chmod(f.b(0, "shared"), 0o770)
			os.Chmod(f.b(0, "private"), 0o755)
			// The temp dirs above the mount point must be searchable by nobody.
			for d := f.mnt; d != "/"; d = filepath.Dir(d) {
				if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
					os.Chmod(d, st.Mode().Perm()|0o001)
				}
			}
			f.mountChild(t, "kernel-permissions-check="+kpc)

			out, err := runAs(t, 65534, 65534, []uint32{4242}, "umask 027 && touch "+f.m("shared/f")+" && mkdir "+f.m("shared/d"))
			if err != nil {
				t.Fatalf("as 65534 with group 4242: %v\n%s", err, out)
			}
			st := lstat(t, f.b(0, "shared/f"))
			if st.Uid != 65534 || st.Gid != 65534 || st.Mode&0o777 != 0o640 {
				t.Errorf("shared/f: uid %d gid %d mode %o, want 65534 65534 640", st.Uid, st.Gid, st.Mode&0o777)
			}
			if st := lstat(t, f.b(0, "shared/d")); st.Mode&0o777 != 0o750 {
				t.Errorf("shared/d: mode %o, want 750 (umask 027)", st.Mode&0o777)
			}
			// access(2): the kernel decides under default_permissions,
			// the ACCESS request (vfs, with the caller's groups) otherwise.
			if out, err := runAs(t, 65534, 65534, []uint32{4242}, "test -w "+f.m("shared")); err != nil {
				t.Errorf("access(W_OK) with group 4242: %v %s", err, out)
			}
			if _, err := runAs(t, 65534, 65534, nil, "test -w "+f.m("shared")); err == nil {
				t.Errorf("access(W_OK) without the group succeeded")
			}
			out, err = runAs(t, 65534, 65534, nil, "touch "+f.m("shared/g"))
			if err == nil || !strings.Contains(out, "ermission denied") {
				t.Errorf("as 65534 without the group: %v %s", err, out)
			}
			out, err = runAs(t, 65534, 65534, []uint32{4242}, "touch "+f.m("private/g"))
			if err == nil || !strings.Contains(out, "ermission denied") {
				t.Errorf("as 65534 in a root 0755 dir: %v %s", err, out)
			}
			if exists(f.b(0, "shared/g")) || exists(f.b(0, "private/g")) {
				t.Errorf("a denied create left a file behind")
			}
		})
	}
}

// Unit tests of the option plumbing (no mount).

func TestDefaultFSName(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"/mnt/disk1", "/mnt/disk2"}, "1:2"},
		{[]string{"/x/mt/a", "/x/mt/b"}, "a:b"},
		{[]string{"/srv/a"}, "/srv/a"},
		{[]string{"/tmp/a", "/tmp/ab"}, "/tmp/a:/tmp/ab"},
		{[]string{"/a/b", "/c/d"}, "a/b:c/d"},
		{nil, "mfs"},
	} {
		var bs []config.Branch
		for _, p := range tc.paths {
			bs = append(bs, config.Branch{Path: p})
		}
		if got := defaultFSName(bs); got != tc.want {
			t.Errorf("defaultFSName(%v) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}

func TestMountOptionsBuild(t *testing.T) {
	parse := func(items ...string) *config.Options {
		o, err := config.Parse(items)
		if err != nil {
			t.Fatal(err)
		}
		o.Branches = []config.Branch{{Path: "/d/b1"}, {Path: "/d/b2"}}
		return o
	}
	mo := mountOptions(parse("ro", "noatime", "nofail", "_netdev", "x-systemd.requires=a", "comment=x", "defaults", "auto", "user"), true)
	if want := []string{"ro", "noatime", "default_permissions"}; strings.Join(mo.Options, ",") != strings.Join(want, ",") {
		t.Errorf("Options = %v, want %v", mo.Options, want)
	}
	if !mo.AllowOther || mo.Name != "mfs" || mo.FsName != "1:2" {
		t.Errorf("AllowOther %v Name %q FsName %q", mo.AllowOther, mo.Name, mo.FsName)
	}
	mo = mountOptions(parse("kernel-permissions-check=false", "allow_other", "subtype=mergerfs", "fsname=pool"), false)
	if len(mo.Options) != 0 || !mo.AllowOther || mo.Name != "mergerfs" || mo.FsName != "pool" {
		t.Errorf("Options %v AllowOther %v Name %q FsName %q", mo.Options, mo.AllowOther, mo.Name, mo.FsName)
	}
	mo = mountOptions(parse("default_permissions"), false)
	if strings.Join(mo.Options, ",") != "default_permissions" || mo.AllowOther {
		t.Errorf("default_permissions given twice or allow_other as non-root: %v %v", mo.Options, mo.AllowOther)
	}
	mo = mountOptions(parse("cache.writeback=true", "export-support=true", "never-forget-nodes=true", "async-read=false"), true)
	if mo.RememberInodes || !mo.SyncRead || mo.DisabledCapabilities&fuse.CAP_PASSTHROUGH == 0 {
		t.Errorf("RememberInodes %v SyncRead %v Disabled %x", mo.RememberInodes, mo.SyncRead, mo.DisabledCapabilities)
	}
}

func TestParseGroupsLine(t *testing.T) {
	status := []byte("Name:\tsh\nUid:\t1\t1\t1\t1\nGroups:\t4 24 4242 \nNSpid:\t1\n")
	g, ok := parseGroupsLine(status)
	if !ok || fmt.Sprint(g) != "[4 24 4242]" {
		t.Errorf("groups %v %v", g, ok)
	}
	g, ok = parseGroupsLine([]byte("Name:\tx\nGroups:\t\nX:\t1\n"))
	if !ok || len(g) != 0 {
		t.Errorf("empty groups %v %v", g, ok)
	}
	if _, ok := parseGroupsLine([]byte("Name:\tx\n")); ok {
		t.Errorf("no Groups line parsed as ok")
	}
	// This process's own groups, through procGroups.
	mine, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := procGroups(uint32(os.Getpid()))
	if !ok || len(got) != len(mine) {
		t.Errorf("procGroups(self) = %v, want %v", got, mine)
	}
}

func TestDevEncoding(t *testing.T) {
	for _, d := range []uint64{unix.Mkdev(1, 3), unix.Mkdev(8, 17), unix.Mkdev(259, 0x12345), unix.Mkdev(4095, 255)} {
		if got := decodeDev(encodeDev(d)); got != d {
			t.Errorf("dev %x -> %x -> %x", d, encodeDev(d), got)
		}
	}
}

func TestErrnoMapping(t *testing.T) {
	r := newRawFS(nil, config.Default(), slog.New(slog.DiscardHandler))
	for _, tc := range []struct {
		op   string
		in   unix.Errno
		want int32
	}{
		{"lookup", 0, 0},
		{"lookup", unix.ENOENT, int32(unix.ENOENT)},
		{"access", unix.ENOSYS, int32(unix.EIO)},
		{"flush", unix.ENOSYS, int32(unix.EIO)},
		{"getxattr", unix.ENOSYS, int32(unix.ENOSYS)},
	} {
		if got := int32(r.reply(tc.op, tc.in)); got != tc.want {
			t.Errorf("reply(%s, %v) = %d, want %d", tc.op, tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		err  error
		want unix.Errno
	}{
		{nil, 0},
		{fmt.Errorf("wrapped: %w", unix.EXDEV), unix.EXDEV},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.ENOTDIR}, unix.ENOTDIR},
		{fmt.Errorf("x: %w", os.ErrNotExist), unix.ENOENT},
		{errors.New("strange"), unix.EIO},
	} {
		if got := r.errnoOf("op", tc.err); got != tc.want {
			t.Errorf("errnoOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Concurrent namespace and I/O traffic against a race-instrumented server
// (the child is this -race test binary): a data race in the server makes the
// child exit non-zero, which the fixture's cleanup reports.
func TestConcurrentTraffic(t *testing.T) {
	f := newFixture(t, 3)
	f.mountChild(t, "category.create=rand")
	const workers, rounds = 6, 40
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			errs <- func() error {
				dir := f.m(fmt.Sprintf("w%d", w))
				if err := os.Mkdir(dir, 0o755); err != nil {
					return err
				}
				for i := 0; i < rounds; i++ {
					p := filepath.Join(dir, fmt.Sprintf("f%d", i))
					data := []byte(strings.Repeat(string(rune('a'+w)), i+1))
					if err := os.WriteFile(p, data, 0o644); err != nil {
						return err
					}
					if err := os.Rename(p, p+".r"); err != nil {
						return err
					}
					got, err := os.ReadFile(p + ".r")
					if err != nil {
						return err
					}
					if string(got) != string(data) {
						return fmt.Errorf("%s: got %q", p, got)
					}
					if _, err := os.ReadDir(f.mnt); err != nil {
						return err
					}
					if i%2 == 0 {
						if err := os.Remove(p + ".r"); err != nil {
							return err
						}
					}
				}
				ents, err := os.ReadDir(dir)
				if err != nil {
					return err
				}
				if len(ents) != rounds/2 {
					return fmt.Errorf("%s: %d entries, want %d", dir, len(ents), rounds/2)
				}
				return nil
			}()
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
