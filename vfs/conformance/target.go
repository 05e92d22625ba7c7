package conformance

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Target is a front end under test: it serves a union described by a
// UnionSpec and hands back a Client that performs operations the way that
// front end's users see them.
type Target interface {
	// Name identifies the target in KnownGaps and in reports.
	Name() string
	// Features says which cases apply and how to judge front-end-specific
	// results.
	Features() Features
	// Open serves the union over the (already populated) branch directories
	// and returns a client for it. Everything it starts is stopped in
	// t.Cleanup; setup failures call t.Fatal.
	Open(t *testing.T, u UnionSpec) Client
}

// Features describe a target.
type Features struct {
	// Union is false for the Linux oracle, a plain directory: only POSIX
	// cases run there.
	Union bool
	// Inodes says which inode numbers the target reports.
	Inodes InodeMode
	// Rand says how the target's random source behaves.
	Rand RandPin
}

// InodeMode is how a front end numbers inodes.
type InodeMode int

const (
	// InodeCalc: st_ino and d_ino come from inodecalc (a FUSE mount).
	InodeCalc InodeMode = iota
	// InodeReal: the branch file's own st_ino (`mfs run`, the oracle).
	InodeReal
)

func (m InodeMode) String() string {
	if m == InodeReal {
		return "real"
	}
	return "calc"
}

// RandPin is what a target's randomised policies draw.
type RandPin int

const (
	RandFree  RandPin = iota // real randomness: any outcome of Case.AnyOf is accepted
	RandFirst                // RandN always returns 0: Case.AnyOf[0]
	RandLast                 // RandN always returns n-1: the last element of Case.AnyOf
)

// UnionSpec is the union a target must serve.
type UnionSpec struct {
	Branches []BranchSpec
	// Options are the mergerfs -o items without branches=, in order.
	Options []string
}

// BranchSpec is one populated branch directory.
type BranchSpec struct {
	Dir     string
	Mode    string // RW, RO or NC
	MinFree string // own minfreespace, "" for none
}

// BranchList renders the branches option value: DIR=MODE[,MINFREE] joined by ':'.
func (u UnionSpec) BranchList() string {
	parts := make([]string, len(u.Branches))
	for i, b := range u.Branches {
		parts[i] = b.Dir + "=" + b.Mode
		if b.MinFree != "" {
			parts[i] += "," + b.MinFree
		}
	}
	return strings.Join(parts, ":")
}

// Args returns the option items for config.Parse (or `-o` of a mount):
// branches= first, then Options.
func (u UnionSpec) Args() []string {
	return append([]string{"branches=" + u.BranchList()}, u.Options...)
}

// Client performs operations on a served union. Paths are relative to the
// union root without a leading slash ("" is the root); every method returns
// the errno the front end's user would see (0 = success). Clients act as
// root with umask 0.
type Client interface {
	// Root is the absolute path under which the union appears to its users
	// (the mount point, the `mfs run` target, the oracle directory). Symlinks
	// that mfs writes with absolute targets point below it.
	Root() string

	Lstat(p string) (Stat, unix.Errno)
	Stat(p string) (Stat, unix.Errno) // follows a final symlink
	Access(p string, mode uint32) unix.Errno
	// ReadFile opens p with O_RDONLY|flags and reads it to the end.
	ReadFile(p string, flags int) (string, unix.Errno)
	// WriteFile opens p with flags (which include O_WRONLY or O_RDWR and
	// maybe O_CREAT) and mode, writes data at offset 0 and closes it.
	WriteFile(p string, flags int, mode uint32, data string) unix.Errno
	Mkdir(p string, mode uint32) unix.Errno
	Mknod(p string, mode uint32, dev uint64) unix.Errno
	Symlink(target, p string) unix.Errno
	Readlink(p string) (string, unix.Errno)
	Link(oldp, newp string) unix.Errno
	Unlink(p string) unix.Errno
	Rmdir(p string) unix.Errno
	Rename(oldp, newp string, flags uint) unix.Errno // renameat2 flags
	Chmod(p string, mode uint32) unix.Errno          // chmod(2): follows symlinks
	Lchown(p string, uid, gid int) unix.Errno
	Utimens(p string, atime, mtime unix.Timespec) unix.Errno // AT_SYMLINK_NOFOLLOW
	Truncate(p string, size int64) unix.Errno                // truncate(2): follows symlinks
	// Readdir lists p without "." and "..".
	Readdir(p string) ([]Dirent, unix.Errno)
	Statfs(p string) (unix.Statfs_t, unix.Errno)
	// The xattr calls do not follow a final symlink (lgetxattr and friends).
	// A nil or empty buf asks for the size.
	Getxattr(p, name string, buf []byte) (int, unix.Errno)
	Listxattr(p string, buf []byte) (int, unix.Errno)
	Setxattr(p, name string, value []byte, flags int) unix.Errno
	Removexattr(p, name string) unix.Errno
}

// Stat is the part of a stat result the cases look at.
type Stat struct {
	Mode  uint32 // type and permission bits
	Size  int64
	Nlink uint64
	UID   uint32
	GID   uint32
	Ino   uint64
	Mtime unix.Timespec
	Atime unix.Timespec
}

// StatOf converts a unix.Stat_t.
func StatOf(s *unix.Stat_t) Stat {
	return Stat{Mode: s.Mode, Size: s.Size, Nlink: uint64(s.Nlink), UID: s.Uid, GID: s.Gid,
		Ino: s.Ino, Mtime: s.Mtim, Atime: s.Atim}
}

// Dirent is one readdir entry.
type Dirent struct {
	Name string
	Type uint8 // DT_*
	Ino  uint64
}
