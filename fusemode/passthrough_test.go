package fusemode

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/fsx"
)

// requirePassthrough fails (under CI=true) or skips a test that needs kernel
// FUSE passthrough: root and a kernel that offers it.
func requirePassthrough(t testing.TB) {
	t.Helper()
	requireFUSE(t)
	requireRoot(t)
	if !kernelAtLeast(6, 9) {
		if os.Getenv("CI") == "true" {
			t.Fatal("FUSE passthrough needs Linux ≥ 6.9 (CI=true)")
		}
		t.Skip("FUSE passthrough needs Linux ≥ 6.9")
	}
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	for i, part := range strings.SplitN(unix.ByteSliceToString(u.Release[:]), ".", 3)[:2] {
		n := 0
		for _, c := range part {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if i == 0 {
			ma = n
		} else {
			mi = n
		}
	}
	return ma > major || ma == major && mi >= minor
}

// ioCounts returns the READ and WRITE requests the in-process server has
// served so far.
func (f *fixture) ioCounts() (reads, writes int64) {
	return f.srv.fs.stats.reads.Load(), f.srv.fs.stats.writes.Load()
}

// nodeOf returns the node the mount's name rel leads to (it must have been
// looked up).
func (f *fixture) nodeOf(t testing.TB, rel string) *node {
	t.Helper()
	tab := f.srv.fs.nodes
	tab.mu.RLock()
	defer tab.mu.RUnlock()
	n := tab.root
	for _, part := range strings.Split(rel, "/") {
		n = tab.byName[childKey{n.id, part}]
		if n == nil {
			t.Fatalf("no node for %s", rel)
		}
	}
	return n
}

// With passthrough.io=rw the kernel reads and writes the branch files
// itself: data lands where it should and the daemon sees no READ or WRITE.
func TestPassthroughIO(t *testing.T) {
	requirePassthrough(t)
	f := newFixture(t, 2)
	layout(t, f.branches[1], "r=read me through the kernel")
	f.mountInProcess(t, "passthrough.io=rw", "cache.files=off", "category.create=ff")
	if got := f.srv.fs.options().CacheFiles; got != config.CacheFilesAutoFull {
		t.Errorf("cache.files=%s with passthrough, want auto-full (direct_io would override passthrough)", got)
	}

	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	if err := os.WriteFile(f.m("w"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f.b(0, "w")); !bytes.Equal(got, data) {
		t.Errorf("branch copy of w: %d bytes, want %d", len(got), len(data))
	}
	if got, _ := os.ReadFile(f.m("w")); !bytes.Equal(got, data) {
		t.Errorf("w read back through the mount: %d bytes, differs", len(got))
	}
	if got := readFile(t, f.m("r")); got != "read me through the kernel" {
		t.Errorf("r: %q", got)
	}
	af, err := os.OpenFile(f.m("r"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := af.WriteString("!"); err != nil {
		t.Errorf("append: %v", err)
	}
	af.Close()
	if got := readFile(t, f.b(1, "r")); got != "read me through the kernel!" {
		t.Errorf("branch after append: %q", got)
	}
	if st := lstat(t, f.m("r")); st.Size != int64(len("read me through the kernel!")) {
		t.Errorf("size after a passthrough append: %d", st.Size)
	}
	if reads, writes := f.ioCounts(); reads != 0 || writes != 0 {
		t.Errorf("daemon served %d READ and %d WRITE requests; passthrough should have kept them all", reads, writes)
	}
	if f.srv.fs.stats.backingOpens.Load() == 0 {
		t.Error("no backing file was registered")
	}
}

// Two opens of one file at once share one backing file (the kernel allows
// one per inode); it is unregistered with the last close.
func TestPassthroughSharedBacking(t *testing.T) {
	requirePassthrough(t)
	f := newFixture(t, 1)
	layout(t, f.branches[0], "f=shared")
	f.mountInProcess(t, "passthrough.io=rw")
	before := f.srv.fs.stats.backingOpens.Load()
	var wg sync.WaitGroup
	files := make([]*os.File, 4)
	errs := make([]error, len(files))
	for i := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flag := os.O_RDONLY
			if i%2 == 1 {
				flag = os.O_RDWR
			}
			files[i], errs[i] = os.OpenFile(f.m("f"), flag, 0)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer files[i].Close()
	}
	n := f.nodeOf(t, "f")
	id, users := f.srv.fs.backingOf(n)
	if id == 0 || users != len(files) {
		t.Errorf("backing id %d used by %d handles, want one id for all %d", id, users, len(files))
	}
	if got := f.srv.fs.stats.backingOpens.Load() - before; got != 1 {
		t.Errorf("%d backing registrations for %d concurrent opens, want 1", got, len(files))
	}
	buf := make([]byte, 6)
	for i, fd := range files {
		if _, err := fd.ReadAt(buf, 0); err != nil || string(buf) != "shared" {
			t.Errorf("read through open %d: %q %v", i, buf, err)
		}
	}
	if _, err := files[1].WriteAt([]byte("SH"), 0); err != nil {
		t.Errorf("write through the shared backing: %v", err)
	}
	if _, err := files[0].ReadAt(buf, 0); err != nil || string(buf) != "SHared" {
		t.Errorf("another open sees %q %v after the write", buf, err)
	}
	for _, fd := range files {
		fd.Close()
	}
	// RELEASE is asynchronous: wait for the last one.
	waitFor(t, "the backing file to be released", func() bool {
		id, users := f.srv.fs.backingOf(n)
		return id == 0 && users == 0
	})
	if reads, writes := f.ioCounts(); reads != 0 || writes != 0 {
		t.Errorf("daemon served %d READ and %d WRITE requests", reads, writes)
	}
}

// ro and wo cover opens by access mode; an open of a node that is already
// open decides by what that node uses, since the kernel allows no mix.
func TestPassthroughModes(t *testing.T) {
	requirePassthrough(t)
	type step struct {
		flag      int
		keepOpen  bool
		wantDaemo bool // the daemon serves this open's I/O
	}
	for _, tc := range []struct {
		name, mode string
		steps      []step
	}{
		{"ro-read", "ro", []step{{os.O_RDONLY, false, false}}},
		{"ro-write", "ro", []step{{os.O_WRONLY, false, true}}},
		{"ro-rdwr", "ro", []step{{os.O_RDWR, false, true}}},
		{"wo-write", "wo", []step{{os.O_WRONLY, false, false}}},
		{"wo-read", "wo", []step{{os.O_RDONLY, false, true}}},
		{"rw-rdwr", "rw", []step{{os.O_RDWR, false, false}}},
		// A write open of a node open for passthrough reading shares it.
		{"ro-write-joins", "ro", []step{{os.O_RDONLY, true, false}, {os.O_WRONLY, false, false}}},
		// A read open of a node open for normal writing stays normal.
		{"ro-read-follows", "ro", []step{{os.O_WRONLY, true, true}, {os.O_RDONLY, false, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 1)
			layout(t, f.branches[0], "f=0123456789")
			f.mountInProcess(t, "passthrough.io="+tc.mode)
			for i, s := range tc.steps {
				fd, err := os.OpenFile(f.m("f"), s.flag, 0)
				if err != nil {
					t.Fatalf("step %d: open: %v", i, err)
				}
				if s.keepOpen {
					defer fd.Close()
				}
				r0, w0 := f.ioCounts()
				buf := make([]byte, 4)
				if s.flag != os.O_WRONLY {
					if _, err := fd.ReadAt(buf, 0); err != nil {
						t.Errorf("step %d: read: %v", i, err)
					}
				}
				if s.flag != os.O_RDONLY {
					if _, err := fd.WriteAt([]byte("ab"), 0); err != nil {
						t.Errorf("step %d: write: %v", i, err)
					}
				}
				r1, w1 := f.ioCounts()
				if daemon := r1 > r0 || w1 > w0; daemon != s.wantDaemo {
					t.Errorf("step %d (flags %#o): daemon served I/O: %v, want %v", i, s.flag, daemon, s.wantDaemo)
				}
				if !s.keepOpen {
					fd.Close()
				}
			}
		})
	}
}

// fsx-style integrity with passthrough (writes, reads, truncates, holes,
// mmap, copy_file_range, appends) through a separate server process.
func TestPassthroughFsx(t *testing.T) {
	requirePassthrough(t)
	f := newFixture(t, 2)
	f.mountChild(t, "passthrough.io=rw")
	res, err := fsx.Run(fsx.Config{Dir: f.mnt, Seed: 1, Ops: 2000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fsx: %d ops %v", res.Ops, res.Counts)
}

// The same integrity run without passthrough: the daemon serves all I/O,
// copy_file_range included.
func TestFsx(t *testing.T) {
	for _, cache := range []string{"off", "auto-full"} {
		t.Run(cache, func(t *testing.T) {
			f := newFixture(t, 2)
			f.mountChild(t, "cache.files="+cache)
			if _, err := fsx.Run(fsx.Config{Dir: f.mnt, Seed: 2, Ops: 1500}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A branch on a stacked filesystem (overlayfs) is deeper than the default
// passthrough.max-stack-depth=1: the kernel refuses its files as backing
// files, so opens fall back to normal I/O (logged once). With
// passthrough.max-stack-depth=2 they pass through.
func TestPassthroughStackDepth(t *testing.T) {
	requirePassthrough(t)
	for _, tc := range []struct {
		depth      string
		wantDaemon bool
	}{{"1", true}, {"2", false}} {
		t.Run("depth="+tc.depth, func(t *testing.T) {
			f := newFixture(t, 1)
			ovl := t.TempDir()
			for _, d := range []string{"lower", "upper", "work", "merged"} {
				if err := os.Mkdir(filepath.Join(ovl, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			layout(t, filepath.Join(ovl, "lower"), "f=on overlay")
			opts := "lowerdir=" + filepath.Join(ovl, "lower") + ",upperdir=" + filepath.Join(ovl, "upper") +
				",workdir=" + filepath.Join(ovl, "work")
			merged := filepath.Join(ovl, "merged")
			if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
				t.Fatalf("mount overlay: %v", err)
			}
			t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
			f.branches[0] = merged
			f.mountInProcess(t, "passthrough.io=rw", "passthrough.max-stack-depth="+tc.depth)
			for i := 0; i < 2; i++ {
				if got := readFile(t, f.m("f")); got != "on overlay" {
					t.Errorf("read: %q", got)
				}
			}
			reads, _ := f.ioCounts()
			if daemon := reads > 0; daemon != tc.wantDaemon {
				t.Errorf("daemon served READ: %v, want %v", daemon, tc.wantDaemon)
			}
			f.srv.fs.backings.mu.Lock()
			logged := len(f.srv.fs.backings.warned)
			f.srv.fs.backings.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[tc.wantDaemon]; logged != want {
				t.Errorf("%d refusals logged, want %d (once per branch and errno)", logged, want)
			}
		})
	}
}

// The conditions that make passthrough impossible for a whole mount fail it
// with the reason.
func TestPassthroughRefusals(t *testing.T) {
	o := &config.Options{PassthroughIO: config.PassthroughRO}
	if err := passthroughMountCheck(o, false); err == nil || !strings.Contains(err.Error(), "CAP_SYS_ADMIN") ||
		!strings.Contains(err.Error(), "passthrough.io=ro") {
		t.Errorf("without CAP_SYS_ADMIN: %v", err)
	}
	if err := passthroughMountCheck(o, true); err != nil {
		t.Errorf("with CAP_SYS_ADMIN: %v", err)
	}
	old := &fuse.InitIn{Major: 7, Minor: 38}
	if err := passthroughKernelCheck(o, old); err == nil || !strings.Contains(err.Error(), "Linux 6.9") {
		t.Errorf("kernel without FUSE_PASSTHROUGH: %v", err)
	}
	if err := passthroughKernelCheck(&config.Options{PassthroughIO: config.PassthroughOff}, old); err != nil {
		t.Errorf("passthrough.io=off on any kernel: %v", err)
	}
	if os.Geteuid() == 0 && !hasCapSysAdmin() {
		t.Error("hasCapSysAdmin is false for root")
	}
	for _, c := range []struct {
		mode  config.PassthroughIO
		flags uint32
		want  bool
	}{
		{config.PassthroughRO, unix.O_RDONLY, true}, {config.PassthroughRO, unix.O_WRONLY, false},
		{config.PassthroughRO, unix.O_RDWR, false}, {config.PassthroughWO, unix.O_WRONLY, true},
		{config.PassthroughWO, unix.O_RDONLY, false}, {config.PassthroughWO, unix.O_RDWR, false},
		{config.PassthroughRW, unix.O_RDWR, true}, {config.PassthroughRW, unix.O_RDONLY | unix.O_APPEND, true},
	} {
		if got := covers(c.mode, c.flags); got != c.want {
			t.Errorf("covers(%s, %#o) = %v, want %v", c.mode, c.flags, got, c.want)
		}
	}
}
