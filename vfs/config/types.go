package config

import (
	"strconv"
	"strings"
)

// CacheFiles is the page-cache mode for file data (cache.files).
type CacheFiles string

const (
	CacheFilesOff        CacheFiles = "off"         // direct_io: no page cache
	CacheFilesPartial    CacheFiles = "partial"     // page cache, dropped on each open
	CacheFilesFull       CacheFiles = "full"        // keep_cache: page cache kept across opens
	CacheFilesAutoFull   CacheFiles = "auto-full"   // auto_cache: kept unless mtime/size changed
	CacheFilesPerProcess CacheFiles = "per-process" // partial for cache.files.process-names, off otherwise
)

// InodeCalc selects how inode numbers are computed (inodecalc).
type InodeCalc string

const (
	InodePassthrough  InodeCalc = "passthrough"
	InodePathHash     InodeCalc = "path-hash"
	InodePathHash32   InodeCalc = "path-hash32"
	InodeDevinoHash   InodeCalc = "devino-hash"
	InodeDevinoHash32 InodeCalc = "devino-hash32"
	InodeHybridHash   InodeCalc = "hybrid-hash"
	InodeHybridHash32 InodeCalc = "hybrid-hash32"
)

// XAttr selects how extended attribute calls are served (xattr).
type XAttr string

const (
	XAttrPassthrough XAttr = "passthrough"
	XAttrNoAttr      XAttr = "noattr" // every xattr call returns ENOATTR
	XAttrNoSys       XAttr = "nosys"  // every xattr call returns ENOSYS
)

// StatFS selects which branches statfs sums (statfs).
type StatFS string

const (
	StatFSBase StatFS = "base" // every branch root
	StatFSFull StatFS = "full" // only branches where the path exists
)

// StatFSIgnore selects branches whose free space statfs zeroes (statfs-ignore).
type StatFSIgnore string

const (
	StatFSIgnoreNone StatFSIgnore = "none"
	StatFSIgnoreRO   StatFSIgnore = "ro" // RO and NC branches
	StatFSIgnoreNC   StatFSIgnore = "nc" // NC branches
)

// NFSOpenHack selects when the EACCES-on-open workaround applies (nfsopenhack).
type NFSOpenHack string

const (
	NFSOpenHackOff NFSOpenHack = "off"
	NFSOpenHackGit NFSOpenHack = "git" // only paths containing "/.git/"
	NFSOpenHackAll NFSOpenHack = "all"
)

// FollowSymlinks selects which symlinks getattr follows (follow-symlinks).
type FollowSymlinks string

const (
	FollowNever     FollowSymlinks = "never"
	FollowDirectory FollowSymlinks = "directory"
	FollowRegular   FollowSymlinks = "regular"
	FollowAll       FollowSymlinks = "all"
)

// LinkEXDEV is the fallback when link() fails with EXDEV (link-exdev).
type LinkEXDEV string

const (
	LinkEXDEVPassthrough    LinkEXDEV = "passthrough"
	LinkEXDEVRelSymlink     LinkEXDEV = "rel-symlink"
	LinkEXDEVAbsBaseSymlink LinkEXDEV = "abs-base-symlink"
	LinkEXDEVAbsPoolSymlink LinkEXDEV = "abs-pool-symlink"
)

// RenameEXDEV is the fallback when rename() fails with EXDEV (rename-exdev).
type RenameEXDEV string

const (
	RenameEXDEVPassthrough RenameEXDEV = "passthrough"
	RenameEXDEVRelSymlink  RenameEXDEV = "rel-symlink"
	RenameEXDEVAbsSymlink  RenameEXDEV = "abs-symlink"
)

// FlushOnClose selects when FUSE flush is requested on close (flush-on-close).
type FlushOnClose string

const (
	FlushNever          FlushOnClose = "never"
	FlushAlways         FlushOnClose = "always"
	FlushOpenedForWrite FlushOnClose = "opened-for-write"
)

// PassthroughIO selects kernel FUSE passthrough (passthrough.io).
type PassthroughIO string

const (
	PassthroughOff PassthroughIO = "off"
	PassthroughRO  PassthroughIO = "ro"
	PassthroughWO  PassthroughIO = "wo"
	PassthroughRW  PassthroughIO = "rw"
)

// PinThreads is a CPU pinning strategy (pin-threads); PinThreadsNone means
// no pinning and is printed as "false", as mergerfs does.
type PinThreads string

const (
	PinThreadsNone   PinThreads = ""
	PinThreadsR1L    PinThreads = "R1L"
	PinThreadsR1P    PinThreads = "R1P"
	PinThreadsRP1L   PinThreads = "RP1L"
	PinThreadsRP1P   PinThreads = "RP1P"
	PinThreadsR1LP1L PinThreads = "R1LP1L"
	PinThreadsR1PP1P PinThreads = "R1PP1P"
	PinThreadsRPSL   PinThreads = "RPSL"
	PinThreadsRPSP   PinThreads = "RPSP"
	PinThreadsR1PPSP PinThreads = "R1PPSP"
)

// ReaddirMode is how directory listings are gathered (func.readdir).
type ReaddirMode string

const (
	ReaddirSeq  ReaddirMode = "seq"  // one branch after another
	ReaddirCOSR ReaddirMode = "cosr" // concurrent open, sequential read
	ReaddirCOR  ReaddirMode = "cor"  // concurrent open and read
)

// Readdir is the parsed func.readdir value: seq, or cosr/cor with optional
// thread count N and queue depth M. Zero N or M means the default (N = CPU
// cores capped at 8, M = 2); HasThreads/HasDepth record what was written so
// the value prints back the way it was given.
type Readdir struct {
	Mode       ReaddirMode
	Threads    int
	QueueDepth int
	HasThreads bool
	HasDepth   bool
}

// String renders the value in option syntax, e.g. "cosr:4:2".
func (r Readdir) String() string {
	s := string(r.Mode)
	if r.Mode == ReaddirSeq || !r.HasThreads {
		return s
	}
	s += ":" + strconv.Itoa(r.Threads)
	if r.HasDepth {
		s += ":" + strconv.Itoa(r.QueueDepth)
	}
	return s
}

func parseReaddir(v string) (Readdir, bool) {
	parts := strings.Split(v, ":")
	r := Readdir{Mode: ReaddirMode(parts[0])}
	switch r.Mode {
	case ReaddirSeq:
		return r, len(parts) == 1
	case ReaddirCOSR, ReaddirCOR:
	default:
		return r, false
	}
	if len(parts) > 3 {
		return r, false
	}
	for i, p := range parts[1:] {
		// Only plain digits, as mergerfs's parser accepts.
		if !allDigits(p) {
			return r, false
		}
		n, ok := parseInt(p)
		if !ok || n > 1<<20 {
			return r, false
		}
		if i == 0 {
			r.Threads, r.HasThreads = n, true
		} else {
			r.QueueDepth, r.HasDepth = n, true
		}
	}
	return r, true
}

// MoveOnENOSPC is the moveonenospc setting: disabled, or enabled with the
// create policy that picks the target branch.
type MoveOnENOSPC struct {
	Enabled bool
	Policy  string // a policy name; meaningful only when Enabled
}

// String renders the value as mergerfs prints it: the policy, or "false".
func (m MoveOnENOSPC) String() string {
	if m.Enabled {
		return m.Policy
	}
	return "false"
}
