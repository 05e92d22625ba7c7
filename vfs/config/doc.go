// Package config parses, holds and serves the mergerfs-compatible options of
// an mfs pool.
//
// It owns three things: the branch list syntax (Branch, ParseBranches,
// EditBranches), the option table (one declarative row per key: name, hidden
// aliases, value form and parser, default, read-only and mount-only marks,
// help, and the setter/getter of a typed field of Options), and the runtime
// interface the control file (<mount>/.mergerfs) exposes as
// user.mergerfs.<key> extended attributes. It does no I/O beyond reading
// config files and resolving branch globs, and imports no FUSE or CLI code.
//
// # Compatibility target
//
// mfs follows mergerfs 2.42 semantics and defaults and accepts every
// spelling and value of Debian's mergerfs 2.33.5, so an existing fstab keeps
// working. Where the two differ:
//
//   - Keys are normalised by replacing '_' with '-' (the 2.41 rule), so
//     async_read, cache.negative_entry, fuse_msg_size, link_cow, posix_acl,
//     security_capability, statfs_ignore, symlinkify_timeout, direct_io,
//     use_ino and so on all reach their current option. Matching is
//     case-sensitive.
//   - threads is a hidden alias of read-thread-count; mount of mountpoint;
//     noforget, remember and remember-nodes of never-forget-nodes (remember=N
//     with N≠0 means true); attr_timeout, entry_timeout and negative_timeout
//     of cache.attr, cache.entry and cache.negative-entry; sync_read sets
//     async-read=false.
//   - cache.files=libfuse (2.33.5's default, rejected by 2.42) is mapped to
//     the mode libfuse would have produced from the legacy flags given in the
//     same configuration, in any order: direct_io → off, else kernel_cache →
//     full, else auto_cache → auto-full, else partial. Reading cache.files
//     then shows the mapped mode. Without cache.files=libfuse, direct_io,
//     kernel_cache and auto_cache have no effect, as in 2.42.
//   - moveonenospc=true means pfrd (2.42), not mfs (2.33.5).
//   - fuse_msg_size as plain digits is a page count (2.33.5); with a unit
//     suffix it is bytes rounded up to whole pages (2.42). It reads as pages.
//   - readdir=posix|linux, readdirplus, log.metrics and cache.open (2.33.5)
//     and mergerfs's placeholder keys (atomic-o-trunc, auto-cache, big-writes,
//     defaults, direct-io, gid-cache.*, hard-remove, kernel-cache,
//     negative-entry, nonempty, [no-]splice-move/read/write, use-ino) are
//     accepted and ignored; they are hidden from listings.
//   - minfreespace defaults to 4294967295 (4G minus one byte): that is the
//     constant both 2.33.5 and 2.42 use, and the control file prints it as a
//     plain byte count, so tools see the same number.
//   - pin-threads rejects unknown strategies (mergerfs ignores them) so a
//     typo is reported instead of silently doing nothing.
//
// # Grammar
//
// A mount command line has the mergerfs shape
//
//	[-o OPTS]... BRANCHES... MOUNTPOINT
//
// SplitOptionString splits each OPTS at ',' ("\," is a literal comma, "\\" a
// literal backslash). Each item is "key" or "key=value", split at the first
// '='; key and value are trimmed. A bare key means true for BOOL options.
// Items are applied in order by Parse on top of Default, so later items win,
// and category.X=P sets every function of category X at the point where it
// appears: func.rmdir=rand,category.action=ff leaves rmdir on ff, and the
// reverse order leaves it on rand.
//
// An item whose key is not in the table but is a mount(8) or kernel word
// (allow_other, allow_root, default_permissions, ro, rw, the atime family,
// [no]suid, [no]dev, [no]exec, sync, async, dirsync, auto, noauto, user,
// users, nouser, owner, group, nofail, _netdev, comment=..., x-...) is
// appended unchanged to Options.MountOpts for the mount front end, which
// drops the fstab-only ones. Anything else is an *UnknownOptionError that
// suggests the nearest listed key by edit distance.
//
// config=FILE applies FILE line by line at that point: one item per line
// (no comma splitting), surrounding whitespace ignored, blank lines and lines
// starting with '#' skipped. A file may set branches and mountpoint and may
// include further files; relative paths are relative to the including
// file's directory. The first file may nest 5 levels of includes below it; the
// next level fails with a *ConfigFileError whose cause is ELOOP
// (errors.Is(err, unix.ELOOP)), which also catches include cycles.
//
// Positional arguments (Options.ApplyArgs): every argument but the last is
// appended to the branches; the last is the mountpoint unless mountpoint= was
// given, in which case it is appended too. Options.Validate then checks that
// branches and a mountpoint exist and that no branch is the mountpoint, lies
// inside it or contains it (mergerfs accepts the last two; the pool then
// contains itself or its daemon waits on itself), and applies the
// passthrough.io adjustments, returning warnings.
//
// Branch elements are PATH[=MODE[,MINFREESPACE]] joined by ':', split at the
// last '=' (a PATH containing '=' therefore needs an explicit MODE). MODE is
// RW, RO or NC; MINFREESPACE is a SIZE: digits and an optional single
// B/K/M/G/T suffix in either case, powers of 1024. PATH is expanded like
// glob(3) with GLOB_BRACE|GLOB_ONLYDIR ({a,b} alternatives, *, ?, [...];
// wildcards skip dot-names; only directories match), then made absolute with
// symlinks resolved. A glob that matches nothing (or only non-directories)
// and a missing path are kept as written (made absolute); a literal path
// that names a non-directory is skipped, as mergerfs does, with a notice
// naming what it is (Options.Notices, which Validate returns as warnings: a
// device given for its mount point otherwise left "no branches" unexplained). An element whose resolution does
// not finish within 30 s (a hung NFS server or FUSE daemon) is an error
// naming it, not a silent wait.
//
// # Errors
//
// Parse reports every bad item at once, joined with errors.Join. Use
// errors.As with *UnknownOptionError, *InvalidValueError (which names the key
// and value and lists the valid values or the expected form), *ReadOnlyError,
// *ConfigFileError (file and line) and *BranchError (element and fix). The
// option errors have an Errno method giving the control-file errno.
//
// # Runtime interface
//
// Options.Get and Options.Set implement getxattr and setxattr of
// user.mergerfs.<key> on the control file: the caller strips the prefix.
// Keys are normalised like on the command line and aliases and hidden keys
// work. Get of an unknown key returns ENODATA (ENOATTR). Set returns ENODATA
// for an unknown key (mount words included), EROFS for a key marked
// read-only and for the reported pid, version and srcmounts, EINVAL for a
// bad value, and leaves the Options unchanged on any error. Keys lists the
// non-hidden keys in table order for listxattr. Values print as mergerfs
// prints them: booleans as true/false, sizes as byte counts, durations as
// seconds, fuse-msg-size as pages, category.X as the sorted distinct
// policies of its functions joined by ',', branches with FormatBranches,
// moveonenospc as its policy or false, pin-threads as false when unset.
// Setting branches applies an EditBranches instruction (+<, +>, +, -, -<,
// ->, =, or a plain list). Setting config applies a file as runtime sets (an
// empty value re-applies the last one); the file's own open error or ELOOP is
// returned as such, and any failing line makes the whole set EINVAL, as in
// mergerfs. A category whose functions differ reads as a list such as
// "ff,newest", which is not a value Set accepts (mergerfs behaves the same).
// PID and Version are filled in by the caller. SetErr returns the
// descriptive error behind an errno, for logging. XATTR_CREATE (EEXIST), buffer sizing (ERANGE) and the cmd.* keys
// are the front end's business.
//
// # Help and documentation
//
// Entries returns the table (name, aliases, value form, valid values,
// default, help and the ReadOnly, MountOnly, Hidden, NoOp and Reported
// marks) and Help renders it for `mfs options` and --help, so the listing,
// the parser and the control file cannot drift apart. Default is built by
// running every row's Default through the row's own parser. Hidden rows
// (srcmounts, uid, gid, umask, subtype, sync-read and the no-ops) work but
// are not listed; subtype defaults to "mergerfs" so /proc/mounts shows
// fuse.mergerfs and tools that look for mergerfs pools find the pool.
//
// # Concurrency
//
// Options is a plain value with no internal locking, and the package keeps
// no mutable state (the option table is built once and never changed). The
// owner shares it copy-on-write: readers load an immutable *Options (e.g.
// from an atomic.Pointer); a writer takes its own mutex, calls Clone, Set on
// the clone, and publishes the clone. Never call Set on an Options that other
// goroutines may be reading.
package config
