package vfs

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"testing"
)

// TestInlineFNV: the allocation-free FNV-1a gives hash/fnv's numbers, so
// inode numbers are those of earlier releases (NFS handles, hard-link
// detection by tools, backups comparing inode numbers).
func TestInlineFNV(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.IntN(80))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		path, ino := string(b), r.Uint64()
		h := fnv.New64a()
		h.Write([]byte{'/'})
		h.Write(b)
		if got, want := pathHash(path), h.Sum64(); got != want {
			t.Fatalf("pathHash(%q) = %x, want %x", path, got, want)
		}
		h = fnv.New64a()
		h.Write(b)
		var le [8]byte
		binary.LittleEndian.PutUint64(le[:], ino)
		h.Write(le[:])
		if got, want := devinoHash(path, ino), h.Sum64(); got != want {
			t.Fatalf("devinoHash(%q, %d) = %x, want %x", path, ino, got, want)
		}
		for _, mode := range []string{"passthrough", "path-hash", "path-hash32", "devino-hash", "devino-hash32", "hybrid-hash", "hybrid-hash32"} {
			for _, dir := range []bool{false, true} {
				rel := path
				if !inodeNeedsPath(mode, dir) {
					rel = "" // what a listing passes when the path is not needed
				}
				if a, b := inodeCalc(mode, "/br", path, ino, dir), inodeOf(mode, fnvString(fnvOffset, "/br"), rel, ino, dir); a != b {
					t.Fatalf("%s dir=%v: inodeCalc %d, inodeOf without the path %d", mode, dir, a, b)
				}
			}
		}
	}
}
