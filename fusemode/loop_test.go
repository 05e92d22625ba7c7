package fusemode

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// The request loop answers with one goroutine while requests come one at
// a time; a request that does not finish must not hold up the others: the
// watchdog starts another reader.
func TestLoopSlowRequestDoesNotStallOthers(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], "slow=x", "fast=y")
	f.mountInProcess(t)
	if f.srv.loop == nil {
		t.Fatal("mount is not served by mfs's request loop")
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	var first atomic.Bool
	hook := func(op string) {
		if op == "lookup" && first.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
	}
	f.srv.fs.testHook.Store(&hook)
	defer f.srv.fs.testHook.Store(nil)
	slowDone := make(chan error, 1)
	go func() {
		_, err := os.Stat(f.m("slow"))
		slowDone <- err
	}()
	<-entered
	fastDone := make(chan error, 1)
	go func() {
		_, err := os.Stat(f.m("fast"))
		fastDone <- err
	}()
	select {
	case err := <-fastDone:
		if err != nil {
			t.Errorf("stat while another LOOKUP hangs: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("a stat stayed stuck behind a LOOKUP that does not finish")
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Errorf("the slow stat: %v", err)
	}
}

// Callers that run concurrently are answered concurrently.
func TestLoopConcurrentCallers(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[1], numbered(8, "f%d=x")...)
	f.mountInProcess(t)
	peak := peakOf(f, "lookup", 30*time.Millisecond)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := os.Stat(f.m(fmt.Sprintf("f%d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak(); p < 2 {
		t.Errorf("8 concurrent lookups were answered one at a time (peak %d in flight)", p)
	}
}

// MFS_FUSE_LOOP=go-fuse serves with go-fuse's own loop (kept for
// comparisons); everything works the same.
func TestLoopGoFuseFallback(t *testing.T) {
	t.Setenv("MFS_FUSE_LOOP", "go-fuse")
	f := newFixture(t, 2)
	layout(t, f.branches[0], "d/a=1")
	layout(t, f.branches[1], "d/b=2")
	f.mountInProcess(t)
	if f.srv.loop != nil {
		t.Fatal("MFS_FUSE_LOOP=go-fuse: still served by mfs's loop")
	}
	names, err := readNames(f.m("d"))
	if err != nil || len(names) != 2 {
		t.Fatalf("listing through go-fuse's loop: %v, %v", names, err)
	}
	if got := readFile(t, f.m("d/b")); got != "2" {
		t.Errorf("read through go-fuse's loop: %q", got)
	}
}

// errorReply answers a request it cannot serve with the request's unique
// id, so the caller is not left waiting.
func TestErrorReply(t *testing.T) {
	req := make([]byte, 64)
	req[8] = 0x2a // Unique, little-endian
	out := make([]byte, 64)
	if n := errorReply(req, out, 5); n != 16 {
		t.Fatalf("reply length %d, want 16", n)
	}
	if out[0] != 16 || out[4] != 0xfb || out[8] != 0x2a {
		t.Errorf("reply header % x", out[:16])
	}
	if n := errorReply(req[:10], out, 5); n != 0 {
		t.Errorf("short request answered with %d bytes", n)
	}
}

// inPlace: data already in the reply buffer is not copied; elsewhere it is,
// across the vector.
func TestInPlaceReadv(t *testing.T) {
	buf := []byte("0123456789")
	d := inPlace(buf[:6])
	if n, st := d.Readv([][]byte{buf}); n != 6 || !st.Ok() {
		t.Fatalf("in place: %d %v", n, st)
	}
	a, b := make([]byte, 4), make([]byte, 4)
	if n, _ := d.Readv([][]byte{a, b}); n != 6 || string(a)+string(b[:2]) != "012345" {
		t.Fatalf("copied: %d %q %q", n, a, b)
	}
}

// A storm of short requests from many threads, joining and leaving the
// loop all the time, must never leave it without a reader (an earlier
// version lost its last goroutine when two of them each counted the
// other's passing attempt as a reader: every later request hung).
func TestLoopStormKeepsAReader(t *testing.T) {
	f := newFixture(t, 2)
	layout(t, f.branches[0], numbered(16, "d%d/f=x")...)
	f.mountInProcess(t, "cache.attr=0", "cache.entry=0", "cache.negative-entry=0")
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range 400 {
					if _, err := os.Stat(f.m(fmt.Sprintf("d%d/f", i))); err != nil {
						t.Error(err)
						return
					}
					if k%8 == 0 {
						if _, err := readNames(f.m(fmt.Sprintf("d%d", i))); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("requests stopped being answered during the storm")
	}
	if _, err := os.Stat(f.m("d0/f")); err != nil {
		t.Fatal(err)
	}
}

// Buffers pooled beyond the warm ones hold no pages: a burst of concurrent
// 1 MiB writes does not stay resident once it is over.
func TestLoopReleasesIdleBuffers(t *testing.T) {
	f := newFixture(t, 1)
	f.mountInProcess(t, "cache.files=off")
	peak := peakOf(f, "write", 20*time.Millisecond) // held writes: the watchdog adds goroutines
	var wg sync.WaitGroup
	block := make([]byte, 1<<20)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := os.WriteFile(f.m(fmt.Sprintf("big%d", i)), block, 0o644); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak(); p < 3 {
		t.Fatalf("only %d writes in flight at once; the test needs several goroutines", p)
	}
	l := f.srv.loop
	var sets []*loopBufs
	waitFor(t, "the loop to shrink back", func() bool {
		for {
			select {
			case b := <-l.bufs:
				sets = append(sets, b)
				continue
			default:
			}
			return len(sets) >= 3
		}
	})
	defer func() {
		for _, b := range sets {
			l.bufs <- b
		}
	}()
	released := 0
	for _, b := range sets {
		vec := make([]byte, (len(b.mem)+os.Getpagesize()-1)/os.Getpagesize())
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b.mem[0])), uintptr(len(b.mem)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			t.Fatal(e)
		}
		resident := 0
		for _, v := range vec {
			resident += int(v & 1)
		}
		if resident == 0 {
			released++
		}
	}
	if want := len(sets) - warmBufs; released < want {
		t.Errorf("%d of %d pooled buffer sets hold no pages, want at least %d", released, len(sets), want)
	}
}

// When taking the connection over fails, go-fuse's own loop serves it with
// blocking reads: the O_NONBLOCK set on the shared open file description
// must be gone again.
func TestRequestLoopFailureLeavesBlocking(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	var bad fuse.InitIn // major 0: the replayed INIT fails
	if _, err := newRequestLoop(fuse.NewDefaultRawFileSystem(), &fuse.MountOptions{}, &bad, p[0], t.Logf); err == nil {
		t.Fatal("a loop was made from a bad INIT")
	}
	fl, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_NONBLOCK != 0 {
		t.Error("the descriptor was left non-blocking")
	}
}

// The connection of a new mount is told apart from ones already taken over
// by the O_NONBLOCK a takeover sets, not by descriptor number: a number
// closed by a loop that just ended may come back for the new mount.
func TestConnFdIgnoresTakenDescriptors(t *testing.T) {
	requireFUSE(t)
	mountMu.Lock()
	defer mountMu.Unlock()
	before := untakenFuseFds()
	taken, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(taken)
	fresh, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fresh)
	if fd, err := fuseConnFd(before); err != nil || fd != fresh {
		t.Errorf("fuseConnFd = %d, %v; want the untaken %d", fd, err, fresh)
	}
	// Ambiguity is an error (the mount then falls back), never a guess.
	unix.SetNonblock(taken, false)
	if fd, err := fuseConnFd(before); err == nil {
		t.Errorf("two new untaken descriptors: fuseConnFd chose %d", fd)
	}
}

// numbered returns n layout entries, format filled with 0..n-1.
func numbered(n int, format string) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(format, i)
	}
	return names
}
