package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/fileio"
)

// helperEnv turns the test binary into a helper child (see TestMain).
const helperEnv = "MFS_TOOLS_HELPER"

// TestMain runs the helper children the tests re-exec:
//
//	MFS_TOOLS_HELPER=balance MFS_TOOLS_BRANCHES=a:b  plan and execute a balance
//
// A helper prints "start" on stdout before it executes, then runs to the
// end (or until the test kills it).
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "balance":
		p, err := FromBranches(os.Getenv("MFS_TOOLS_BRANCHES"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		pl, err := Balance(p, BalanceOptions{Percent: 1})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println("start")
		r := pl.Execute(context.Background(), ExecOptions{Verify: true})
		if len(r.Failed) > 0 {
			fmt.Fprintln(os.Stderr, r.Failed)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(3)
	}
}

// mustHaveRoot is the one gate of this package: the tests mount tmpfs
// filesystems (size-limited branches) and FUSE, which needs root. Without
// it they skip with the reason, or fail when CI=true.
func mustHaveRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			tb.Fatal("needs root (tmpfs and FUSE mounts); CI=true runs as root")
		}
		tb.Skip("needs root to mount tmpfs branches")
	}
}

// tmpfs mounts a tmpfs of size (mount(8) syntax, "16m") on a fresh
// directory and unmounts it in Cleanup.
func tmpfs(tb testing.TB, size string) string {
	tb.Helper()
	mustHaveRoot(tb)
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0755"); err != nil {
		tb.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			tb.Errorf("unmount tmpfs %s: %v (detached; something kept it busy)", dir, err)
		}
	})
	return dir
}

// requireMergerfs finds mergerfs and /dev/fuse: missing, the test fails
// under CI=true and is skipped otherwise.
func requireMergerfs(tb testing.TB) string {
	tb.Helper()
	mustHaveRoot(tb)
	bin, err := exec.LookPath("mergerfs")
	if err == nil {
		_, err = os.Stat("/dev/fuse")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("mergerfs is required under CI=true (make deps installs it): %v", err)
		}
		tb.Skipf("mergerfs or /dev/fuse missing: %v", err)
	}
	return bin
}

// mergerfsMount mounts mergerfs over branches (its list syntax) on a fresh
// directory with extra -o options, and unmounts it in Cleanup.
func mergerfsMount(tb testing.TB, branches string, opts ...string) string {
	tb.Helper()
	bin := requireMergerfs(tb)
	mnt := tb.TempDir()
	o := strings.Join(append([]string{"allow_other", "use_ino", "cache.files=off", "dropcacheonclose=true"}, opts...), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "-o", o, branches, mnt).CombinedOutput(); err != nil {
		tb.Fatalf("mergerfs -o %s %s %s: %v\n%s", o, branches, mnt, err, out)
	}
	tb.Cleanup(func() {
		var err error
		for i := 0; i < 50; i++ {
			if err = exec.Command("fusermount3", "-u", mnt).Run(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = unix.Unmount(mnt, unix.MNT_DETACH)
		tb.Errorf("unmount mergerfs %s: %v (detached)", mnt, err)
	})
	// Wait for the control file: the daemon serves requests shortly after
	// mergerfs returns.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := getxattr(filepath.Join(mnt, ControlFile), KeySrcMounts); err == nil {
			return mnt
		} else if time.Now().After(deadline) {
			tb.Fatalf("mergerfs on %s never served %s: %v", mnt, ControlFile, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spec is one file to create: path, size in bytes, mode; seed varies the
// contents.
type spec struct {
	rel  string
	size int
	mode os.FileMode
}

// mkfile creates root/rel with size pseudo-random bytes, mode, owner
// 1234:5678, an mtime in the past and a user xattr, so metadata
// preservation shows.
func mkfile(tb testing.TB, root, rel string, size int, mode os.FileMode) {
	tb.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	// A 64 KiB pseudo-random block, tiled: cheap under -race, and distinct
	// per path and size.
	r := rand.NewChaCha8([32]byte{byte(len(rel)), byte(size), byte(size >> 8), byte(size >> 16)})
	block := make([]byte, 64<<10)
	_, _ = r.Read(block)
	copy(block, rel)
	b := make([]byte, size)
	for i := 0; i < len(b); i += len(block) {
		copy(b[i:], block)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Lchown(p, 1234, 5678); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Setxattr(p, "user.test", []byte("x:"+rel), 0); err != nil {
		tb.Fatalf("setxattr %s: %v", p, err)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC).Add(time.Duration(size) * time.Second)
	if err := os.Chtimes(p, mt, mt); err != nil {
		tb.Fatal(err)
	}
}

// fstate is what a file must keep across a move.
type fstate struct {
	Branch int
	Sum    string
	Mode   os.FileMode
	Uid    uint32
	Gid    uint32
	Mtime  int64
	Xattr  string
	Ino    uint64 // only for grouping hard links, not compared
}

func (f fstate) same(g fstate) bool {
	return f.Sum == g.Sum && f.Mode == g.Mode && f.Uid == g.Uid && f.Gid == g.Gid && f.Mtime == g.Mtime && f.Xattr == g.Xattr
}

// poolFiles lists the regular files of every branch: rel -> its copies.
// Temp files and move markers are reported separately.
func poolFiles(tb testing.TB, branches []string) (files map[string][]fstate, temps, marks []string) {
	tb.Helper()
	files = map[string][]fstate{}
	for bi, root := range branches {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			if fileio.IsTempName(d.Name()) {
				temps = append(temps, p)
				return nil
			}
			if v, err := getxattrL(p, markAttr); err == nil {
				marks = append(marks, p+"="+v)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			x, _ := getxattrL(p, "user.test")
			files[rel] = append(files[rel], fstate{Branch: bi, Sum: hex.EncodeToString(sum[:8]),
				Mode: os.FileMode(st.Mode & 0o7777), Uid: st.Uid, Gid: st.Gid, Mtime: st.Mtim.Nano(), Xattr: x, Ino: st.Ino})
			return nil
		})
		if err != nil {
			tb.Fatalf("walk %s: %v", root, err)
		}
	}
	return files, temps, marks
}

func getxattrL(p, attr string) (string, error) {
	var buf [512]byte
	n, err := unix.Lgetxattr(p, attr, buf[:])
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// checkSameFiles fails unless after holds every file of before exactly
// once (on any branch) with the same contents and metadata, and nothing
// else.
func checkSameFiles(tb testing.TB, before, after map[string][]fstate) {
	tb.Helper()
	for rel, bs := range before {
		as := after[rel]
		if len(as) != 1 {
			tb.Errorf("%s: %d copies after, want exactly 1 (before: %d)", rel, len(as), len(bs))
			continue
		}
		if !bs[0].same(as[0]) {
			tb.Errorf("%s changed: before %+v, after %+v", rel, bs[0], as[0])
		}
	}
	for rel := range after {
		if _, ok := before[rel]; !ok {
			tb.Errorf("%s: appeared", rel)
		}
	}
}

// checkLinked fails unless every name of names is on the same branch with
// the same inode.
func checkLinked(tb testing.TB, files map[string][]fstate, names ...string) {
	tb.Helper()
	first := files[names[0]]
	if len(first) != 1 {
		tb.Fatalf("%s: %d copies", names[0], len(first))
	}
	for _, n := range names[1:] {
		c := files[n]
		if len(c) != 1 || c[0].Branch != first[0].Branch || c[0].Ino != first[0].Ino {
			tb.Errorf("hard link broken: %s %+v vs %s %+v", names[0], first, n, c)
		}
	}
}

// use returns df's Use% of dir.
func use(tb testing.TB, dir string) float64 {
	tb.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		tb.Fatal(err)
	}
	bs := uint64(fs.Frsize)
	return pct((fs.Blocks-fs.Bfree)*bs, fs.Bavail*bs)
}

// actionsJSON renders actions without their unexported planning state, for
// comparing a dry run's plan with a run's Done list.
func actionsJSON(tb testing.TB, as []Action) string {
	tb.Helper()
	if as == nil {
		as = []Action{}
	}
	b, err := json.MarshalIndent(as, "", " ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// run executes pl and fails on any failure or skip.
func run(tb testing.TB, pl *Plan, opt ExecOptions) *Result {
	tb.Helper()
	r := pl.Execute(context.Background(), opt)
	for _, f := range r.Failed {
		tb.Errorf("%s failed: %s", f.Action.String(), f.Error)
	}
	for _, s := range r.Skipped {
		tb.Errorf("%s skipped: %s", s.Path, s.Reason)
	}
	return r
}

// pool builds a Pool from branch paths.
func pool(tb testing.TB, branches ...string) *Pool {
	tb.Helper()
	// Test directories can contain '=' (subtest names): give every branch
	// an explicit mode so the path is taken whole.
	var els []string
	for _, b := range branches {
		if !strings.HasSuffix(b, "=RW") && !strings.HasSuffix(b, "=RO") && !strings.HasSuffix(b, "=NC") {
			b += "=RW"
		}
		els = append(els, b)
	}
	p, err := FromBranches(strings.Join(els, ":"))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
