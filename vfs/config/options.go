package config

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/policy"
)

// Options is the typed configuration of one pool. Build it with Default or
// Parse. It is a plain value with no internal locking: see the package
// documentation for how vfs shares it between goroutines.
type Options struct {
	Branches []Branch
	// Notices are the branch paths skipped while the branch list was set,
	// because they name no directory (mergerfs skips them with a warning);
	// Validate returns them with its warnings.
	Notices      []string
	Mountpoint   string
	ConfigFile   string // the last config file applied successfully
	MinFreeSpace uint64 // bytes
	MoveOnENOSPC MoveOnENOSPC

	// Func holds the policy name of every function (func.<name>); the
	// category.* options write all functions of their category.
	Func    [policy.NumFuncs]string
	Readdir Readdir

	InodeCalc                InodeCalc
	DropCacheOnClose         bool
	DirectIOAllowMmap        bool
	Symlinkify               bool
	SymlinkifyTimeout        time.Duration
	NullRW                   bool
	IgnorePPOnRename         bool
	LazyUmountMountpoint     bool
	BranchesMountTimeout     time.Duration
	BranchesMountTimeoutFail bool
	ExportSupport            bool
	KernelPermissionsCheck   bool
	SecurityCapability       bool
	XAttr                    XAttr
	LinkCOW                  bool
	StatFS                   StatFS
	StatFSIgnore             StatFSIgnore
	NFSOpenHack              NFSOpenHack
	FollowSymlinks           FollowSymlinks
	LinkEXDEV                LinkEXDEV
	RenameEXDEV              RenameEXDEV
	ReadaheadKiB             uint64
	PosixACL                 bool
	AsyncRead                bool
	FuseMsgPages             uint64 // fuse-msg-size in pages
	ReadThreadCount          int
	ProcessThreadCount       int
	ProcessThreadQueueDepth  int
	PinThreads               PinThreads
	FlushOnClose             FlushOnClose
	SchedulingPriority       int
	ProxyIOPrio              bool
	FSName                   string // "" = derive from the branches
	Subtype                  string

	CacheAttr              time.Duration
	CacheEntry             time.Duration
	CacheNegativeEntry     time.Duration
	CacheStatfs            time.Duration
	CacheFiles             CacheFiles
	CacheFilesProcessNames []string
	CacheWriteback         bool
	CacheSymlinks          bool
	CacheReaddir           bool

	ParallelDirectWrites     bool
	PassthroughIO            PassthroughIO
	PassthroughMaxStackDepth int
	NeverForgetNodes         bool
	AllowIdmap               bool
	HandleKillpriv           bool
	HandleKillprivV2         bool
	Debug                    bool
	LogFile                  string // "" = stderr

	UID, GID int64 // -1 = not overridden
	Umask    int64 // -1 = not overridden

	// PID and Version are reported by the control file; the caller fills them in.
	PID     int
	Version string

	// MountOpts collects, in order, the -o items passed through to mount(8)
	// or the kernel (allow_other, noatime, nofail, x-systemd.*, ...).
	MountOpts []string

	legacy   legacyCache
	explicit map[string]bool // canonical names set by Parse or Set
}

// Default returns the mergerfs 2.42 defaults. Every default comes from the
// option table's Default column, applied through the same parsers as user
// input.
func Default() *Options {
	o := &Options{}
	for i := range table {
		e := &table[i]
		if e.Default == "" || e.set == nil || e.NoOp {
			continue
		}
		if err := e.set(o, e.Default, false); err != nil {
			panic(fmt.Sprintf("config: bad default %q for %s: %v", e.Default, e.Name, err))
		}
	}
	return o
}

// Clone returns a deep copy of o.
func (o *Options) Clone() *Options {
	c := *o
	c.Branches = append([]Branch(nil), o.Branches...)
	c.Notices = append([]string(nil), o.Notices...)
	c.CacheFilesProcessNames = append([]string(nil), o.CacheFilesProcessNames...)
	c.MountOpts = append([]string(nil), o.MountOpts...)
	if o.explicit != nil {
		c.explicit = make(map[string]bool, len(o.explicit))
		for k := range o.explicit {
			c.explicit[k] = true
		}
	}
	return &c
}

// ExplicitKeys returns, in table order, the canonical names of the options
// that were set explicitly (by Parse, a config file or Set), e.g. so a front
// end can warn about MountOnly options it cannot honour.
func (o *Options) ExplicitKeys() []string {
	var keys []string
	for _, e := range table {
		if o.explicit[e.Name] {
			keys = append(keys, e.Name)
		}
	}
	return keys
}

// SplitOptionString splits a -o argument at commas into items. A comma
// preceded by a backslash ("\,") is kept as a literal comma and "\\" is a
// literal backslash, as libfuse's option parser does; any other backslash is
// kept. Empty items are dropped.
func SplitOptionString(s string) []string {
	var items []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == ',' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == ',':
			if b.Len() > 0 {
				items = append(items, b.String())
			}
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() > 0 {
		items = append(items, b.String())
	}
	return items
}

// Parse applies the -o items (already split by SplitOptionString) in order
// on top of Default: a later item overrides an earlier one, and category.X
// overwrites every function of the category at that point. Keys are
// normalised ('_' → '-'). Mount pass-through words are collected into
// MountOpts. config=FILE applies the file's lines in place. Every bad item
// is reported; the error joins *UnknownOptionError, *InvalidValueError,
// *ReadOnlyError and *ConfigFileError values (use errors.As).
func Parse(opts []string) (*Options, error) {
	o := Default()
	a := applier{o: o}
	var errs []error
	for _, item := range opts {
		if err := a.item(item, "", 0); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return o, nil
}

// applier applies option items to o. In runtime mode (the control file)
// read-only options are refused and mount words are unknown.
type applier struct {
	o       *Options
	runtime bool
}

// item applies one "key" or "key=value" item; dir is the directory of the
// config file it came from ("" for the command line), depth the number of
// config files open.
func (a *applier) item(item, dir string, depth int) error {
	item = strings.TrimSpace(item)
	if item == "" {
		return nil
	}
	key, value, hasValue := strings.Cut(item, "=")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if index[NormalizeKey(key)] == nil && !a.runtime && IsMountOption(item) {
		a.o.MountOpts = append(a.o.MountOpts, item)
		return nil
	}
	return a.assign(key, value, !hasValue, dir, depth)
}

func (a *applier) assign(key, value string, bare bool, dir string, depth int) error {
	norm := NormalizeKey(key)
	e := index[norm]
	if e == nil {
		return &UnknownOptionError{Key: key, Suggestion: suggest(norm)}
	}
	if e.Reported {
		return &ReadOnlyError{Key: key, Option: e.Name, Always: true}
	}
	if a.runtime && e.ReadOnly {
		return &ReadOnlyError{Key: key, Option: e.Name}
	}
	if e.Name == "config" {
		if err := a.include(key, value, dir, depth); err != nil {
			return err
		}
	} else if err := e.set(a.o, value, bare); err != nil {
		ive := &InvalidValueError{Key: key, Option: e.Name, Value: value, Expected: describeForm(e.form), Valid: e.values}
		if err != errBad {
			ive.Err = err
		}
		return ive
	}
	if a.o.explicit == nil {
		a.o.explicit = map[string]bool{}
	}
	a.o.explicit[e.Name] = true
	return nil
}

// include applies a config file. Relative paths are resolved against dir.
func (a *applier) include(key, path, dir string, depth int) error {
	if path == "" {
		if !a.runtime || a.o.ConfigFile == "" {
			return &InvalidValueError{Key: key, Option: "config", Expected: "FILE (a config file path)"}
		}
		path = a.o.ConfigFile
	}
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	if depth > maxConfigDepth {
		return &ConfigFileError{Path: path, Err: errLoop{}}
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &ConfigFileError{Path: path, Err: err}
	}
	defer f.Close()

	var errs []error
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := a.item(line, filepath.Dir(path), depth+1); err != nil {
			errs = append(errs, &ConfigFileError{Path: path, Line: n, Err: err})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &ConfigFileError{Path: path, Err: err})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	a.o.ConfigFile = path
	return nil
}

// Get returns the current value of key as the control file shows it
// (getxattr user.mergerfs.<key>). Keys are normalised ('_' → '-'); hidden
// keys and aliases work too. Unknown keys give ENODATA (ENOATTR).
func (o *Options) Get(key string) (string, unix.Errno) {
	e := index[NormalizeKey(key)]
	if e == nil {
		return "", unix.ENODATA
	}
	return e.get(o), 0
}

// Set changes key at runtime (setxattr user.mergerfs.<key>). It returns
// ENODATA (ENOATTR) for an unknown key, EROFS for a read-only or reported
// key, EINVAL for a bad value, or the open error of a config file. On
// error o is unchanged. Changing branches applies an edit instruction (see
// EditBranches); setting config applies the file's lines as runtime sets.
func (o *Options) Set(key, value string) unix.Errno {
	return errnoOf(o.SetErr(key, value))
}

// SetErr is Set returning the descriptive error (for logging) instead of the
// errno. The typed errors it returns carry their errno in an Errno method.
func (o *Options) SetErr(key, value string) error {
	c := o.Clone()
	a := applier{o: c, runtime: true}
	if err := a.assign(key, value, false, "", 0); err != nil {
		return err
	}
	*o = *c
	return nil
}

// ApplyArgs applies the positional command-line arguments as mergerfs does:
// every argument but the last is appended to the branches (each may be a
// ':' list), and the last is the mountpoint, unless mountpoint= was already
// given, in which case it is a branch too.
func (o *Options) ApplyArgs(args []string) error {
	if len(args) == 0 {
		return nil
	}
	last := len(args) - 1
	branchArgs := args[:last]
	if o.Mountpoint != "" {
		branchArgs = args
	}
	nb := o.Branches
	for _, arg := range branchArgs {
		var err error
		var notes []string
		if nb, notes, err = editBranches(nb, "+>"+arg); err != nil {
			return fmt.Errorf("branch argument %q: %w", arg, err)
		}
		o.Notices = append(o.Notices, notes...)
	}
	o.Branches = nb
	if o.Mountpoint == "" {
		o.Mountpoint = args[last]
	}
	return nil
}

// Validate checks what a mount needs (branches, a mountpoint that is not
// itself a branch, nor inside one, nor above one) and applies mergerfs's
// post-parse adjustments, returning a warning for each: passthrough.io
// forces cache.files off→auto-full and cache.writeback off; uid/gid/umask
// overrides are unsupported.
func (o *Options) Validate() (warnings []string, err error) {
	warnings = append(warnings, o.Notices...)
	var errs []error
	if len(o.Branches) == 0 {
		errs = append(errs, errors.New("no branches: give them as the first argument or with -o branches=PATH[:PATH...]"))
	}
	if o.Mountpoint == "" {
		errs = append(errs, errors.New("no mountpoint: give it as the last argument or with -o mountpoint=PATH"))
	} else {
		mfi, merr := os.Stat(o.Mountpoint)
		mp := realpath(o.Mountpoint)
		for _, b := range o.Branches {
			bfi, err := os.Stat(b.Path)
			same := merr == nil && err == nil && os.SameFile(mfi, bfi)
			if err := nesting(mp, b.Path, same); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if o.PassthroughIO != PassthroughOff {
		if o.CacheFiles == CacheFilesOff {
			o.CacheFiles = CacheFilesAutoFull
			warnings = append(warnings, "cache.files can not be off with passthrough.io; using cache.files=auto-full")
		}
		if o.CacheWriteback {
			o.CacheWriteback = false
			warnings = append(warnings, "cache.writeback can not be used with passthrough.io; using cache.writeback=false")
		}
		if o.MoveOnENOSPC.Enabled {
			warnings = append(warnings, "moveonenospc does not work with passthrough.io")
		}
	}
	for _, w := range []struct {
		name string
		set  bool
	}{{"uid", o.UID >= 0}, {"gid", o.GID >= 0}, {"umask", o.Umask >= 0}} {
		if w.set {
			warnings = append(warnings, "overriding '"+w.name+"' is untested and unsupported")
		}
	}
	return warnings, errors.Join(errs...)
}

// nesting reports a branch b that is the mountpoint mp (same, or the same
// path), a mountpoint inside a branch (the pool would contain itself: find,
// du or rsync through it never end) or a branch inside the mountpoint (the
// mount hides it, and every access the daemon makes to it is a request to
// itself, which waits forever). Both paths are absolute and clean; symlinks
// are resolved by the caller where it can.
func nesting(mp, b string, same bool) error {
	switch {
	case same || mp == b:
		return fmt.Errorf("branches can not include the mountpoint: %s; remove it from the branch list", b)
	case below(mp, b):
		return fmt.Errorf("mountpoint %s is inside branch %s: the pool would contain itself (find, du and rsync through it would never end); mount it outside every branch", mp, b)
	case below(b, mp):
		return fmt.Errorf("branch %s is inside the mountpoint %s: the mount would hide it and mfs would wait on itself; keep branches outside the mountpoint", b, mp)
	}
	return nil
}

// below reports whether p lies strictly inside dir.
func below(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}
