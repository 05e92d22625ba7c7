package fusemode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	srv, err := fuse.NewServer(fs, abs, mo)
	if err != nil {
		return nil, fmt.Errorf("fusemode: mount %s: %w", abs, err)
	}
	s := &Server{srv: srv, fs: fs, mountpoint: abs, done: make(chan struct{})}
	go func() {
		srv.Serve()
		close(s.done)
	}()
	if err := srv.WaitMount(); err != nil {
		s.Unmount()
		return nil, fmt.Errorf("fusemode: mount %s: %w", abs, err)
	}
	return s, nil
}

// unsupported names the options this front end cannot honour yet: an error
// for those the user asked for, a warning for defaults it cannot apply.
func unsupported(o *config.Options) (warnings []string, err error) {
	var errs []error
	if o.PassthroughIO != config.PassthroughOff {
		errs = append(errs, fmt.Errorf("passthrough.io=%s: kernel FUSE passthrough is not implemented by this build's mount front end; use passthrough.io=off", o.PassthroughIO))
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
		if err := s.srv.Unmount(); err != nil {
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
		// readdirplus would need a lookup count per listed entry; mergerfs
		// disables it as well.
		DisableReadDirPlus: true,
		// Reads are answered from a buffer (pread); splicing that buffer
		// gains nothing and fails for 1 MiB replies (pipe-max-size).
		DisableSplice: true,
		SyncRead:      !o.AsyncRead,
		// never-forget-nodes lives in the node table (nodeTable.remember):
		// go-fuse's RememberInodes drops single FORGETs but passes
		// BATCH_FORGET through, and would keep unlinked nodes forever.
		EnableSymlinkCaching: o.CacheSymlinks,
		EnableAcl:            o.PosixACL,
		// Passthrough only when we ask for it per open; go-fuse would
		// otherwise negotiate it by default.
		DisabledCapabilities: fuse.CAP_PASSTHROUGH,
		// O_TRUNC arrives with OPEN (one request instead of OPEN+SETATTR);
		// the mode arrives without the umask, so vfs can skip it under a
		// default ACL.
		ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | fuse.CAP_DONT_MASK,
	}
	if mo.FsName == "" {
		mo.FsName = defaultFSName(o.Branches)
	}
	if explicit(o, "subtype") && o.Subtype != "" {
		mo.Name = o.Subtype
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
