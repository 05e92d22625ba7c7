package intercept

// Branch faults under `mfs run` (issue 7; the same cases through a FUSE
// mount are in cmd/mfs/faults_test.go): branches on size-limited tmpfs
// mounts that fill up, turn read-only or vanish while the workload runs.
// The workload is a shell script. Where the fault must strike in its
// middle, the script stops at a gate (two FIFOs in a plain directory
// outside the union, so the supervisor CONTINUEs their opens) while the
// test changes the mount in its own namespace, which is the one the
// supervisor resolves branches in. Every test requires the supervisor to
// survive the fault: the calls after it are answered, nothing is logged at
// warning level or above (faultRun), Run returns the workload's own exit
// status, and the branches hold exactly what the calls made.

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// requireMountPriv: these tests mount tmpfs branches, which needs root.
func requireMountPriv(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the branch-fault tests mount tmpfs branches and need root (CI=true: not skipping)")
	}
	t.Skip("needs root to mount tmpfs branches")
}

// testBranch describes one branch of a branchFixture.
type testBranch struct {
	tmpfs  string   // size of a tmpfs mounted on the branch ("" for a plain directory)
	leave  uint64   // with tmpfs: fill it (a file "filler") until this much is available
	own    string   // the branch's own minfreespace ("" for the global one)
	layout []string // entries made on it (see layout)
}

// branchFixture is a fixture whose branches (b1, b2, ...) are described by
// brs, with a pool made from opts (after minfreespace=0; the create policy
// is the default one unless opts set it).
func branchFixture(t *testing.T, brs []testBranch, opts ...string) *fixture {
	t.Helper()
	requireSeccompNotify(t)
	requireMountPriv(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	f := &fixture{dir: dir, target: filepath.Join(dir, "pool")}
	for i, b := range brs {
		p := filepath.Join(dir, "b"+strconv.Itoa(i+1))
		must(t, os.MkdirAll(p, 0o755))
		if b.tmpfs != "" {
			mountTmpfs(t, p, b.tmpfs)
		}
		layout(t, p, b.layout...)
		if b.leave > 0 {
			fillTo(t, p, b.leave)
		}
		f.branches = append(f.branches, p)
	}
	f.pool = f.newPool(t, brs, opts...)
	return f
}

// newPool makes another pool over the fixture's branches.
func (f *fixture) newPool(t *testing.T, brs []testBranch, opts ...string) *vfs.Pool {
	t.Helper()
	var spec []string
	for i, b := range brs {
		s := f.branches[i] + "=RW"
		if b.own != "" {
			s += "," + b.own
		}
		spec = append(spec, s)
	}
	o, err := config.Parse(append([]string{"branches=" + strings.Join(spec, ":"), "minfreespace=0"}, opts...))
	must(t, err)
	p, err := vfs.New(o, vfs.Settings{})
	must(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// mountTmpfs mounts a tmpfs of the given size at dir until the end of the
// test (a lazy unmount, which is harmless if the test unmounted it itself).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs branch at %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

func availOf(t *testing.T, dir string) uint64 {
	t.Helper()
	var st unix.Statfs_t
	must(t, unix.Statfs(dir, &st))
	return st.Bavail * uint64(st.Bsize)
}

// fillTo allocates a file "filler" in dir until leave bytes are available.
func fillTo(t *testing.T, dir string, leave uint64) {
	t.Helper()
	avail := availOf(t, dir)
	if avail <= leave {
		t.Fatalf("%s: only %d bytes available, want to leave %d", dir, avail, leave)
	}
	fd, err := unix.Open(filepath.Join(dir, "filler"), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	must(t, err)
	defer unix.Close(fd)
	must(t, unix.Fallocate(fd, 0, 0, int64(avail-leave)))
	if got := availOf(t, dir); got > leave || got+64<<10 < leave {
		t.Fatalf("%s: %d bytes available after filling, want about %d", dir, got, leave)
	}
}

// tree lists dir recursively: sorted relative names, directories with a
// trailing slash, "<missing>" if dir does not exist.
func tree(t *testing.T, dir string) string {
	t.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return "<missing>"
	}
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	must(t, err)
	sort.Strings(out)
	return strings.Join(out, " ")
}

func wantTree(t *testing.T, dir, want string) {
	t.Helper()
	if got := tree(t, dir); got != want {
		t.Errorf("%s holds [%s], want [%s]", filepath.Base(dir), got, want)
	}
}

func wantFile(t *testing.T, path, want string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Errorf("%s: %q %v, want %q", path, b, err, want)
	}
}

// matchLines requires out to have one line per pattern, each matching the
// whole line (regexp).
func matchLines(t *testing.T, out string, pats ...string) {
	t.Helper()
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	ok := len(got) == len(pats)
	for i := 0; ok && i < len(pats); i++ {
		ok = regexp.MustCompile("^(?:" + pats[i] + ")$").MatchString(got[i])
	}
	if !ok {
		t.Fatalf("output:\n%s\nwant lines matching:\n%s", out, strings.Join(pats, "\n"))
	}
}

// gate stops a workload in the middle: the script's `gate` writes "ready"
// to one FIFO and waits for a line on the other.
type gate struct {
	ready, resume string
	rfd, wfd      int
}

func newGate(t *testing.T) *gate {
	t.Helper()
	dir := t.TempDir()
	g := &gate{ready: filepath.Join(dir, "ready"), resume: filepath.Join(dir, "resume"), wfd: -1}
	must(t, unix.Mkfifo(g.ready, 0o600))
	must(t, unix.Mkfifo(g.resume, 0o600))
	// A reader that never blocks: the workload's open for writing does not
	// wait, and reads poll.
	fd, err := unix.Open(g.ready, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	must(t, err)
	g.rfd = fd
	t.Cleanup(func() {
		unix.Close(g.rfd)
		if g.wfd >= 0 {
			unix.Close(g.wfd)
		}
	})
	return g
}

// await waits for the workload to reach the gate.
func (g *gate) await(t *testing.T, a *asyncRun) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got []byte
	buf := make([]byte, 64)
	for !strings.Contains(string(got), "ready\n") {
		select {
		case <-a.done:
			t.Fatalf("the workload ended before the gate: code %d err %v\nstdout:\n%s\nstderr:\n%s", a.r.code, a.r.err, a.r.stdout, a.r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the workload never reached the gate")
		}
		if n, _ := unix.Read(g.rfd, buf); n > 0 {
			got = append(got, buf[:n]...)
			continue
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// open lets the workload through. An O_RDWR open of a FIFO never blocks;
// the fd stays open (until the test ends) so the line is there whenever the
// workload opens its end.
func (g *gate) open(t *testing.T) {
	t.Helper()
	if g.wfd >= 0 {
		return
	}
	fd, err := unix.Open(g.resume, unix.O_RDWR|unix.O_CLOEXEC, 0)
	must(t, err)
	g.wfd = fd
	if _, err := unix.Write(fd, []byte("go\n")); err != nil {
		t.Fatal(err)
	}
}

// asyncRun is a faultRun in the background.
type asyncRun struct {
	done chan struct{}
	r    runResult
}

// scriptEnv is the workload's environment: messages in English, $P the
// target, $B1... the branches, and a shell function `gate`.
func (f *fixture) scriptEnv(g *gate) []string {
	env := append(os.Environ(), "LC_ALL=C", "P="+f.target)
	for i, b := range f.branches {
		env = append(env, "B"+strconv.Itoa(i+1)+"="+b)
	}
	if g != nil {
		env = append(env, "READY="+g.ready, "RESUME="+g.resume)
	}
	return env
}

const gateFunc = `gate() { echo ready >"$READY" && read go <"$RESUME"; }
`

// startScript runs a shell script under the supervisor in the background.
// The test's cleanup opens the gate and waits for the run, so no workload
// outlives a failed test.
func (f *fixture) startScript(t *testing.T, g *gate, st *Stats, script string) *asyncRun {
	t.Helper()
	a := &asyncRun{done: make(chan struct{})}
	cfg := Config{Argv: []string{"sh", "-c", gateFunc + script}, Env: f.scriptEnv(g), Stats: st}
	go func() {
		defer close(a.done)
		a.r = f.faultRun(t, cfg)
	}()
	t.Cleanup(func() {
		if g != nil {
			g.open(t)
		}
		<-a.done
	})
	return a
}

// result waits for the run and requires exit status want; it returns
// stdout with the target spelled P and the branches B1, B2, ...
func (f *fixture) result(t *testing.T, a *asyncRun, want int) string {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(40 * time.Second):
		t.Fatal("the run did not end")
	}
	if a.r.err != nil || a.r.code != want {
		t.Fatalf("code %d (want %d) err %v\nstdout:\n%s\nstderr:\n%s", a.r.code, want, a.r.err, a.r.stdout, a.r.stderr)
	}
	return f.normalize(a.r.stdout)
}

func (f *fixture) normalize(s string) string {
	pairs := []string{f.target, "P"}
	for i, b := range f.branches {
		pairs = append(pairs, b, "B"+strconv.Itoa(i+1))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// script runs a shell script to its end and requires exit status want.
func (f *fixture) script(t *testing.T, want int, script string) string {
	t.Helper()
	a := f.startScript(t, nil, nil, script)
	return f.result(t, a, want)
}

// TestBranchFull: branch 1 is a 2 MiB tmpfs with 256 KiB left.
func TestBranchFull(t *testing.T) {
	// write: a file that outgrows branch 1 gets ENOSPC from write(2) itself
	// (dd: "error writing", not "failed to open"): the write runs natively
	// on the injected fd, so moveonenospc (on here) does not apply and no
	// copy or temp file appears on branch 2. The calls after it are
	// answered, and the run ends with the workload's status.
	t.Run("write", func(t *testing.T) {
		f := branchFixture(t, []testBranch{
			{tmpfs: "2m", leave: 256 << 10},
			{layout: []string{"keep=k"}},
		}, "category.create=ff", "moveonenospc=true")
		out := f.script(t, 7, `dd if=/dev/zero of="$P/big" bs=64k count=32 status=none 2>&1; echo dd=$?
stat -c 'big %s' "$P/big" && ls "$P" || exit 1
rm "$P/filler" && echo small >"$P/after" && cat "$P/after" && mkdir "$P/newdir" && ls "$P" && exit 7`)
		matchLines(t, out,
			`dd: error writing .P/big.: No space left on device`, `dd=1`,
			`big \d+`, `big`, `filler`, `keep`,
			`small`, `after`, `big`, `keep`, `newdir`)
		size, _ := strconv.Atoi(strings.Fields(strings.Split(out, "\n")[2])[1])
		if size <= 0 || size > 256<<10 {
			t.Errorf("big is %d bytes, want what fitted in 256 KiB", size)
		}
		wantTree(t, f.branches[0], "after big newdir/")
		wantTree(t, f.branches[1], "keep")
		if fi, err := os.Stat(filepath.Join(f.branches[0], "big")); err != nil || fi.Size() != int64(size) {
			t.Errorf("big on branch 1: %v %v, want %d bytes", fi, err, size)
		}
	})

	// minfreespace: branch 1 (8 MiB, 4 MiB left) has its own minfreespace
	// of 6 MiB; branch 2 (2 MiB) is above the global 1 MiB. Were branch 1
	// eligible, ff and mfs would pick it and pfrd (the default) would, two
	// times in three; every create (files, a directory, a file in it, a
	// symlink) lands on branch 2. With a global minfreespace above both,
	// creates fail with ENOSPC while existing files still open for writing.
	t.Run("minfreespace", func(t *testing.T) {
		brs := []testBranch{
			{tmpfs: "8m", leave: 4 << 20, own: "6M", layout: []string{"old1=1\n"}},
			{tmpfs: "2m", layout: []string{"old2=2\n"}},
		}
		f := branchFixture(t, brs)
		b1, b2 := f.branches[0], f.branches[1]
		var made []string
		for _, pol := range []string{"", "ff", "mfs"} {
			tag := pol
			opts := []string{"minfreespace=1M"}
			if pol == "" {
				tag = "default"
			} else {
				opts = append(opts, "category.create="+pol)
			}
			g := *f
			g.pool = f.newPool(t, brs, opts...)
			out := g.script(t, 7, `for i in 1 2 3 4 5 6; do echo $i >"$P/`+tag+`$i" || exit 1; done
mkdir "$P/`+tag+`d" && echo x >"$P/`+tag+`d/f" && ln -s `+tag+`1 "$P/`+tag+`s" && cat "$P/`+tag+`d/f" && exit 7`)
			if out != "x\n" {
				t.Errorf("%s: stdout %q", tag, out)
			}
			for i := 1; i <= 6; i++ {
				made = append(made, tag+strconv.Itoa(i))
			}
			made = append(made, tag+"d/", tag+"d/f", tag+"s")
		}
		wantTree(t, b1, "filler old1")
		want := append(made, "old2")
		sort.Strings(want)
		wantTree(t, b2, strings.Join(want, " "))

		for _, pol := range []string{"", "ff", "mfs"} {
			opts := []string{"minfreespace=16M"}
			if pol != "" {
				opts = append(opts, "category.create="+pol)
			}
			g := *f
			g.pool = f.newPool(t, brs, opts...)
			out := g.script(t, 7, `touch "$P/nope" 2>&1; mkdir "$P/nod" 2>&1; ln -s x "$P/nol" 2>&1
echo more >>"$P/old1" && cat "$P/old1" && exit 7`)
			matchLines(t, out,
				`touch: cannot touch .P/nope.: No space left on device`,
				`mkdir: cannot create directory .P/nod.: No space left on device`,
				`ln: failed to create symbolic link .P/nol.: No space left on device`,
				`1`, `more`)
			wantFile(t, filepath.Join(b1, "old1"), "1\nmore\n")
			os.WriteFile(filepath.Join(b1, "old1"), []byte("1\n"), 0o644)
		}
		wantTree(t, b1, "filler old1")
		wantTree(t, b2, strings.Join(want, " "))
	})
}

// remountRO remounts the filesystem at dir read-only. The kernel refuses
// (EBUSY) while a file on it is open for writing, and releases a closed
// file asynchronously.
func remountRO(t *testing.T, dir string) {
	t.Helper()
	var err error
	for i := 0; i < 200; i++ {
		if err = unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != unix.EBUSY {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal("remount read-only:", err)
	}
}

// TestBranchTurnsReadOnly: branch 1's tmpfs is remounted read-only while
// the workload waits at the gate (a remount changes the filesystem, so the
// workload's own mount namespace sees it too). New files and directories
// go to branch 2 (with cache.statfs the policy still sees branch 1 writable
// and the create is retried after EROFS; without, the policy skips it),
// even below a directory only branch 1 has; unlink, chmod and an open for
// writing of a file on branch 1 report EROFS; reads work, by name and
// through an fd opened before.
func TestBranchTurnsReadOnly(t *testing.T) {
	for _, ttl := range []string{"0", "3600"} {
		t.Run("cache.statfs="+ttl, func(t *testing.T) {
			f := branchFixture(t, []testBranch{
				{tmpfs: "8m", layout: []string{"before=b\n", "d/x=1\n"}},
				{layout: []string{"kept=k\n"}},
			}, "category.create=ff", "cache.statfs="+ttl)
			b1, b2 := f.branches[0], f.branches[1]
			g := newGate(t)
			a := f.startScript(t, g, nil, `exec 3<"$P/before" && echo w >"$P/during" && gate || exit 90
echo a >"$P/after" && mkdir "$P/newdir" && echo n >"$P/d/new" || exit 91
rm "$P/before" 2>&1; echo rm=$?
chmod 600 "$P/before" 2>&1; echo chmod=$?
{ echo w2 >>"$P/during"; } 2>&1; echo append=$?
cat "$P/before" "$P/d/x" "$P/during" "$P/after" "$P/d/new" && cat <&3 && ls "$P" && exit 7`)
			g.await(t, a)
			if _, err := os.Stat(filepath.Join(b1, "during")); err != nil {
				t.Fatal("ff did not use branch 1 while it was writable")
			}
			remountRO(t, b1)
			g.open(t)
			out := f.result(t, a, 7)
			matchLines(t, out,
				`rm: cannot remove .P/before.: Read-only file system`, `rm=1`,
				`chmod: changing permissions of .P/before.: Read-only file system`, `chmod=1`,
				`.*cannot create P/during: Read-only file system`, `append=[12]`,
				`b`, `1`, `w`, `a`, `n`, `b`,
				`after`, `before`, `d`, `during`, `kept`, `newdir`)
			wantTree(t, b1, "before d/ d/x during")
			wantTree(t, b2, "after d/ d/new kept newdir/")
			wantFile(t, filepath.Join(b1, "during"), "w\n")
			if fi, err := os.Stat(filepath.Join(b1, "before")); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("before on branch 1: %v %v, want mode 0644", fi, err)
			}
		})
	}
}

// mountShared reports whether the mount at dir propagates (a peer group):
// then the copy in the workload's mount namespace, a slave, follows an
// unmount.
func mountShared(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	must(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 6 && f[4] == dir {
			for _, opt := range f[6:] {
				if opt == "-" {
					break
				}
				if strings.HasPrefix(opt, "shared:") {
					return true
				}
			}
			return false
		}
	}
	t.Fatalf("%s is not a mount point", dir)
	return false
}

// TestBranchVanishes: branch 1 disappears while the workload waits at the
// gate: its tmpfs is lazily unmounted (the supervisor sees the mount point
// directory once it revalidates the branch root, within a second), or the
// plain directory is removed with everything in it (seen at once). The
// union keeps serving branch 2; what lived only on branch 1 gives ENOENT;
// listings show branch 2's entries alone; a create (epff) lands on branch
// 2; an fd opened before still reads (Linux keeps a detached or unlinked
// file alive); nothing hangs and the run ends with the workload's status.
// The workload's own mount namespace keeps its copy of a detached private
// mount (doc.go, Limits): the branch path itself, not through the union,
// still reaches the lost files there.
func TestBranchVanishes(t *testing.T) {
	for _, how := range []string{"unmount", "removed"} {
		t.Run(how, func(t *testing.T) {
			lost := testBranch{layout: []string{"lost=1\n", "d/l=1\n"}}
			if how == "unmount" {
				lost.tmpfs = "8m"
			}
			f := branchFixture(t, []testBranch{lost, {layout: []string{"kept=2\n", "d/k=2\n"}}}, "category.create=epff")
			b1, b2 := f.branches[0], f.branches[1]
			g := newGate(t)
			var st Stats
			a := f.startScript(t, g, &st, `exec 3<"$P/lost" && ls "$P" "$P/d" && gate || exit 90
cat "$P/lost" 2>&1; echo cat=$?
cat "$P/d/l" 2>&1; echo cat=$?
cat "$P/kept" "$P/d/k" && ls "$P" "$P/d" && cat <&3 || exit 91
echo new >"$P/d/new" && cat "$P/d/new" || exit 92
cat "$B1/lost" 2>&1; echo direct=$?
exit 7`)
			g.await(t, a)
			shared := false
			start := time.Now()
			if how == "unmount" {
				shared = mountShared(t, b1)
				must(t, unix.Unmount(b1, unix.MNT_DETACH))
				time.Sleep(1100 * time.Millisecond) // the branch root is revalidated within a second
			} else {
				must(t, os.RemoveAll(b1))
			}
			g.open(t)
			out := f.result(t, a, 7)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the run took %v after the loss", d)
			}
			direct := []string{`cat: B1/lost: No such file or directory`, `direct=1`}
			if how == "unmount" && st.PIDNamespace && !shared {
				direct = []string{`1`, `direct=0`}
			}
			matchLines(t, out, append([]string{
				`P:`, `d`, `kept`, `lost`, ``, `P/d:`, `k`, `l`,
				`cat: P/lost: No such file or directory`, `cat=1`,
				`cat: P/d/l: No such file or directory`, `cat=1`,
				`2`, `2`, `P:`, `d`, `kept`, ``, `P/d:`, `k`, `1`,
				`new`}, direct...)...)
			if how == "unmount" {
				wantTree(t, b1, "") // the mount point directory: nothing landed there
			} else {
				wantTree(t, b1, "<missing>")
			}
			wantTree(t, b2, "d/ d/k d/new kept")
		})
	}
}
