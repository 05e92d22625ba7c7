package vfs

import (
	"golang.org/x/sys/unix"
)

// inode computes the st_ino / d_ino a mount presents for rel on branch i
// (inodecalc). Values are stable for one configuration: they depend only on the
// relative path, the branch path and the branch file's st_ino.
func (s *state) inode(i int, rel string, st *unix.Stat_t) uint64 {
	return inodeCalc(string(s.opts.InodeCalc), s.branches[i].path, rel, st.Ino, st.Mode&unix.S_IFMT == unix.S_IFDIR)
}

func inodeCalc(mode, branchPath, rel string, ino uint64, isDir bool) uint64 {
	return inodeOf(mode, fnvString(fnvOffset, branchPath), rel, ino, isDir)
}

// inodeNeedsPath reports whether inodecalc mode uses the entry's path (a
// merged listing then builds it; it need not for hybrid-hash files).
func inodeNeedsPath(mode string, isDir bool) bool {
	switch mode {
	case "passthrough", "devino-hash", "devino-hash32":
		return false
	case "path-hash", "path-hash32":
		return true
	}
	return isDir // hybrid-hash, hybrid-hash32
}

// inodeOf is inodeCalc with the branch path already hashed (branchSeed:
// fnvString(fnvOffset, branchPath)), for listings of thousands of entries.
func inodeOf(mode string, branchSeed uint64, rel string, ino uint64, isDir bool) uint64 {
	switch mode {
	case "passthrough":
		return ino
	case "path-hash":
		return nonZero(pathHash(rel))
	case "path-hash32":
		return nonZero(fold32(pathHash(rel)))
	case "devino-hash":
		return nonZero(fnvUint64(branchSeed, ino))
	case "devino-hash32":
		return nonZero(fold32(fnvUint64(branchSeed, ino)))
	case "hybrid-hash32":
		if isDir {
			return nonZero(fold32(pathHash(rel)))
		}
		return nonZero(fold32(fnvUint64(branchSeed, ino)))
	}
	// hybrid-hash, the default: directories by path so they keep one number
	// across branches, everything else by branch and st_ino so hard links agree.
	if isDir {
		return nonZero(pathHash(rel))
	}
	return nonZero(fnvUint64(branchSeed, ino))
}

// FNV-1a 64, written out so hashing allocates nothing (hash/fnv's interface
// value does): the same numbers as fnv.New64a.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// fnvUint64 hashes v's 8 little-endian bytes.
func fnvUint64(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

func pathHash(rel string) uint64 {
	return fnvString(fnvString(fnvOffset, "/"), rel)
}

func devinoHash(branchPath string, ino uint64) uint64 {
	return fnvUint64(fnvString(fnvOffset, branchPath), ino)
}

func fold32(h uint64) uint64 { return (h >> 32) ^ (h & 0xffffffff) }

// nonZero keeps 0 and 1 free: 0 means "no inode" to many tools and 1 is the FUSE root.
func nonZero(h uint64) uint64 {
	if h < 2 {
		return h + 2
	}
	return h
}
