package fusemode

import (
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// The request loop. go-fuse's Server reads /dev/fuse with blocking read(2)
// calls in at least two goroutines and starts another whenever none is left
// waiting: every request then hands the read over from one thread to another
// (a futex wake-up, a context switch), and the Go runtime's monitor thread
// wakes every 20 µs while a thread sits in a blocking call. On this class of
// VM a wake-up costs several microseconds of CPU and up to ~60 µs when it
// crosses CPUs: measured with a C loop of open+getdents+close on a 101-entry
// merged directory, the daemon made 8 context switches per iteration where
// mergerfs makes 4 (one per request).
//
// So mfs lets go-fuse mount and answer INIT (fuse.NewServer), never runs its
// loop, and serves the connection itself through go-fuse's ProtocolServer
// (the same request decoding and RawFileSystem calls):
//
//   - the descriptor (a dup of go-fuse's, O_NONBLOCK) sits in the Go
//     netpoller, so a goroutine waiting for a request holds no thread;
//   - one goroutine at a time holds the reader role and answers the request
//     it read itself, so a request costs one wake-up, as in mergerfs;
//   - more goroutines join when callers run concurrently (a read that found
//     a request of another thread already waiting starts another goroutine
//     if the role is free) or when no request has started for a tick while
//     one is in progress (the watchdog: a LOOKUP on a disk spinning up or a
//     hung NFS branch must not stall every other caller); a goroutine that
//     finds the role taken ends, so the pool shrinks back to one when the
//     load goes, and never to none: the holder always comes back for it.
//
// MFS_FUSE_LOOP=go-fuse in the daemon's environment runs go-fuse's own loop
// instead (for comparisons).

// loopTick is the watchdog's period: the longest a request waits behind one
// that is slow to answer before another goroutine starts reading.
const loopTick = 5 * time.Millisecond

// requestLoop serves one FUSE connection.
type requestLoop struct {
	ps      *fuse.ProtocolServer
	file    *os.File // our dup of the connection, non-blocking, in the netpoller
	fd      uintptr  // file's descriptor (file.Fd() would make it blocking)
	rc      syscall.RawConn
	inSize  int
	outSize int
	logf    func(format string, args ...any)

	reading atomic.Bool  // a goroutine holds the reader role (reads next)
	busy    atomic.Int32 // goroutines answering a request
	started atomic.Uint64
	parked  atomic.Bool // the watchdog sleeps until a request starts
	wake    chan struct{}
	bufs    chan *loopBufs

	mu    sync.Mutex
	live  int // goroutines serving; done closes when it drops to 0 after end
	ended bool
	done  chan struct{}
}

// maxPooledBufs is how many goroutines' buffers are kept for the next ones:
// a goroutine joining under concurrent load would otherwise map (and fault
// in) 2 MiB of fresh buffers each time. Beyond warmBufs kept sets, a set's
// pages are handed back to the kernel when it is pooled (MADV_DONTNEED), so
// a burst of concurrent large reads or writes does not stay resident.
const (
	maxPooledBufs = 32
	warmBufs      = 2
)

// loopBufs are one goroutine's request and reply buffers, in one anonymous
// mapping outside the Go heap (no pointers, pages releasable).
type loopBufs struct {
	mem     []byte
	in, out []byte
	inIov   [][]byte
	outIov  [][]byte

	// The state of one read, and the callback rc.Read calls, made once
	// per set: a closure per read cost four allocations per request.
	n, tries int
	errno    syscall.Errno
	readFn   func(fd uintptr) bool
}

// readOnce is rc.Read's callback: one read of a request into b.in; false
// (wait for the descriptor) when none is queued. A raw system call: the
// descriptor is non-blocking, and the runtime's bookkeeping for a blocking
// call (and the wake-up of its monitor thread that comes with it) buys
// nothing here.
func (b *loopBufs) readOnce(fd uintptr) bool {
	b.tries++
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b.in[0])), uintptr(len(b.in)))
	b.n, b.errno = int(r), e
	return e != syscall.EAGAIN
}

// opInit is FUSE_INIT's opcode.
const opInit = 26

// newRequestLoop takes over connection fd (mounted, INIT answered by
// go-fuse with init as the kernel's INIT) for fs. mo must be the options
// the Server was made with: the replayed INIT then negotiates the same
// flags go-fuse already sent to the kernel.
func newRequestLoop(fs fuse.RawFileSystem, mo *fuse.MountOptions, init *fuse.InitIn, fd int, logf func(string, ...any)) (*requestLoop, error) {
	own, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("dup of the /dev/fuse descriptor: %w", err)
	}
	// O_NONBLOCK is a flag of the open file description, shared with
	// go-fuse's descriptor: go-fuse only writes notifications and issues
	// ioctls on it, which O_NONBLOCK does not change.
	if err := unix.SetNonblock(own, true); err != nil {
		unix.Close(own)
		return nil, fmt.Errorf("O_NONBLOCK on /dev/fuse: %w", err)
	}
	// On failure go-fuse's own loop serves, with blocking reads: the
	// shared flag must be cleared again first.
	undo := func() {
		unix.SetNonblock(own, false)
	}
	f := os.NewFile(uintptr(own), "/dev/fuse")
	rc, err := f.SyscallConn()
	if err != nil {
		undo()
		f.Close()
		return nil, fmt.Errorf("/dev/fuse: %w", err)
	}
	l := &requestLoop{
		ps:   fuse.NewProtocolServer(fs, mo),
		file: f,
		fd:   uintptr(own),
		rc:   rc,
		logf: logf,
		wake: make(chan struct{}, 1),
		bufs: make(chan *loopBufs, maxPooledBufs),
		done: make(chan struct{}),
	}
	maxWrite, err := l.replayInit(init)
	if err != nil {
		undo()
		f.Close()
		return nil, err
	}
	// A request carries at most max_write bytes of data plus its headers;
	// SETXATTR values reach 64 KiB. Replies: READ and READDIR up to
	// max_write (max_pages), xattr values and lists up to 64 KiB.
	l.inSize = max(maxWrite, 64<<10) + 64<<10
	l.outSize = max(maxWrite, 64<<10) + 4<<10
	return l, nil
}

// replayInit hands the kernel's INIT to the protocol server, so it knows
// the protocol minor and the negotiated flags; the reply was already sent
// by go-fuse and this one is dropped. It returns the negotiated max_write.
func (l *requestLoop) replayInit(init *fuse.InitIn) (int, error) {
	in := *init
	in.Length = uint32(unsafe.Sizeof(in))
	in.Opcode = opInit
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&in)), unsafe.Sizeof(in))
	var out [4096]byte
	n, st := l.ps.HandleRequest([][]byte{raw}, [][]byte{out[:]})
	const hdr = int(unsafe.Sizeof(fuse.OutHeader{}))
	if !st.Ok() || n < hdr+int(unsafe.Sizeof(fuse.InitOut{})) {
		return 0, fmt.Errorf("replaying INIT: %v (%d bytes)", st, n)
	}
	if e := (*fuse.OutHeader)(unsafe.Pointer(&out[0])).Status; e != 0 {
		return 0, fmt.Errorf("replaying INIT: errno %d", -e)
	}
	return int((*fuse.InitOut)(unsafe.Pointer(&out[hdr])).MaxWrite), nil
}

// start serves the connection in the background; done is closed once it
// has ended (unmount, abort) and every goroutine has finished.
func (l *requestLoop) start() {
	l.spawn()
	go l.watchdog()
}

// spawn starts a serving goroutine unless the connection has ended.
func (l *requestLoop) spawn() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return
	}
	l.live++
	go l.serve()
}

// exit records the end of a serving goroutine; the connection has ended
// when it says so.
func (l *requestLoop) exit(ended bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ended && !l.ended {
		l.ended = true
		// Wake a parked watchdog, so it sees the end.
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	l.live--
	if l.ended && l.live == 0 {
		l.dropBufs()
		l.file.Close()
		close(l.done)
	}
}

func (l *requestLoop) getBufs() (*loopBufs, error) {
	select {
	case b := <-l.bufs:
		return b, nil
	default:
	}
	mem, err := unix.Mmap(-1, 0, l.inSize+l.outSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("request buffers: %w", err)
	}
	b := &loopBufs{mem: mem, in: mem[:l.inSize:l.inSize], out: mem[l.inSize:]}
	b.inIov = make([][]byte, 1)
	b.outIov = [][]byte{b.out}
	b.readFn = b.readOnce
	return b, nil
}

// putBufs pools b for the next goroutine, its pages released when warmBufs
// sets are pooled already; unmapped when the pool is full.
func (l *requestLoop) putBufs(b *loopBufs) {
	if len(l.bufs) >= warmBufs {
		unix.Madvise(b.mem, unix.MADV_DONTNEED)
	}
	select {
	case l.bufs <- b:
	default:
		unix.Munmap(b.mem)
	}
}

// dropBufs unmaps the pooled buffers once no goroutine serves any more.
func (l *requestLoop) dropBufs() {
	for {
		select {
		case b := <-l.bufs:
			unix.Munmap(b.mem)
		default:
			return
		}
	}
}

var errConnEnded = errors.New("FUSE connection ended")

// serve reads and answers requests until the connection ends or another
// goroutine holds the reader role.
func (l *requestLoop) serve() {
	var b *loopBufs
	for {
		var err error
		if b, err = l.getBufs(); err == nil {
			break
		}
		// No memory for buffers now: this goroutine may be the only
		// one, so wait rather than leave.
		l.logf("fusemode: %v", err)
		time.Sleep(loopTick)
	}
	var lastPid uint32 // caller of the previous request
	for {
		// One goroutine at a time holds the reader role; one that finds
		// it taken leaves. The holder always comes back for it after
		// answering, so the loop is never left without a reader. (A
		// counter of would-be readers was not enough: two goroutines
		// each counting the other's passing increment both left.)
		if !l.reading.CompareAndSwap(false, true) {
			l.putBufs(b)
			l.exit(false)
			return
		}
		n, queued, err := l.read(b)
		l.reading.Store(false)
		if err == errConnEnded {
			l.putBufs(b)
			l.exit(true)
			return
		}
		if err != nil {
			continue
		}
		pid := callerPid(b.in[:n])
		if queued && pid != 0 && lastPid != 0 && pid != lastPid && !l.reading.Load() {
			// A request of another thread was already waiting: callers
			// run concurrently. (A waiting request alone says little: a
			// single caller woken by the previous reply often asks again
			// before this goroutine is back at the descriptor, and
			// close(2) sends RELEASE without waiting for it.)
			l.spawn()
		}
		if pid != 0 {
			lastPid = pid
		}
		l.answer(b, n)
	}
}

// read reads one request. queued reports that it was already waiting (the
// first attempt found it).
func (l *requestLoop) read(b *loopBufs) (n int, queued bool, err error) {
	b.tries = 0
	cerr := l.rc.Read(b.readFn)
	n, errno := b.n, b.errno
	switch {
	case cerr != nil:
		return 0, false, errConnEnded
	case errno == 0:
		return n, b.tries == 1, nil
	case errno == syscall.EINTR, errno == syscall.ENOENT:
		// ENOENT: the request was interrupted before it was read.
		return 0, false, errno
	case errno == syscall.ENODEV:
		return 0, false, errConnEnded
	}
	// Nothing else is expected (EINVAL would mean a buffer too small for
	// the kernel's largest request); ending here would leave the mount
	// hanging, so say so and read on.
	l.logf("fusemode: reading /dev/fuse: %v", errno)
	time.Sleep(loopTick)
	return 0, false, errno
}

// errorReply writes a reply of errno to request req into out and returns
// its length, 0 when req is too short to answer.
func errorReply(req, out []byte, errno syscall.Errno) int {
	const hdr = int(unsafe.Sizeof(fuse.OutHeader{}))
	if len(req) < int(unsafe.Sizeof(fuse.InHeader{})) || len(out) < hdr {
		return 0
	}
	h := (*fuse.OutHeader)(unsafe.Pointer(&out[0]))
	*h = fuse.OutHeader{Length: uint32(hdr), Status: -int32(errno), Unique: (*fuse.InHeader)(unsafe.Pointer(&req[0])).Unique}
	return hdr
}

// callerPid is the thread id a request was made by (0 for the kernel's own
// requests: RELEASE after the last close, FORGET).
func callerPid(req []byte) uint32 {
	if len(req) < int(unsafe.Sizeof(fuse.InHeader{})) {
		return 0
	}
	return (*fuse.InHeader)(unsafe.Pointer(&req[0])).Pid
}

// answer handles one request and writes its reply.
func (l *requestLoop) answer(b *loopBufs, n int) {
	l.busy.Add(1)
	l.started.Add(1)
	if l.parked.Load() && l.parked.CompareAndSwap(true, false) {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	b.inIov[0] = b.in[:n]
	k, st := l.ps.HandleRequest(b.inIov, b.outIov)
	l.busy.Add(-1)
	if !st.Ok() {
		// The request could not be decoded or its reply not built:
		// answer EIO rather than leave the caller waiting forever.
		l.logf("fusemode: request of %d bytes: %v", n, st)
		if k = errorReply(b.in[:n], b.out, syscall.EIO); k == 0 {
			return
		}
	}
	if k == 0 {
		return // FORGET, INTERRUPT: no reply
	}
	for {
		_, _, e := syscall.RawSyscall(syscall.SYS_WRITE, l.fd, uintptr(unsafe.Pointer(&b.out[0])), uintptr(k))
		switch e {
		case 0, syscall.ENOENT, syscall.ENODEV:
			// ENOENT: the kernel dropped the request (interrupted);
			// ENODEV: unmounted meanwhile.
			return
		case syscall.EINTR:
			continue
		}
		l.logf("fusemode: writing a reply of %d bytes: %v", k, e)
		return
	}
}

// watchdog starts another reader when the reader role is free and no
// request has started for a whole tick: the ones in progress
// are slow (a spinning-up disk, a hung network branch, a big listing), and
// the callers behind them must not wait for them. It sleeps while the
// connection is idle.
func (l *requestLoop) watchdog() {
	t := time.NewTicker(loopTick)
	defer t.Stop()
	var last uint64
	idle := 0
	for {
		select {
		case <-t.C:
		case <-l.done:
			return
		}
		l.mu.Lock()
		ended := l.ended
		l.mu.Unlock()
		if ended {
			return
		}
		s := l.started.Load()
		switch {
		case l.busy.Load() == 0:
			idle++
			if idle >= 10 {
				// Idle for 10 ticks: sleep until a request starts.
				l.parked.Store(true)
				if l.busy.Load() == 0 {
					t.Stop()
					select {
					case <-l.wake:
					case <-l.done:
						return
					}
					t.Reset(loopTick)
				}
				l.parked.Store(false)
				idle = 0
			}
		case s == last && !l.reading.Load():
			l.spawn()
			idle = 0
		default:
			idle = 0
		}
		last = s
	}
}

// fuseConnFd finds the descriptor go-fuse opened for the mount just made:
// the /dev/fuse descriptor not taken over yet (takeover sets O_NONBLOCK on
// the open file description, which go-fuse's descriptor shares) that was
// not there before. Taken-over descriptors are told apart by that flag, not
// by number: a loop that just ended may have closed one whose number the new
// mount reused. Callers hold mountMu around the mount and both listings.
func fuseConnFd(before map[int]bool) (int, error) {
	var found []int
	for fd := range untakenFuseFds() {
		if !before[fd] {
			found = append(found, fd)
		}
	}
	if len(found) != 1 {
		return -1, fmt.Errorf("%d new /dev/fuse descriptors after mounting, want 1", len(found))
	}
	return found[0], nil
}

// mountMu serialises mounts made in this process, so fuseConnFd tells
// their descriptors apart.
var mountMu sync.Mutex

// fuseDevRdev is /dev/fuse's device number (misc 10, minor 229).
var fuseDevRdev = unix.Mkdev(10, 229)

// untakenFuseFds lists this process's descriptors open on /dev/fuse that
// no request loop has taken over.
func untakenFuseFds() map[int]bool {
	m := map[int]bool{}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return m
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, name := range names {
		var fd int
		if _, err := fmt.Sscan(name, &fd); err != nil || fd == int(d.Fd()) {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != fuseDevRdev {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_NONBLOCK == 0 {
			m[fd] = true
		}
	}
	return m
}

// loopLogf adapts a *log.Logger to requestLoop's logging.
func loopLogf(lg *log.Logger) func(string, ...any) {
	return func(format string, args ...any) { lg.Printf(format, args...) }
}

// unmountPath unmounts mountpoint as go-fuse's Server.Unmount does, for
// mounts served by requestLoop: umount2 when permitted, fusermount3 -u
// otherwise, a few tries while the kernel still counts closing files
// (EBUSY).
func unmountPath(mp string) error {
	var err error
	delay := time.Duration(0)
	for try := 0; try < 5; try++ {
		if err = unmountOnce(mp); err == nil {
			return nil
		}
		delay = 2*delay + 5*time.Millisecond
		time.Sleep(delay)
	}
	return err
}

func unmountOnce(mp string) error {
	err := unix.Unmount(mp, 0)
	if err == nil || (err != unix.EPERM && err != unix.EACCES) {
		return err
	}
	bin, lerr := exec.LookPath("fusermount3")
	if lerr != nil {
		if bin, lerr = exec.LookPath("fusermount"); lerr != nil {
			return fmt.Errorf("umount2: %w; no fusermount3 to ask instead", err)
		}
	}
	out, err := exec.Command(bin, "-u", mp).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -u: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// inPlace is a READ result already in the reply buffer go-fuse handed to
// Read. With go-fuse's ReadResultData, the ProtocolServer copies the data
// into the reply (readIntoIov), here onto itself: a memmove of every byte
// read. Readv (which the ProtocolServer prefers) sees that the data is
// already where it belongs.
type inPlace []byte

func (d inPlace) Bytes(buf []byte) ([]byte, fuse.Status) { return d, fuse.OK }
func (d inPlace) Size() int                              { return len(d) }
func (d inPlace) Done()                                  {}

// Readv copies d into dst unless it is there already.
func (d inPlace) Readv(dst [][]byte) (int, fuse.Status) {
	if len(d) == 0 {
		return 0, fuse.OK
	}
	if len(dst) > 0 && len(dst[0]) >= len(d) && &dst[0][0] == &d[0] {
		return len(d), fuse.OK
	}
	n := 0
	for _, b := range dst {
		n += copy(b, d[n:])
		if n == len(d) {
			break
		}
	}
	return n, fuse.OK
}
