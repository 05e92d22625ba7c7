package vfs

import "unsafe"

// nameArena holds the names of a directory listing in a few large blocks
// instead of one allocation each: a 10,000-entry listing merged from three
// branches allocated 30,000 strings, most of its cost after the getdents
// calls themselves. A string points into a block that is never written
// again once the string exists, so the strings stay immutable; a block
// lives as long as any name in it.
type nameArena struct {
	block []byte
}

const nameBlock = 32 << 10

// str returns b as a string stored in the arena (b itself is not kept).
// want bounds the bytes the caller may still store (those of the getdents
// records left to parse, which hold their names): a new block is no larger
// than that, so a 100-name directory costs a few KiB, not a 32 KiB block
// per branch — garbage the daemon's collector then has to chase.
func (a *nameArena) str(b []byte, want int) string {
	if len(b) == 0 {
		return ""
	}
	if len(a.block)+len(b) > cap(a.block) {
		a.block = make([]byte, 0, max(min(nameBlock, want), len(b)))
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[start], len(b))
}
