package config

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mfs-union/mfs/vfs/policy"
)

// Entry describes one option of the table. It is what `mfs options`,
// `--help` and the docs are generated from.
type Entry struct {
	Name      string   // canonical key (hyphenated, as mergerfs ≥2.41 spells it)
	Aliases   []string // hidden alternative keys that reach this entry
	Form      string   // the accepted value form, e.g. "BOOL" or "off|partial|full"
	Values    []string // accepted values, for enumerations and policies
	Default   string   // the default in option syntax ("" = empty or unset)
	Help      string   // what the option does
	ReadOnly  bool     // cannot be changed at runtime (EROFS from the control file)
	MountOnly bool     // only the FUSE mount front end can honour it
	Hidden    bool     // not listed by Keys (listxattr) nor in Help's main list
	NoOp      bool     // accepted for compatibility and ignored
	Reported  bool     // a value mfs reports (pid, version, srcmounts); never settable
}

// option is a table row: its description plus the codec that reads and
// writes the typed field.
type option struct {
	Entry
	codec
}

// maxConfigDepth is how many levels of config= includes may nest below the
// first config file (mergerfs: 5; one more level fails with ELOOP).
const maxConfigDepth = 5

// table is the single declarative list of every option key mfs accepts,
// in listing order. It is built once and never modified.
var table = buildTable()

// index maps every normalised key and alias to its row.
var index = func() map[string]*option {
	m := make(map[string]*option, len(table)*2)
	for i := range table {
		o := &table[i]
		for _, k := range append([]string{o.Name}, o.Aliases...) {
			if _, dup := m[k]; dup {
				panic("config: duplicate option key " + k)
			}
			m[k] = o
		}
	}
	return m
}()

func buildTable() []option {
	t := []option{
		{Entry: Entry{Name: "branches", Help: "The branch list: PATH[=RW|RO|NC[,MINFREESPACE]] joined by ':'. " +
			"Globs ({a,b}, *, ?, [...]) expand to directories. At runtime the value may also be an edit: " +
			"+<LIST prepends, +>LIST or +LIST appends, -PATTERNS removes matching paths, -< and -> drop the first/last."},
			codec: branchesCodec},
		{Entry: Entry{Name: "mountpoint", Aliases: []string{"mount"}, ReadOnly: true,
			Help: "Where the pool is mounted; handy in a config file. Without it the last positional argument is the mountpoint."},
			codec: strCodec(func(o *Options) *string { return &o.Mountpoint }, "PATH", true)},
		{Entry: Entry{Name: "config", Help: "Read options from FILE: one key or key=value per line, '#' starts a comment line. " +
			"Files may include others (config=) up to 5 levels deep; relative paths are relative to the including file. " +
			"Writing it at runtime re-applies a file (an empty value re-reads the last one)."},
			codec: codec{form: "FILE", get: func(o *Options) string { return o.ConfigFile }}},
		{Entry: Entry{Name: "minfreespace", Default: "4294967295",
			Help: "Create policies skip a branch with less free space than this, unless the branch sets its own. " +
				"The default is 4G minus one byte, the exact value mergerfs uses and prints; printed as a byte count."},
			codec: sizeCodec(func(o *Options) *uint64 { return &o.MinFreeSpace })},
		{Entry: Entry{Name: "moveonenospc", Default: "pfrd",
			Help: "When a write fails with ENOSPC or EDQUOT, move the file to a branch chosen by this create policy " +
				"and retry. true means pfrd (2.33.5 meant mfs), false disables."},
			codec: moveonenospcCodec},
	}
	for c := policy.Category(0); c < policy.NumCategories; c++ {
		t = append(t, option{Entry: Entry{Name: "category." + c.String(), Default: policy.DefaultPolicy(c),
			Help: fmt.Sprintf("Set the policy of every %s function (%s). Reading it lists the distinct policies in use.",
				c, strings.Join(funcsOf(c), ", "))},
			codec: categoryCodec(c)})
	}
	for f := policy.Func(0); f < policy.NumFuncs; f++ {
		t = append(t, option{Entry: Entry{Name: "func." + f.String(), Default: policy.DefaultPolicy(f.Category()),
			Help: fmt.Sprintf("Policy used by %s (category %s).", f, f.Category())},
			codec: funcCodec(f)})
	}
	t = append(t, []option{
		{Entry: Entry{Name: "func.readdir", Default: "seq",
			Help: "How listings are gathered: seq reads branches in turn; cosr opens them concurrently and reads in order; " +
				"cor opens and reads concurrently (order among duplicates may vary). N threads (0: CPU cores, at most 8), queue depth M (0: 2). " +
				"2.33.5's readdir=posix|linux is accepted and ignored."},
			codec: readdirCodec},
		{Entry: Entry{Name: "inodecalc", Default: "hybrid-hash",
			Help: "How st_ino and d_ino are computed: the branch's own, a hash of the path, of the branch and inode, " +
				"or hybrid (path for directories, branch+inode otherwise); *32 folds to 32 bits."},
			codec: enumCodec(func(o *Options) *InodeCalc { return &o.InodeCalc },
				InodePassthrough, InodePathHash, InodePathHash32, InodeDevinoHash, InodeDevinoHash32, InodeHybridHash, InodeHybridHash32)},
		{Entry: Entry{Name: "dropcacheonclose", Default: "false", MountOnly: true,
			Help: "Advise the kernel to drop a file's cached pages (POSIX_FADV_DONTNEED) when it is closed."},
			codec: boolCodec(func(o *Options) *bool { return &o.DropCacheOnClose })},
		{Entry: Entry{Name: "direct-io-allow-mmap", Default: "true", ReadOnly: true, MountOnly: true,
			Help: "Ask the kernel to allow mmap on direct-io files (FUSE_DIRECT_IO_ALLOW_MMAP, Linux ≥6.6)."},
			codec: boolCodec(func(o *Options) *bool { return &o.DirectIOAllowMmap })},
		{Entry: Entry{Name: "symlinkify", Default: "false",
			Help: "Report non-writable files whose mtime and ctime are older than symlinkify-timeout as symlinks to the branch file."},
			codec: boolCodec(func(o *Options) *bool { return &o.Symlinkify })},
		{Entry: Entry{Name: "symlinkify-timeout", Default: "3600", Help: "Age in seconds after which symlinkify applies."},
			codec: secsCodec(func(o *Options) *time.Duration { return &o.SymlinkifyTimeout })},
		{Entry: Entry{Name: "nullrw", Default: "false", ReadOnly: true, MountOnly: true,
			Help: "Reads and writes do nothing and report success (for benchmarking)."},
			codec: boolCodec(func(o *Options) *bool { return &o.NullRW })},
		{Entry: Entry{Name: "ignorepponrename", Default: "false",
			Help: "Make rename and link use the create-path algorithm even with a path-preserving create policy."},
			codec: boolCodec(func(o *Options) *bool { return &o.IgnorePPOnRename })},
		{Entry: Entry{Name: "lazy-umount-mountpoint", Default: "false", MountOnly: true,
			Help: "Lazily unmount whatever is mounted on the mountpoint before mounting (for live upgrades)."},
			codec: boolCodec(func(o *Options) *bool { return &o.LazyUmountMountpoint })},
		{Entry: Entry{Name: "branches-mount-timeout", Default: "0", ReadOnly: true,
			Help: "At startup, wait up to this many seconds for each branch to look mounted."},
			codec: secsCodec(func(o *Options) *time.Duration { return &o.BranchesMountTimeout })},
		{Entry: Entry{Name: "branches-mount-timeout-fail", Default: "false", ReadOnly: true,
			Help: "Exit instead of continuing when branches-mount-timeout expires."},
			codec: boolCodec(func(o *Options) *bool { return &o.BranchesMountTimeoutFail })},
		{Entry: Entry{Name: "export-support", Default: "true", ReadOnly: true, MountOnly: true,
			Help: "Advertise FUSE_EXPORT_SUPPORT so the pool can be exported over NFS."},
			codec: boolCodec(func(o *Options) *bool { return &o.ExportSupport })},
		{Entry: Entry{Name: "kernel-permissions-check", Default: "true", ReadOnly: true, MountOnly: true,
			Help: "Let the kernel check permissions (adds default_permissions)."},
			codec: boolCodec(func(o *Options) *bool { return &o.KernelPermissionsCheck })},
		{Entry: Entry{Name: "security-capability", Default: "true",
			Help: "When false, get/setxattr of security.capability return ENOATTR (avoids a lookup per write)."},
			codec: boolCodec(func(o *Options) *bool { return &o.SecurityCapability })},
		{Entry: Entry{Name: "xattr", Default: "passthrough",
			Help: "passthrough serves xattrs; noattr makes every xattr call return ENOATTR; nosys returns ENOSYS, " +
				"which the kernel remembers (faster, but it also disables the control file's xattrs)."},
			codec: enumCodec(func(o *Options) *XAttr { return &o.XAttr }, XAttrPassthrough, XAttrNoAttr, XAttrNoSys)},
		{Entry: Entry{Name: "link-cow", Default: "false",
			Help: "Opening a hard-linked file for write first breaks the link with a private copy."},
			codec: boolCodec(func(o *Options) *bool { return &o.LinkCOW })},
		{Entry: Entry{Name: "statfs", Default: "base",
			Help: "base sums every branch root; full only branches where the path exists."},
			codec: enumCodec(func(o *Options) *StatFS { return &o.StatFS }, StatFSBase, StatFSFull)},
		{Entry: Entry{Name: "statfs-ignore", Default: "none",
			Help: "Report no free space for RO and NC branches (ro) or NC branches (nc)."},
			codec: enumCodec(func(o *Options) *StatFSIgnore { return &o.StatFSIgnore }, StatFSIgnoreNone, StatFSIgnoreRO, StatFSIgnoreNC)},
		{Entry: Entry{Name: "nfsopenhack", Default: "off",
			Help: "When opening an empty read-only file for write fails with EACCES, briefly chmod it; git limits this to paths containing /.git/."},
			codec: enumCodec(func(o *Options) *NFSOpenHack { return &o.NFSOpenHack }, NFSOpenHackOff, NFSOpenHackGit, NFSOpenHackAll)},
		{Entry: Entry{Name: "follow-symlinks", Default: "never",
			Help: "Which symlinks getattr follows, reporting the target's attributes."},
			codec: enumCodec(func(o *Options) *FollowSymlinks { return &o.FollowSymlinks }, FollowNever, FollowDirectory, FollowRegular, FollowAll)},
		{Entry: Entry{Name: "link-exdev", Default: "passthrough",
			Help: "When link() fails with EXDEV: return it, or create a relative symlink, or an absolute one via the branch or the pool."},
			codec: enumCodec(func(o *Options) *LinkEXDEV { return &o.LinkEXDEV },
				LinkEXDEVPassthrough, LinkEXDEVRelSymlink, LinkEXDEVAbsBaseSymlink, LinkEXDEVAbsPoolSymlink)},
		{Entry: Entry{Name: "rename-exdev", Default: "passthrough",
			Help: "When rename() fails with EXDEV: return it, or move the file aside and leave a relative or absolute symlink."},
			codec: enumCodec(func(o *Options) *RenameEXDEV { return &o.RenameEXDEV },
				RenameEXDEVPassthrough, RenameEXDEVRelSymlink, RenameEXDEVAbsSymlink)},
		{Entry: Entry{Name: "readahead", Default: "0", MountOnly: true,
			Help: "If non-zero, set the readahead (KiB) of the mount and of the branches' devices."},
			codec: uintCodec(func(o *Options) *uint64 { return &o.ReadaheadKiB }, "KiB")},
		{Entry: Entry{Name: "posix-acl", Default: "false", ReadOnly: true, MountOnly: true,
			Help: "Ask for kernel POSIX ACL support (FUSE_POSIX_ACL)."},
			codec: boolCodec(func(o *Options) *bool { return &o.PosixACL })},
		{Entry: Entry{Name: "async-read", Default: "true", ReadOnly: true, MountOnly: true,
			Help: "Allow concurrent reads on one file handle (FUSE_ASYNC_READ). 2.33.5's sync_read means async-read=false."},
			codec: boolCodec(func(o *Options) *bool { return &o.AsyncRead })},
		{Entry: Entry{Name: "fuse-msg-size", Default: "1M", ReadOnly: true, MountOnly: true,
			Help: "Largest FUSE message: plain digits are pages (2.33.5 style), a SIZE is bytes rounded up to pages. " +
				"Printed in pages; the mount clamps it to what the kernel allows."},
			codec: fuseMsgSizeCodec},
		{Entry: Entry{Name: "read-thread-count", Aliases: []string{"threads"}, Default: "0", ReadOnly: true, MountOnly: true,
			Help: "Threads reading requests from the kernel: 0 one per core (at most 8), N<0 cores/-N."},
			codec: intCodec(func(o *Options) *int { return &o.ReadThreadCount }, math.MinInt, math.MaxInt)},
		{Entry: Entry{Name: "process-thread-count", Default: "-1", ReadOnly: true, MountOnly: true,
			Help: "Threads processing requests: -1 means readers process them; otherwise sized like read-thread-count."},
			codec: intCodec(func(o *Options) *int { return &o.ProcessThreadCount }, math.MinInt, math.MaxInt)},
		{Entry: Entry{Name: "process-thread-queue-depth", Default: "2", ReadOnly: true, MountOnly: true,
			Help: "Queue depth per processing thread."},
			codec: intCodec(func(o *Options) *int { return &o.ProcessThreadQueueDepth }, 0, math.MaxInt)},
		{Entry: Entry{Name: "pin-threads", Default: "false", ReadOnly: true, MountOnly: true,
			Help: "CPU pinning strategy for the reader (R) and processing (P) threads; false pins nothing."},
			codec: pinThreadsCodec},
		{Entry: Entry{Name: "flush-on-close", Default: "opened-for-write", MountOnly: true,
			Help: "When the kernel should send flush on close."},
			codec: enumCodec(func(o *Options) *FlushOnClose { return &o.FlushOnClose }, FlushNever, FlushAlways, FlushOpenedForWrite)},
		{Entry: Entry{Name: "scheduling-priority", Default: "-10", ReadOnly: true,
			Help: "Nice value of the mfs process."},
			codec: intCodec(func(o *Options) *int { return &o.SchedulingPriority }, -20, 19)},
		{Entry: Entry{Name: "proxy-ioprio", Default: "false",
			Help: "Perform reads and writes with the caller's I/O priority."},
			codec: boolCodec(func(o *Options) *bool { return &o.ProxyIOPrio })},
		{Entry: Entry{Name: "fsname", ReadOnly: true, MountOnly: true,
			Help: "Source name shown by mount and df; by default the branch paths without their common prefix."},
			codec: strCodec(func(o *Options) *string { return &o.FSName }, "STR", false)},
		{Entry: Entry{Name: "cache.attr", Aliases: []string{"attr-timeout"}, Default: "1", MountOnly: true,
			Help: "Seconds the kernel caches file attributes."},
			codec: secsCodec(func(o *Options) *time.Duration { return &o.CacheAttr })},
		{Entry: Entry{Name: "cache.entry", Aliases: []string{"entry-timeout"}, Default: "1", MountOnly: true,
			Help: "Seconds the kernel caches a name lookup."},
			codec: secsCodec(func(o *Options) *time.Duration { return &o.CacheEntry })},
		{Entry: Entry{Name: "cache.negative-entry", Aliases: []string{"negative-timeout"}, Default: "0", MountOnly: true,
			Help: "Seconds the kernel caches a failed lookup."},
			codec: secsCodec(func(o *Options) *time.Duration { return &o.CacheNegativeEntry })},
		{Entry: Entry{Name: "cache.statfs", Default: "0",
			Help: "Seconds to cache the branch statvfs figures that policies use."},
			codec: secsCodec(func(o *Options) *time.Duration { return &o.CacheStatfs })},
		{Entry: Entry{Name: "cache.files", Default: "off", MountOnly: true,
			Help: "File data caching: off bypasses the page cache; partial caches but drops it on open; full keeps it; " +
				"auto-full keeps it until mtime or size changes; per-process is partial for cache.files.process-names, off otherwise. " +
				"2.33.5's libfuse is accepted and mapped (direct_io→off, kernel_cache→full, auto_cache→auto-full, else partial)."},
			codec: cacheFilesCodec},
		{Entry: Entry{Name: "cache.files.process-names", Default: "rtorrent|qbittorrent-nox", MountOnly: true,
			Help: "Process names (comm) that get page caching with cache.files=per-process."},
			codec: processNamesCodec},
		{Entry: Entry{Name: "cache.writeback", Default: "false", ReadOnly: true, MountOnly: true,
			Help: "Kernel writeback caching (turns O_WRONLY into O_RDWR and drops O_APPEND)."},
			codec: boolCodec(func(o *Options) *bool { return &o.CacheWriteback })},
		{Entry: Entry{Name: "cache.symlinks", Default: "false", ReadOnly: true, MountOnly: true,
			Help: "Let the kernel cache symlink targets (FUSE_CACHE_SYMLINKS)."},
			codec: boolCodec(func(o *Options) *bool { return &o.CacheSymlinks })},
		{Entry: Entry{Name: "cache.readdir", Default: "false", MountOnly: true,
			Help: "Let the kernel cache directory listings."},
			codec: boolCodec(func(o *Options) *bool { return &o.CacheReaddir })},
		{Entry: Entry{Name: "parallel-direct-writes", Default: "true", MountOnly: true,
			Help: "Allow parallel writes to one file opened for direct I/O."},
			codec: boolCodec(func(o *Options) *bool { return &o.ParallelDirectWrites })},
		{Entry: Entry{Name: "passthrough.io", Default: "off", MountOnly: true,
			Help: "Kernel FUSE passthrough for reads (ro), writes (wo) or both (rw); Linux ≥6.9, root only. " +
				"Turns cache.files=off into auto-full and cache.writeback off; moveonenospc cannot work with it."},
			codec: enumCodec(func(o *Options) *PassthroughIO { return &o.PassthroughIO }, PassthroughOff, PassthroughRO, PassthroughWO, PassthroughRW)},
		{Entry: Entry{Name: "passthrough.max-stack-depth", Default: "1", MountOnly: true,
			Help: "How many stacked filesystems passthrough may cross (1 or 2)."},
			codec: func() codec {
				c := intCodec(func(o *Options) *int { return &o.PassthroughMaxStackDepth }, 1, 2)
				c.values, c.form = []string{"1", "2"}, "1|2"
				return c
			}()},
		{Entry: Entry{Name: "never-forget-nodes", Aliases: []string{"noforget", "remember", "remember-nodes"},
			Default: "false", ReadOnly: true, MountOnly: true,
			Help: "Keep inode nodes until unlinked so NFS file handles stay valid."},
			codec: neverForgetCodec},
		{Entry: Entry{Name: "allow-idmap", Default: "true", ReadOnly: true, MountOnly: true,
			Help: "Allow id-mapped mounts of the pool (FUSE_ALLOW_IDMAP)."},
			codec: boolCodec(func(o *Options) *bool { return &o.AllowIdmap })},
		{Entry: Entry{Name: "handle-killpriv", Default: "true", ReadOnly: true, MountOnly: true,
			Help: "mfs clears setuid/setgid bits on write and chown (FUSE_HANDLE_KILLPRIV)."},
			codec: boolCodec(func(o *Options) *bool { return &o.HandleKillpriv })},
		{Entry: Entry{Name: "handle-killpriv-v2", Default: "true", ReadOnly: true, MountOnly: true,
			Help: "As handle-killpriv, also for truncate and file capabilities (FUSE_HANDLE_KILLPRIV_V2)."},
			codec: boolCodec(func(o *Options) *bool { return &o.HandleKillprivV2 })},
		{Entry: Entry{Name: "debug", Default: "false",
			Help: "Trace every filesystem request (to log.file)."},
			codec: boolCodec(func(o *Options) *bool { return &o.Debug })},
		{Entry: Entry{Name: "log.file", Help: "Where debug traces go; empty means stderr."},
			codec: strCodec(func(o *Options) *string { return &o.LogFile }, "PATH", false)},
		{Entry: Entry{Name: "pid", Reported: true, ReadOnly: true, Help: "Process id of the mfs daemon."},
			codec: reported(func(o *Options) string { return fmt.Sprint(o.PID) })},
		{Entry: Entry{Name: "version", Reported: true, ReadOnly: true, Help: "mfs version."},
			codec: reported(func(o *Options) string { return o.Version })},
		{Entry: Entry{Name: "srcmounts", Reported: true, ReadOnly: true, Hidden: true,
			Help: "Branch paths joined by ':' without modes (kept for old tools)."},
			codec: reported(func(o *Options) string { return SrcMounts(o.Branches) })},

		// Hidden settings.
		{Entry: Entry{Name: "uid", Default: "-1", Hidden: true, MountOnly: true,
			Help: "Override the owner uid the kernel sees (unsupported; -1 = unset)."},
			codec: idCodec(func(o *Options) *int64 { return &o.UID })},
		{Entry: Entry{Name: "gid", Default: "-1", Hidden: true, MountOnly: true,
			Help: "Override the group gid the kernel sees (unsupported; -1 = unset)."},
			codec: idCodec(func(o *Options) *int64 { return &o.GID })},
		{Entry: Entry{Name: "umask", Default: "-1", Hidden: true, MountOnly: true,
			Help: "Override the permission bits the kernel sees (unsupported; -1 = unset)."},
			codec: umaskCodec},
		{Entry: Entry{Name: "subtype", Default: "mfs", Hidden: true, ReadOnly: true, MountOnly: true,
			Help: "FUSE subtype; /proc/mounts shows fuse.<subtype> (fuse.mfs by default; subtype=mergerfs for tools that look for fuse.mergerfs)."},
			codec: strCodec(func(o *Options) *string { return &o.Subtype }, "STR", true)},
		{Entry: Entry{Name: "sync-read", Hidden: true, ReadOnly: true, MountOnly: true,
			Help: "2.33.5 spelling of async-read=false."},
			codec: syncReadCodec},

		// Accepted for compatibility; no effect.
		noop("atomic-o-trunc", noopCodec, "libfuse flag; always on"),
		noop("auto-cache", legacyFlagCodec(func(l *legacyCache) *bool { return &l.autoCache }),
			"no effect (use cache.files=auto-full), except together with cache.files=libfuse"),
		noop("big-writes", noopCodec, "libfuse flag; always on"),
		noop("cache.open", noopCodec, "2.33.5 option; removed"),
		noop("defaults", noopCodec, "fstab placeholder"),
		noop("direct-io", legacyFlagCodec(func(l *legacyCache) *bool { return &l.directIO }),
			"no effect (use cache.files=off), except together with cache.files=libfuse"),
		noop("gid-cache.expire-timeout", noopCodec, "supplementary group cache; not needed"),
		noop("gid-cache.remove-timeout", noopCodec, "supplementary group cache; not needed"),
		noop("hard-remove", noopCodec, "libfuse flag; always on"),
		noop("kernel-cache", legacyFlagCodec(func(l *legacyCache) *bool { return &l.kernelCache }),
			"no effect (use cache.files=full), except together with cache.files=libfuse"),
		noop("log.metrics", noopCodec, "2.33.5 option; removed"),
		noop("negative-entry", noopCodec, "use cache.negative-entry"),
		noop("nonempty", noopCodec, "mounting over a non-empty directory is always allowed"),
		noop("no-splice-move", noopCodec, "libfuse splice flag"),
		noop("no-splice-read", noopCodec, "libfuse splice flag"),
		noop("no-splice-write", noopCodec, "libfuse splice flag"),
		noop("readdir", noopEnumCodec("posix", "linux"), "2.33.5 option; use func.readdir"),
		noop("readdirplus", noopCodec, "2.33.5 option; readdirplus is never used"),
		noop("splice-move", noopCodec, "libfuse splice flag"),
		noop("splice-read", noopCodec, "libfuse splice flag"),
		noop("splice-write", noopCodec, "libfuse splice flag"),
		noop("use-ino", noopCodec, "inode numbers always come from inodecalc"),
	}...)

	for i := range t {
		t[i].Form, t[i].Values = t[i].codec.form, t[i].codec.values
	}
	return t
}

func noop(name string, c codec, why string) option {
	return option{Entry: Entry{Name: name, Hidden: true, NoOp: true, Help: "Accepted and ignored: " + why + "."}, codec: c}
}

func funcsOf(c policy.Category) []string {
	var names []string
	for f := policy.Func(0); f < policy.NumFuncs; f++ {
		if f.Category() == c {
			names = append(names, f.String())
		}
	}
	return names
}

// Entries returns a copy of the option table in listing order, including
// hidden entries and no-ops (check Hidden and NoOp).
func Entries() []Entry {
	out := make([]Entry, len(table))
	for i, o := range table {
		e := o.Entry
		e.Aliases = append([]string(nil), e.Aliases...)
		e.Values = append([]string(nil), e.Values...)
		out[i] = e
	}
	return out
}

// Keys returns the keys of every listed (non-hidden) option in table order;
// the control file lists each as user.mergerfs.<key>.
func Keys() []string {
	var keys []string
	for _, o := range table {
		if !o.Hidden && !o.NoOp {
			keys = append(keys, o.Name)
		}
	}
	return keys
}

// NormalizeKey returns key with '_' replaced by '-' (mergerfs ≥2.41 rule),
// so 2.33.5 spellings such as cache.negative_entry reach the same option.
func NormalizeKey(key string) string { return strings.ReplaceAll(strings.TrimSpace(key), "_", "-") }

// Lookup returns the table entry that key (any accepted spelling) selects.
func Lookup(key string) (Entry, bool) {
	o := index[NormalizeKey(key)]
	if o == nil {
		return Entry{}, false
	}
	return o.Entry, true
}

// suggest returns the listed option name closest to key, or "".
func suggest(key string) string {
	best, bestD := "", math.MaxInt
	for _, name := range Keys() {
		d := editDistance(key, name)
		if len(key) >= 3 && strings.HasPrefix(name, key) && d > 1 {
			d = 1 // a prefix of a real name is a strong hint
		}
		if d < bestD {
			best, bestD = name, d
		}
	}
	if bestD <= max(2, len(key)/3) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Mount pass-through words: never an error, collected into Options.MountOpts.
var mountWords = map[string]bool{
	"allow_other": true, "allow_root": true, "default_permissions": true,
	"ro": true, "rw": true, "noatime": true, "atime": true, "relatime": true, "norelatime": true,
	"strictatime": true, "nostrictatime": true, "lazytime": true, "nolazytime": true,
	"nodiratime": true, "diratime": true, "nosuid": true, "suid": true, "nodev": true, "dev": true,
	"noexec": true, "exec": true, "sync": true, "async": true, "dirsync": true,
	// mount(8)/fstab words; the mount front end drops those the kernel doesn't take.
	"auto": true, "noauto": true, "user": true, "users": true, "nouser": true,
	"owner": true, "group": true, "nofail": true, "_netdev": true,
}

// IsMountOption reports whether item (key or key=value) is passed through to
// mount(8) or the kernel rather than interpreted by mfs.
func IsMountOption(item string) bool {
	if mountWords[item] {
		return true
	}
	return strings.HasPrefix(item, "comment=") || strings.HasPrefix(item, "x-")
}
