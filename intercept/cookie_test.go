package intercept

import (
	"hash/fnv"
	"strconv"
	"testing"
)

// TestCookie: "." and ".." are 1 and 2, every other name an FNV-1a hash
// below 2^bits and above 2 (as hash/fnv computes it), so offsets fit a
// 32-bit telldir for i386 tasks.
func TestCookie(t *testing.T) {
	if cookie(".", 40) != 1 || cookie("..", 31) != 2 {
		t.Fatal("dot cookies")
	}
	for i := 0; i < 5000; i++ {
		name := "name-" + strconv.Itoa(i*7919)
		for _, bits := range []uint{31, 40} {
			h := fnv.New64a()
			h.Write([]byte(name))
			want := h.Sum64()%(1<<bits-3) + 3
			if got := cookie(name, bits); got != want || got < 3 || got >= 1<<bits {
				t.Fatalf("cookie(%q, %d) = %d, want %d", name, bits, got, want)
			}
		}
	}
}
