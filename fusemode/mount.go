package fusemode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
)

// Settings are the parts of a mount that are not mergerfs options.
type Settings struct {
	// Logger receives warnings and, with Debug, one line per FUSE request;
	// nil discards them.
	Logger *slog.Logger
	// Debug traces every FUSE request and reply (go-fuse's wire log) at
	// debug level. config.Options.Debug turns it on too.
	Debug bool
}

// Server is a mounted pool.
type Server struct {
	srv        *fuse.Server
	loop       *requestLoop // nil: go-fuse's own loop serves (loop.go)
	fs         *rawFS
	mountpoint string
	done       chan struct{}

	mu        sync.Mutex
	unmounted bool
}

// Mount mounts pool at mountpoint and serves it in background goroutines. It
// returns once the kernel has answered INIT and the mount is usable. opts
// carries the mount-level options (cache.*, fsname, kernel-permissions-check,
// MountOpts, ...); nil means the pool's own options. An option that cannot be
// honoured makes Mount fail with an error naming it.
func Mount(pool *vfs.Pool, mountpoint string, opts *config.Options, set Settings) (*Server, error) {
	if pool == nil {
		return nil, errors.New("fusemode: no pool")
	}
	if opts == nil {
		opts = pool.Options()
	} else {
		opts = opts.Clone()
	}
	warnings, err := unsupported(opts)
	if err != nil {
		return nil, err
	}
	if err := passthroughMountCheck(opts, hasCapSysAdmin()); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, fmt.Errorf("fusemode: mountpoint %q: %w", mountpoint, err)
	}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, w := range warnings {
		log.Warn("fusemode: " + w)
	}
	if opts.LazyUmountMountpoint {
		// lazy-umount-mountpoint: detach whatever is mounted there first
		// (a stale pool from a crashed daemon); "not mounted" is fine.
		if err := unix.Unmount(abs, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			log.Warn("fusemode: lazy-umount-mountpoint", "mountpoint", abs, "err", err)
		}
	}
	if err := waitBranches(opts, abs, log); err != nil {
		return nil, fmt.Errorf("fusemode: %w", err)
	}
	tuneGC()
	fs := newRawFS(pool, opts, log)
	mo := mountOptions(opts, os.Geteuid() == 0)
	// go-fuse logs through a *log.Logger: its wire trace at debug level,
	// its own complaints as warnings.
	mo.Debug = set.Debug || opts.Debug
	level := slog.LevelWarn
	if mo.Debug {
		level = slog.LevelDebug
	}
	mo.Logger = slog.NewLogLogger(log.Handler(), level)
	rfs := fileSystem(fs, opts)
	own := os.Getenv("MFS_FUSE_LOOP") != "go-fuse"
	var before map[int]bool
	if own {
		mountMu.Lock()
		before = untakenFuseFds()
	}
	srv, err := fuse.NewServer(rfs, abs, mo)
	var loop *requestLoop
	if own {
		if err == nil {
			// The connection is mounted and INIT answered; go-fuse's
			// loop never runs (loop.go).
			var fd int
			if fd, err = fuseConnFd(before); err == nil {
				loop, err = newRequestLoop(rfs, mo, srv.KernelSettings(), fd, loopLogf(mo.Logger))
			}
			if err != nil {
				log.Warn("fusemode: serving with go-fuse's loop", "err", err)
				err = nil
			}
		}
		mountMu.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("fusemode: mount %s: %w", abs, err)
	}
	s := &Server{srv: srv, loop: loop, fs: fs, mountpoint: abs, done: make(chan struct{})}
	if loop != nil {
		loop.start()
		go func() {
			<-loop.done
			close(s.done)
		}()
	} else {
		go func() {
			srv.Serve()
			close(s.done)
		}()
	}
	if err := srv.WaitMount(); err != nil {
		s.Unmount()
		return nil, fmt.Errorf("fusemode: mount %s: %w", abs, err)
	}
	if err := passthroughKernelCheck(opts, srv.KernelSettings()); err != nil {
		s.Unmount()
		return nil, fmt.Errorf("fusemode: mount %s: %w", abs, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err == nil {
		go s.watchUnmount(st.Dev, unmountGrace)
	}
	return s, nil
}

// unmountGrace is how long the connection must stay idle, once the mount
// is gone from the server's own mount namespace, before the server ends it.
const unmountGrace = 2 * time.Second

// watchUnmount ends the FUSE connection of a mount that was unmounted in
// the server's own mount namespace but lives on as copies in other mount
// namespaces.
//
// The kernel ends a FUSE connection (readers get ENODEV, Serve returns) only
// when the last mount of its superblock goes. A process that creates a mount
// namespace (unshare -m, `mfs run`'s sandbox, systemd's PrivateTmp, a
// container) copies every mount of the moment, this one included; where
// the parent mount is private (no shared: peer group, as on a root mounted
// without shared propagation), a later fusermount3 -u does not propagate to
// those copies, so the daemon kept serving them, idle, until the last
// process of every such namespace exited: seconds to forever after the
// unmount (measured: 13 s after `fusermount3 -u`, the copies held by
// processes in another namespace while 20,000 files were created).
//
// So once no mount of this superblock (st_dev dev) is left in
// /proc/self/mountinfo, the server waits until no file or directory is open
// and no LOOKUP or GETATTR has arrived for grace, and then aborts the
// connection through fusectl (/sys/fs/fuse/connections/N/abort). A lazy
// unmount (umount -l) with files still open is not cut short: the handles
// keep the connection until they are released, and the kernel usually ends
// it itself then.
func (s *Server) watchUnmount(dev uint64, grace time.Duration) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	devField := fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
	buf := make([]byte, 0, 64<<10)
	mounted := func() bool {
		// mountinfo has to be read in one pass from the start; field 3 is
		// major:minor of the mount's superblock.
		if _, err := f.Seek(0, 0); err != nil {
			return true
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := f.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if n == 0 || err != nil {
				break
			}
		}
		for line := range strings.SplitSeq(string(buf), "\n") {
			fields := strings.SplitN(line, " ", 4)
			if len(fields) >= 3 && fields[2] == devField {
				return true
			}
		}
		return false
	}
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
	var goneSince time.Time
	var seen int64
	for {
		select {
		case <-s.done:
			return
		default:
		}
		// mountinfo reports POLLPRI|POLLERR when this namespace's mount
		// table changes, which wakes the loop early; the timeout paces it
		// otherwise.
		timeout := 1000 // ms: how soon the loop sees s.done
		if !goneSince.IsZero() {
			timeout = int(grace / 4 / time.Millisecond)
		}
		n, err := unix.Poll(fds, timeout)
		if err != nil && err != unix.EINTR {
			return
		}
		if goneSince.IsZero() {
			// Read mountinfo on every tick, not only when poll reports a
			// change: under load the change notification was seen to go
			// missing (the server then served a dead mount for as long as
			// the copies lived).
			if mounted() {
				continue
			}
			goneSince, seen = time.Now(), s.fs.activity()
			continue
		}
		if n > 0 && mounted() {
			// Mounted again under the same device (mount --move, a bind
			// mount back into this namespace).
			goneSince = time.Time{}
			continue
		}
		if a := s.fs.activity(); a != seen || s.fs.handles.count() > 0 {
			goneSince, seen = time.Now(), a
			continue
		}
		if time.Since(goneSince) < grace {
			continue
		}
		kdev := unix.Major(dev)<<20 | unix.Minor(dev)
		abort := fmt.Sprintf("/sys/fs/fuse/connections/%d/abort", kdev)
		if err := os.WriteFile(abort, []byte("1"), 0); err != nil {
			s.fs.log.Warn("fusemode: unmounted here but still mounted in another mount namespace; cannot end the connection",
				"mountpoint", s.mountpoint, "err", err)
			return
		}
		s.fs.log.Info("fusemode: unmounted here; ended the connection still held by mounts in other mount namespaces",
			"mountpoint", s.mountpoint)
		return
	}
}

// serverGCPercent is the GOGC a mount server runs with unless GOGC is set
// in its environment.
//
// The server's live heap is small and mostly fixed: go-fuse's request
// buffers (fuse_msg_size, 1 MiB each by default, one per reader goroutine)
// plus the node table (about 200-250 bytes per node the kernel holds). With
// Go's default GOGC=100 the heap grows to twice that before each collection,
// and the garbage of every request (paths, vfs results) fills the headroom,
// so the resident set settled at about 2x the live heap. GOGC=25 keeps the
// headroom at a quarter of it. Measured on `mfs bench`'s op loops (one
// 2-CPU VM, median of the runs in the report): anonymous RSS after 10,000
// create+close+unlink 12.1 MiB -> 7.3 MiB, after 3,000 listings of a
// 101-entry directory 12.4 MiB -> 6.3 MiB, with no change in time per call
// beyond the noise; the collections this adds are cheap because the big
// buffers hold no pointers.
const serverGCPercent = 25

var gcOnce sync.Once

func tuneGC() {
	gcOnce.Do(func() {
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(serverGCPercent)
		}
	})
}

// unsupported names the options this front end cannot honour: an error for
// those the user asked for, a warning for those it can only approximate. It
// also applies mergerfs's passthrough adjustments, in case the options did
// not pass through config.Options.Validate.
func unsupported(o *config.Options) (warnings []string, err error) {
	var errs []error
	if passthroughOn(o.PassthroughIO) {
		if o.CacheFiles == config.CacheFilesOff {
			// direct_io would override passthrough.
			o.CacheFiles = config.CacheFilesAutoFull
			warnings = append(warnings, "cache.files can not be off with passthrough.io; using cache.files=auto-full")
		}
		if o.CacheWriteback {
			// The kernel refuses passthrough on a writeback-cache mount.
			o.CacheWriteback = false
			warnings = append(warnings, "cache.writeback can not be used with passthrough.io; using cache.writeback=false")
		}
	}
	if explicit(o, "pin-threads") && o.PinThreads != config.PinThreadsNone {
		warnings = append(warnings, "pin-threads is ignored: mfs serves requests on goroutines, "+
			"which the Go scheduler moves between threads; there are no reader or processing threads to pin")
	}
	if explicit(o, "process-thread-queue-depth") {
		warnings = append(warnings, "process-thread-queue-depth is ignored: requests are not queued between "+
			"reader and processing threads; read-thread-count/process-thread-count bound the requests in flight")
	}
	return warnings, errors.Join(errs...)
}

func explicit(o *config.Options, key string) bool {
	return slices.Contains(o.ExplicitKeys(), key)
}

// Mountpoint returns the absolute mount point.
func (s *Server) Mountpoint() string { return s.mountpoint }

// Wait blocks until the mount is gone (Unmount, fusermount3 -u, umount) and
// every request has been answered.
func (s *Server) Wait() { <-s.done }

// Unmount unmounts the pool and waits for the serve loop to end. It fails
// (EBUSY) while files on the mount are open; the caller may then retry or
// detach the mount lazily. Calling it again after success is a no-op.
func (s *Server) Unmount() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unmounted {
		return nil
	}
	select {
	case <-s.done:
		// Unmounted from outside (fusermount3 -u, umount): nothing to do.
	default:
		unmount := s.srv.Unmount
		if s.loop != nil {
			// go-fuse's Unmount would wait for its loop, which never ran.
			unmount = func() error { return unmountPath(s.mountpoint) }
		}
		if err := unmount(); err != nil {
			select {
			case <-s.done:
			default:
				return fmt.Errorf("fusemode: unmount %s: %w", s.mountpoint, err)
			}
		}
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("fusemode: unmount %s: serve loop did not stop", s.mountpoint)
		}
	}
	s.unmounted = true
	s.fs.closeAll()
	return nil
}

// fstabOnly are mount(8)/fstab words that must not reach fusermount3 or the
// kernel (they would reject them).
var fstabOnly = map[string]bool{
	"defaults": true, "auto": true, "noauto": true, "user": true, "users": true,
	"nouser": true, "owner": true, "group": true, "nofail": true, "_netdev": true,
}

// mountOptions builds the go-fuse mount options from the pool options.
func mountOptions(o *config.Options, root bool) *fuse.MountOptions {
	mo := &fuse.MountOptions{
		FsName:        o.FSName,
		Name:          "mfs",
		AllowOther:    root,
		MaxBackground: 12,
		// Reads are answered from a buffer (pread); splicing that buffer
		// gains nothing and fails for 1 MiB replies (pipe-max-size).
		DisableSplice: true,
		SyncRead:      !o.AsyncRead,
		// never-forget-nodes lives in the node table (nodeTable.remember):
		// go-fuse's RememberInodes drops single FORGETs but passes
		// BATCH_FORGET through, and would keep unlinked nodes forever.
		EnableSymlinkCaching: o.CacheSymlinks,
		EnableAcl:            o.PosixACL,
		// passthrough.max-stack-depth: how many stacked filesystems a
		// backing file may sit on (go-fuse sends it with INIT).
		MaxStackDepth: max(o.PassthroughMaxStackDepth, 1),
		// O_TRUNC arrives with OPEN (one request instead of OPEN+SETATTR);
		// the mode arrives without the umask, so vfs can skip it under a
		// default ACL.
		//
		// READDIRPLUS_AUTO: the kernel asks READDIRPLUS (entries with
		// their lookups) for a listing's first batch and while the caller
		// stats what it lists, plain READDIR otherwise. Measured on a
		// 1,000-entry directory merged from 3 branches (doc.go): ls -l
		// 18-30% faster, plain ls about 1 ms slower; always-plus made
		// plain ls 3× slower.
		ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | fuse.CAP_DONT_MASK | fuse.CAP_READDIRPLUS_AUTO,
	}
	if mo.FsName == "" {
		mo.FsName = defaultFSName(o.Branches)
	}
	if explicit(o, "subtype") && o.Subtype != "" {
		mo.Name = o.Subtype
	}
	if !passthroughOn(o.PassthroughIO) {
		// go-fuse negotiates passthrough by default; it would make the
		// mount count as a stacked filesystem for nothing.
		mo.DisabledCapabilities |= fuse.CAP_PASSTHROUGH
	}
	if o.FuseMsgPages > 0 {
		mo.MaxWrite = int(o.FuseMsgPages) * os.Getpagesize()
	}
	if o.ExportSupport {
		mo.ExtraCapabilities |= fuse.CAP_EXPORT_SUPPORT
	}
	if o.DirectIOAllowMmap {
		mo.ExtraCapabilities |= fuse.CAP_DIRECT_IO_ALLOW_MMAP
	}
	if o.CacheWriteback {
		mo.ExtraCapabilities |= fuse.CAP_WRITEBACK_CACHE
	}
	haveDP := false
	for _, w := range o.MountOpts {
		key, _, _ := strings.Cut(w, "=")
		switch {
		case fstabOnly[w], strings.HasPrefix(w, "x-"), key == "comment":
			continue
		case w == "allow_other":
			mo.AllowOther = true
			continue
		case w == "default_permissions":
			haveDP = true
		}
		mo.Options = append(mo.Options, w)
	}
	if o.KernelPermissionsCheck && !haveDP {
		mo.Options = append(mo.Options, "default_permissions")
	}
	return mo
}

// defaultFSName is mergerfs's fsname: the branch paths with their longest
// common prefix (by bytes) removed, joined by ':'. When the first path is a
// prefix of all others (one branch, or /a and /ab) nothing is removed.
func defaultFSName(bs []config.Branch) string {
	paths := make([]string, len(bs))
	for i, b := range bs {
		paths[i] = b.Path
	}
	if len(paths) == 0 {
		return "mfs"
	}
	idx := 0
	first := paths[0]
scan:
	for n := 0; n < len(first); n++ {
		for _, p := range paths[1:] {
			if n >= len(p) || p[n] != first[n] {
				idx = n
				break scan
			}
		}
	}
	var b strings.Builder
	for i, p := range paths {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(p[idx:])
	}
	return b.String()
}
