package conformance

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Case is one row of the conformance table: branch layouts, options, one
// operation through the union, and what must be true afterwards.
type Case struct {
	// Name is "area/what", unique in the table. The area (before the first
	// slash) groups cases in reports.
	Name string
	// Doc says what the case shows when the name alone does not (spec
	// section, mergerfs quirk). Optional.
	Doc string
	// Branches are the branch directories in configured order.
	Branches []Branch
	// Opts are the mergerfs -o items, applied in order after branches=.
	// Most cases use o(...), which starts with minfreespace=1M so branches on
	// the shared temp filesystem are never "full" (the 4G default could be);
	// cases about minfreespace spell their options out.
	Opts []string
	// Op is the operation under test and Want its expected result.
	Op   Op
	Want Expect
	// After are further operations through the union, run after Op in order,
	// each with its own expectation (e.g. "the RO copy reappears").
	After []Step
	// Place is the placement after Op and After: for each listed path, the
	// exact set of branches holding it, plus optional content and metadata.
	Place []Where
	// AnyOf lists the acceptable placements of a randomised policy (rand,
	// eprand, pfrd, eppfrd, msppfrd), checked in addition to Place. A target
	// whose random source always returns 0 must produce AnyOf[0], one whose
	// source always returns n-1 must produce AnyOf[len-1]; any other target
	// may produce any of them.
	AnyOf [][]Where
	// POSIX marks a single-branch case of plain POSIX semantics: it also runs
	// against the Linux oracle (a plain directory), so it must have exactly
	// one RW branch on the shared filesystem and Opts that do not change
	// POSIX behaviour.
	POSIX bool
}

// Area returns the part of the name before the first slash.
func (c Case) Area() string {
	a, _, _ := strings.Cut(c.Name, "/")
	return a
}

// Random reports whether the case states alternative outcomes.
func (c Case) Random() bool { return len(c.AnyOf) > 0 }

// Step is a follow-up operation with its expectation.
type Step struct {
	Op   Op
	Want Expect
}

// Branch describes one branch directory.
type Branch struct {
	Mode    string   // "RW" (default when empty), "RO" or "NC"
	MinFree string   // the branch's own minfreespace (PATH=MODE,SIZE); "" = the global one
	Size    string   // back the branch with a tmpfs of this size (e.g. "8M") so its free space differs
	ROFS    bool     // remount that tmpfs read-only after populating it (ST_RDONLY); needs Size
	Missing bool     // the branch directory does not exist
	Layout  []string // makefs lines, see doc.go
}

func rw(lines ...string) Branch { return Branch{Mode: "RW", Layout: lines} }
func ro(lines ...string) Branch { return Branch{Mode: "RO", Layout: lines} }
func nc(lines ...string) Branch { return Branch{Mode: "NC", Layout: lines} }

// tmpfs backs the branch with a tmpfs of size.
func (b Branch) tmpfs(size string) Branch { b.Size = size; return b }

// minfree gives the branch its own minfreespace.
func (b Branch) minfree(s string) Branch { b.MinFree = s; return b }

// rofs mounts the (tmpfs) branch read-only after populating it.
func (b Branch) rofs() Branch { b.ROFS = true; return b }

// missing makes the branch directory absent.
func (b Branch) missing() Branch { b.Missing = true; return b }

func bs(b ...Branch) []Branch { return b }

// mf1M is the minfreespace most cases use: small enough that no branch on the
// shared temp filesystem counts as full.
const mf1M = "minfreespace=1M"

// o returns the -o items minfreespace=1M followed by items.
func o(items ...string) []string { return append([]string{mf1M}, items...) }

// --- operations ----------------------------------------------------------

// Op is one operation through the union. Paths are union paths relative to
// the union root, without a leading slash ("" is the root).
type Op struct {
	Kind  string // see the constructors below
	Path  string
	Path2 string // rename/link destination
	Data  string // file content, symlink target or xattr value
	Name  string // xattr name
	Mode  uint32
	Flags int    // open flags, renameat2 flags, xattr flags or access mode
	UID   int    // lchown
	GID   int    // lchown
	Size  int64  // truncate size
	Dev   uint64 // mknod device
	Atime unix.Timespec
	Mtime unix.Timespec
	Buf   int // xattr buffer size: 0 asks for the size, >0 that many bytes, -1 a large buffer
}

// omitTime passed to utimens means UTIME_OMIT.
const omitTime = -1

func ts(sec int64) unix.Timespec {
	if sec == omitTime {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.Timespec{Sec: sec}
}

func (op Op) String() string {
	switch op.Kind {
	case "rename", "link":
		return fmt.Sprintf("%s(%q, %q, %#x)", op.Kind, op.Path, op.Path2, op.Flags)
	case "symlink":
		return fmt.Sprintf("symlink(%q -> %q)", op.Path, op.Data)
	case "getxattr", "removexattr":
		return fmt.Sprintf("%s(%q, %q, buf=%d)", op.Kind, op.Path, op.Name, op.Buf)
	case "setxattr":
		return fmt.Sprintf("setxattr(%q, %q=%q, %#x)", op.Path, op.Name, op.Data, op.Flags)
	case "write":
		return fmt.Sprintf("open(%q, %#o, %#o)+write(%q)", op.Path, op.Flags, op.Mode, op.Data)
	case "read":
		return fmt.Sprintf("open(%q, %#o)+read", op.Path, op.Flags)
	case "mkdir", "mknod", "chmod":
		return fmt.Sprintf("%s(%q, %#o)", op.Kind, op.Path, op.Mode)
	case "lchown":
		return fmt.Sprintf("lchown(%q, %d, %d)", op.Path, op.UID, op.GID)
	case "utimens":
		return fmt.Sprintf("utimens(%q, %d.%09d, %d.%09d)", op.Path, op.Atime.Sec, op.Atime.Nsec, op.Mtime.Sec, op.Mtime.Nsec)
	case "truncate":
		return fmt.Sprintf("truncate(%q, %d)", op.Path, op.Size)
	}
	return fmt.Sprintf("%s(%q)", op.Kind, op.Path)
}

func lstat(p string) Op            { return Op{Kind: "lstat", Path: p} }
func stat(p string) Op             { return Op{Kind: "stat", Path: p} }
func access(p string, m uint32) Op { return Op{Kind: "access", Path: p, Flags: int(m)} }
func read(p string) Op             { return Op{Kind: "read", Path: p} }
func readf(p string, fl int) Op    { return Op{Kind: "read", Path: p, Flags: fl} }

// openw opens p with O_WRONLY|fl (mode 0644 if it creates) and writes data.
func openw(p string, fl int, data string) Op {
	return Op{Kind: "write", Path: p, Flags: unix.O_WRONLY | fl, Mode: 0o644, Data: data}
}

// create is open(p, O_WRONLY|O_CREAT|O_EXCL, 0644) plus a write of data.
func create(p, data string) Op { return openw(p, unix.O_CREAT|unix.O_EXCL, data) }

// createm is create with an explicit mode.
func createm(p string, mode uint32, data string) Op {
	op := create(p, data)
	op.Mode = mode
	return op
}

func mkdir(p string, m uint32) Op        { return Op{Kind: "mkdir", Path: p, Mode: m} }
func mkfifo(p string, m uint32) Op       { return Op{Kind: "mknod", Path: p, Mode: unix.S_IFIFO | m} }
func symlink(target, p string) Op        { return Op{Kind: "symlink", Path: p, Data: target} }
func readlink(p string) Op               { return Op{Kind: "readlink", Path: p} }
func link(old, new string) Op            { return Op{Kind: "link", Path: old, Path2: new} }
func unlink(p string) Op                 { return Op{Kind: "unlink", Path: p} }
func rmdir(p string) Op                  { return Op{Kind: "rmdir", Path: p} }
func rename(old, new string) Op          { return Op{Kind: "rename", Path: old, Path2: new} }
func rename2(old, new string, fl int) Op { return Op{Kind: "rename", Path: old, Path2: new, Flags: fl} }
func chmod(p string, m uint32) Op        { return Op{Kind: "chmod", Path: p, Mode: m} }
func lchown(p string, u, g int) Op       { return Op{Kind: "lchown", Path: p, UID: u, GID: g} }
func utimens(p string, a, m int64) Op {
	return Op{Kind: "utimens", Path: p, Atime: ts(a), Mtime: ts(m)}
}
func truncate(p string, n int64) Op { return Op{Kind: "truncate", Path: p, Size: n} }
func readdir(p string) Op           { return Op{Kind: "readdir", Path: p} }
func statfs(p string) Op            { return Op{Kind: "statfs", Path: p} }
func getxattr(p, name string) Op    { return Op{Kind: "getxattr", Path: p, Name: name, Buf: -1} }
func getxattrN(p, name string, n int) Op {
	return Op{Kind: "getxattr", Path: p, Name: name, Buf: n}
}
func listxattr(p string) Op { return Op{Kind: "listxattr", Path: p, Buf: -1} }
func setxattr(p, name, v string, fl int) Op {
	return Op{Kind: "setxattr", Path: p, Name: name, Data: v, Flags: fl}
}
func removexattr(p, name string) Op { return Op{Kind: "removexattr", Path: p, Name: name} }

// --- expectations ----------------------------------------------------------

// Expect is what an operation must return. Zero fields are not checked,
// except Err: the errno must always match (0 = success).
type Expect struct {
	Err unix.Errno
	// Out is the expected output of read, readlink and getxattr (and the
	// names of listxattr joined by NULs). Placeholders: {0}, {1}, ... expand
	// to branch directories, {mnt} to the client's root.
	Out *string
	// OutAnyOf lists acceptable outputs of a randomised search policy, with
	// the pinning rules of Case.AnyOf.
	OutAnyOf []string
	// N is the size getxattr/listxattr returned.
	N *int
	// Stat is a stat spec for lstat/stat: "f 0644 size=5 nlink=1 uid=0
	// gid=0 mtime=1000"; the type letter is one of f d l p s c b.
	Stat string
	// Ino states the expected inode number per front-end inode mode:
	// "branch:K" (the branch file's own st_ino on branch K), "same:PATH" or
	// "diff:PATH" (compared with lstat of PATH through the union), "lt32"
	// (fits in 32 bits), "prev" or "notprev" (compared with the previous
	// stat result of the case).
	Ino map[InodeMode]string
	// Names is the exact listing of readdir without "." and "..", in any
	// order (nil: unchecked; empty: an empty directory).
	Names []string
	// Types gives d_type per name for readdir: 'f', 'd', 'l', 'p'.
	Types map[string]byte
	// Has and Lacks: names that readdir or listxattr must / must not return.
	Has, Lacks []string
	// Statfs checks a statfs result against the branches' own statvfs.
	Statfs *StatfsWant
}

// StatfsWant says which branches a statfs result must sum.
type StatfsWant struct {
	Sum     []int // branches counted (one per device, first wins)
	NoAvail []int // of those, branches whose available space is reported as 0
}

func num(n int) *int { return &n }

func fail(e unix.Errno) Expect { return Expect{Err: e} }
func out(s string) Expect      { return Expect{Out: &s} }
func st(spec string) Expect    { return Expect{Stat: spec} }

// names expects exactly these readdir entries.
func names(n ...string) Expect {
	if n == nil {
		n = []string{}
	}
	return Expect{Names: n}
}

// --- placement ---------------------------------------------------------------

// Where states where a path exists afterwards, looking at the branch
// directories directly.
type Where struct {
	Path string
	On   []int // exactly these branches hold Path (none: it exists nowhere)
	// Subset relaxes On to "at least these branches": the other branches are
	// not looked at (for per-branch attributes next to an exact statement).
	Subset bool
	Type   byte // 'f', 'd', 'l', 'p'; 0 = unchecked
	Data   *string
	Perm   *uint32
	UID    *int
	GID    *int
	Mtime  *int64
	Link   *string // symlink target
	Xattr  map[string]string
}

// at says path exists on exactly the given branches.
func at(path string, on ...int) Where {
	if on == nil {
		on = []int{}
	}
	return Where{Path: path, On: on}
}

// in says path exists on at least the given branches; the attribute
// checks apply to those.
func in(path string, on ...int) Where {
	w := at(path, on...)
	w.Subset = true
	return w
}

// nowhere says path exists on no branch.
func nowhere(path string) Where { return at(path) }

func (w Where) file(data string) Where { w.Type, w.Data = 'f', &data; return w }
func (w Where) dir() Where             { w.Type = 'd'; return w }
func (w Where) fifo() Where            { w.Type = 'p'; return w }
func (w Where) link(t string) Where    { w.Type, w.Link = 'l', &t; return w }
func (w Where) perm(p uint32) Where    { w.Perm = &p; return w }
func (w Where) mtime(s int64) Where    { w.Mtime = &s; return w }
func (w Where) owner(u, g int) Where   { w.UID, w.GID = &u, &g; return w }
func (w Where) xattr(k, v string) Where {
	m := map[string]string{}
	for a, b := range w.Xattr {
		m[a] = b
	}
	m[k] = v
	w.Xattr = m
	return w
}

func places(w ...Where) []Where { return w }

func (w Where) String() string {
	on := append([]int(nil), w.On...)
	sort.Ints(on)
	return fmt.Sprintf("%q on %v", w.Path, on)
}
