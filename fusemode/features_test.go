package fusemode

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// read-thread-count and process-thread-count bound the requests the server
// holds at once: a LOOKUP that stalls keeps the others waiting in the
// kernel once the bound is reached. Without either option the request loop
// adds a goroutine for each request that stalls (its watchdog), unbounded.
func TestThreadCounts(t *testing.T) {
	for _, tc := range []struct {
		opts    []string
		min     int32
		max     int32
		explain string
	}{
		{[]string{"read-thread-count=1"}, 1, 1, "one thread reads and processes"},
		{[]string{"read-thread-count=3"}, 3, 3, "three threads"},
		{[]string{"read-thread-count=1", "process-thread-count=2"}, 2, 2, "two processing threads"},
		{nil, 5, 6, "no bound"},
	} {
		t.Run(strings.Join(append([]string{"opts"}, tc.opts...), ","), func(t *testing.T) {
			f := newFixture(t, 1)
			const n = 6
			for i := 0; i < n; i++ {
				layout(t, f.branches[0], fmt.Sprintf("d%d/f", i))
			}
			f.mountInProcess(t, tc.opts...)
			for i := 0; i < n; i++ {
				lstat(t, f.m(fmt.Sprintf("d%d", i))) // only the LOOKUPs of f stall
			}
			var cur, peak atomic.Int32
			hook := func(op string) {
				c := cur.Add(1)
				for {
					p := peak.Load()
					if c <= p || peak.CompareAndSwap(p, c) {
						break
					}
				}
				time.Sleep(100 * time.Millisecond)
				cur.Add(-1)
			}
			f.srv.fs.testHook.Store(&hook)
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var st unix.Stat_t
					if err := unix.Lstat(f.m(fmt.Sprintf("d%d/f", i)), &st); err != nil {
						t.Errorf("lstat: %v", err)
					}
				}()
			}
			wg.Wait()
			f.srv.fs.testHook.Store(nil)
			if p := peak.Load(); p < tc.min || p > tc.max {
				t.Errorf("%d LOOKUPs in flight at most, want %d..%d (%s)", p, tc.min, tc.max, tc.explain)
			}
		})
	}
}

func TestMaxInFlight(t *testing.T) {
	cpus := min(runtime.NumCPU(), 8)
	for _, tc := range []struct {
		opts []string
		want int
	}{
		{nil, 0},
		{[]string{"read-thread-count=0"}, cpus},
		{[]string{"threads=5"}, 5},
		{[]string{"read-thread-count=-100"}, 1},
		{[]string{"read-thread-count=2", "process-thread-count=4"}, 4},
		{[]string{"process-thread-count=3"}, 3},
		{[]string{"process-thread-count=0"}, cpus},
		{[]string{"read-thread-count=4", "process-thread-count=-1"}, 4},
	} {
		o, err := config.Parse(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := maxInFlight(o); got != tc.want {
			t.Errorf("%v: %d requests in flight, want %d", tc.opts, got, tc.want)
		}
	}
}

// branches-mount-timeout waits for every branch to look mounted; with
// branches-mount-timeout-fail the mount fails naming the branch that never
// did.
func TestBranchesMountTimeout(t *testing.T) {
	requireFUSE(t)
	requireRoot(t)
	mount := func(t *testing.T, f *fixture, opts ...string) (*Server, time.Duration, error) {
		o, pool, err := buildPool(helperArgs{Branches: f.branches, Mountpoint: f.mnt, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pool.Close() })
		start := time.Now()
		log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
		srv, err := Mount(pool, f.mnt, o, Settings{Logger: log})
		if srv != nil {
			t.Cleanup(func() {
				srv.Unmount()
				checkUnmounted(t, f.mnt)
			})
		}
		return srv, time.Since(start), err
	}

	t.Run("fail-names-branch", func(t *testing.T) {
		f := newFixture(t, 2)
		layout(t, f.branches[0], ".mergerfs.branch")
		_, took, err := mount(t, f, "branches-mount-timeout=1", "branches-mount-timeout-fail=true")
		if err == nil || !strings.Contains(err.Error(), f.branches[1]) || strings.Contains(err.Error(), f.branches[0]+":") {
			t.Errorf("Mount: %v, want an error naming %s only", err, f.branches[1])
		}
		if took < 900*time.Millisecond || took > 5*time.Second {
			t.Errorf("gave up after %v, want about 1s", took)
		}
		if isMounted(f.mnt) {
			forceUnmount(f.mnt)
			t.Error("a failed mount is mounted")
		}
	})

	t.Run("markers", func(t *testing.T) {
		f := newFixture(t, 2)
		layout(t, f.branches[0], ".mergerfs.branch")
		if err := unix.Setxattr(f.branches[1], "user.mergerfs.branch", nil, 0); err != nil {
			t.Fatalf("setxattr: %v", err)
		}
		_, took, err := mount(t, f, "branches-mount-timeout=5", "branches-mount-timeout-fail=true")
		if err != nil {
			t.Fatal(err)
		}
		if took > 2*time.Second {
			t.Errorf("marked branches waited %v", took)
		}
	})

	t.Run("mounted-while-waiting", func(t *testing.T) {
		f := newFixture(t, 1)
		// The empty mount point is marked as such; a tmpfs mounted on it
		// a moment later hides the marker and has its own st_dev.
		layout(t, f.branches[0], ".mergerfs.branch_mounts_here")
		if ok, _ := branchState(f.branches[0], lstat(t, f.mnt).Dev); ok {
			t.Fatal("a marked empty mount point looks mounted")
		}
		t.Cleanup(func() { unix.Unmount(f.branches[0], unix.MNT_DETACH) })
		go func() {
			time.Sleep(400 * time.Millisecond)
			if err := unix.Mount("tmpfs", f.branches[0], "tmpfs", 0, "size=1m"); err != nil {
				t.Errorf("mount tmpfs: %v", err)
			}
		}()
		_, took, err := mount(t, f, "branches-mount-timeout=5", "branches-mount-timeout-fail=true", "minfreespace=0")
		if err != nil {
			t.Fatal(err)
		}
		if took < 350*time.Millisecond || took > 3*time.Second {
			t.Errorf("mounted after %v, want shortly after the branch appeared", took)
		}
		if err := os.WriteFile(f.m("x"), []byte("on tmpfs"), 0o644); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no-fail-mounts-anyway", func(t *testing.T) {
		f := newFixture(t, 1)
		_, took, err := mount(t, f, "branches-mount-timeout=1")
		if err != nil {
			t.Fatalf("without -fail: %v", err)
		}
		if took < 900*time.Millisecond {
			t.Errorf("did not wait: %v", took)
		}
	})
}

// copy_file_range between two files of the mount runs on the branch fds:
// in the kernel within one branch filesystem, by read/write across two
// (EXDEV), stopping at the end of the source in both cases.
func TestCopyFileRange(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, 2)
	// Branch 1 is its own tmpfs: ext4 → tmpfs copies get EXDEV.
	if err := unix.Mount("tmpfs", f.branches[1], "tmpfs", 0, "size=8m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(f.branches[1], unix.MNT_DETACH) })
	src := bytes.Repeat([]byte("abcdefgh"), 100<<10) // 800 KiB
	if err := os.WriteFile(f.b(0, "src"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	layout(t, f.branches[0], "same=0123456789")
	layout(t, f.branches[1], "other=0123456789")
	f.mountInProcess(t)
	for _, dst := range []string{"same", "other"} {
		t.Run(dst, func(t *testing.T) {
			in, err := os.Open(f.m("src"))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			out, err := os.OpenFile(f.m(dst), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			before := f.srv.fs.stats.copies.Load()
			roff, woff := int64(3), int64(5)
			n, err := unix.CopyFileRange(int(in.Fd()), &roff, int(out.Fd()), &woff, 1000, 0)
			if err != nil || n != 1000 || roff != 1003 || woff != 1005 {
				t.Fatalf("copy_file_range: n=%d off %d/%d err %v", n, roff, woff, err)
			}
			// Past the end of the source: a short copy.
			roff, woff = int64(len(src)-10), 0
			n, err = unix.CopyFileRange(int(in.Fd()), &roff, int(out.Fd()), &woff, 100, 0)
			if err != nil || n != 10 {
				t.Errorf("copy at the end of the source: n=%d err %v, want 10", n, err)
			}
			if f.srv.fs.stats.copies.Load() == before {
				t.Error("the kernel did not send COPY_FILE_RANGE to the daemon")
			}
			branch := map[string]int{"same": 0, "other": 1}[dst]
			got, _ := os.ReadFile(f.b(branch, dst))
			want := append(append([]byte{}, src[len(src)-10:]...), src[8:1003]...)
			if !bytes.Equal(got[:1005], want) {
				t.Errorf("%s on its branch: %q..., want %q...", dst, got[:40], want[:40])
			}
		})
	}
}

const fsNodumpFl = 0x40 // FS_NODUMP_FL, chattr +d

// chattr and lsattr's ioctls reach the branch file; others answer ENOTTY.
func TestIoctlFlags(t *testing.T) {
	f := newFixture(t, 1)
	layout(t, f.branches[0], "f=x", "d/")
	f.mountInProcess(t)
	for _, name := range []string{"f", "d"} {
		fd, err := unix.Open(f.m(name), unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, fsNodumpFl); err != nil {
			t.Fatalf("%s: FS_IOC_SETFLAGS: %v", name, err)
		}
		got, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		if err != nil || got&fsNodumpFl == 0 {
			t.Errorf("%s: FS_IOC_GETFLAGS through the mount: %#x %v", name, got, err)
		}
		bfd, err := unix.Open(f.b(0, name), unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err = unix.IoctlGetUint32(bfd, unix.FS_IOC_GETFLAGS)
		unix.Close(bfd)
		if err != nil || got&fsNodumpFl == 0 {
			t.Errorf("%s: flags on the branch: %#x %v", name, got, err)
		}
	}
	fd, err := unix.Open(f.m("f"), unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	const btrfsIocSync = 0x9408 // _IO(0x94, 8)
	_, err = unix.IoctlGetInt(fd, btrfsIocSync)
	wantErrno(t, "btrfs ioctl", err, unix.ENOTTY)
	const fsIocGetversion = 0x80087601 // _IOR('v', 1, long)
	_, err = unix.IoctlGetUint32(fd, fsIocGetversion)
	wantErrno(t, "FS_IOC_GETVERSION", err, unix.ENOTTY)
}

// rename-exdev turns old into a symlink at new; the kernel's entry for new
// (moved there from old) is invalidated, so the symlink is seen at once,
// before cache.entry runs out.
func TestRenameExdevSeenAtOnce(t *testing.T) {
	f := newFixture(t, 2)
	const n = 20
	for i := 0; i < n; i++ {
		layout(t, f.branches[0], fmt.Sprintf("a%d=data%d", i, i))
	}
	layout(t, f.branches[1], "d/")
	f.mountInProcess(t, "category.create=epff", "rename-exdev=rel-symlink", "cache.entry=60", "cache.attr=60")
	for i := 0; i < n; i++ {
		old, new := f.m(fmt.Sprintf("a%d", i)), f.m(fmt.Sprintf("d/a%d", i))
		lstat(t, old) // cached entry
		if err := os.Rename(old, new); err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			target, err := os.Readlink(new)
			if want := fmt.Sprintf("../.mergerfs_rename_exdev/a%d", i); err != nil || target != want {
				t.Fatalf("readlink right after rename %d: %q %v, want %q", i, target, err, want)
			}
		case 1:
			if st := lstat(t, new); st.Mode&unix.S_IFMT != unix.S_IFLNK {
				t.Fatalf("lstat right after rename %d: mode %o, want a symlink", i, st.Mode)
			}
		case 2:
			fd, err := os.Open(new)
			if err != nil {
				t.Fatalf("open right after rename %d: %v", i, err)
			}
			b, _ := io.ReadAll(fd)
			fd.Close()
			if string(b) != fmt.Sprintf("data%d", i) {
				t.Fatalf("read right after rename %d: %q", i, b)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(f.branches[0], ".mergerfs_rename_exdev", "a0")); err != nil {
		t.Errorf("parked file: %v", err)
	}
}

// ls -l of a merged directory: READDIRPLUS hands the kernel each entry's
// lookup with the listing, so the stats that follow need (almost) no LOOKUP,
// and every lookup it counted is forgotten again: the node table empties
// after drop_caches.
func TestReaddirPlus(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, 3)
	const n = 300
	for i := 0; i < n; i++ {
		layout(t, f.branches[i%3], fmt.Sprintf("d/f%d=%d", i, i))
	}
	f.mountInProcess(t)
	// As ls -l does: stat the entries of each getdents batch before
	// reading the next (the kernel then keeps asking READDIRPLUS).
	before := f.srv.fs.stats.lookups.Load()
	lsLong(t, f, "d", n) // closes the directory: an open one pins its inode
	plus := f.srv.fs.stats.plusEntries.Load()
	lookups := f.srv.fs.stats.lookups.Load() - before
	t.Logf("%d entries came with READDIRPLUS, %d LOOKUPs followed for %d stats", plus, lookups, n)
	if plus < n/2 || lookups+plus < n {
		t.Errorf("READDIRPLUS gave %d entries and %d LOOKUPs followed for %d stats", plus, lookups, n)
	}
	if l := dropUntilForgotten(f, 10*time.Second); l > 0 {
		t.Errorf("%d lookups still counted after drop_caches: READDIRPLUS entries are miscounted", l)
	}
}

// ls -l run again while the kernel still caches what the first run looked
// up: READDIRPLUS does not stat those entries on the branches again (the
// lookups would only be thrown away), and every lstat is still answered
// (by the kernel's caches, or by a LOOKUP). With cache.attr=0 every entry
// is stat-ed.
func TestReaddirPlusSkipsFreshEntries(t *testing.T) {
	for _, tc := range []struct {
		opt       string
		wantFresh bool
	}{{"cache.attr=5", true}, {"cache.attr=0", false}} {
		t.Run(tc.opt, func(t *testing.T) {
			f := newFixture(t, 3)
			const n = 300
			for i := 0; i < n; i++ {
				layout(t, f.branches[i%3], fmt.Sprintf("d/f%d=%d", i, i))
			}
			f.mountInProcess(t, tc.opt, "cache.entry=5")
			lsl := func() { lsLong(t, f, "d", n) }
			lsl()
			// The first run taught plusHint that this directory is
			// stat-ed: the second's first batch comes as READDIRPLUS,
			// of names the first run looked up.
			before := f.srv.fs.stats.plusFresh.Load()
			lsl()
			fresh := f.srv.fs.stats.plusFresh.Load() - before
			t.Logf("%s: %d of %d entries not stat-ed again", tc.opt, fresh, n)
			if tc.wantFresh && fresh < 20 {
				t.Errorf("only %d of %d entries with a fresh kernel lookup were skipped", fresh, n)
			}
			if !tc.wantFresh && fresh != 0 {
				t.Errorf("%d entries skipped although the kernel caches no attributes", fresh)
			}
		})
	}
}

// lsLong lists directory rel of the mount as ls -l does — each getdents
// batch's entries lstat-ed before the next batch is read — and checks the
// sizes (file fN holds N) and the count.
func lsLong(t *testing.T, f *fixture, rel string, n int) {
	t.Helper()
	dir, err := os.Open(f.m(rel))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	seen := 0
	for {
		ents, err := dir.ReadDir(20)
		for _, e := range ents {
			seen++
			st := lstat(t, f.m(rel+"/"+e.Name()))
			if want := int64(len(strings.TrimPrefix(e.Name(), "f"))); st.Size != want {
				t.Errorf("%s: size %d, want %d", e.Name(), st.Size, want)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if seen != n {
		t.Errorf("listed %d entries, want %d", seen, n)
	}
}
