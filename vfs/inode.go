package vfs

import (
	"encoding/binary"
	"hash/fnv"

	"golang.org/x/sys/unix"
)

// inode computes the st_ino / d_ino a mount presents for rel on branch i
// (inodecalc). Values are stable for one configuration: they depend only on the
// relative path, the branch path and the branch file's st_ino.
func (s *state) inode(i int, rel string, st *unix.Stat_t) uint64 {
	return inodeCalc(string(s.opts.InodeCalc), s.branches[i].path, rel, st.Ino, st.Mode&unix.S_IFMT == unix.S_IFDIR)
}

func inodeCalc(mode, branchPath, rel string, ino uint64, isDir bool) uint64 {
	switch mode {
	case "passthrough":
		return ino
	case "path-hash":
		return nonZero(pathHash(rel))
	case "path-hash32":
		return nonZero(fold32(pathHash(rel)))
	case "devino-hash":
		return nonZero(devinoHash(branchPath, ino))
	case "devino-hash32":
		return nonZero(fold32(devinoHash(branchPath, ino)))
	case "hybrid-hash32":
		if isDir {
			return nonZero(fold32(pathHash(rel)))
		}
		return nonZero(fold32(devinoHash(branchPath, ino)))
	}
	// hybrid-hash, the default: directories by path so they keep one number
	// across branches, everything else by branch and st_ino so hard links agree.
	if isDir {
		return nonZero(pathHash(rel))
	}
	return nonZero(devinoHash(branchPath, ino))
}

func pathHash(rel string) uint64 {
	h := fnv.New64a()
	h.Write([]byte{'/'})
	h.Write([]byte(rel))
	return h.Sum64()
}

func devinoHash(branchPath string, ino uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(branchPath))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], ino)
	h.Write(b[:])
	return h.Sum64()
}

func fold32(h uint64) uint64 { return (h >> 32) ^ (h & 0xffffffff) }

// nonZero keeps 0 and 1 free: 0 means "no inode" to many tools and 1 is the FUSE root.
func nonZero(h uint64) uint64 {
	if h < 2 {
		return h + 2
	}
	return h
}
