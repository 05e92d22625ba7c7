package intercept

import (
	"hash/fnv"
	"reflect"
	"sort"
	"strconv"
	"testing"

	"github.com/mfs-union/mfs/vfs"
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

// snapEntries orders a listing by (cookie, name) and bumps colliding
// cookies to the next free value: checked against that rule spelled out,
// with cookies narrow enough that most names collide, and with the wide
// ones a listing uses.
func TestSnapEntries(t *testing.T) {
	var ds []vfs.Dirent
	for i := 0; i < 300; i++ {
		ds = append(ds, vfs.Dirent{Name: "n" + strconv.Itoa(i*31), Ino: uint64(100 + i), RealIno: uint64(i % 3 * 7), Type: uint8(i % 2 * 4)})
	}
	ds = append(ds, vfs.Dirent{Name: ".", Ino: 1}, vfs.Dirent{Name: "..", Ino: 2})
	for _, bits := range []uint{5, 40} {
		want := make([]dirEnt, 0, len(ds))
		for _, d := range ds {
			ino := d.RealIno
			if ino == 0 {
				ino = d.Ino
			}
			want = append(want, dirEnt{name: d.Name, ino: ino, typ: d.Type, off: cookie(d.Name, bits)})
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].off != want[j].off {
				return want[i].off < want[j].off
			}
			return want[i].name < want[j].name
		})
		for i := 1; i < len(want); i++ {
			if want[i].off <= want[i-1].off {
				want[i].off = want[i-1].off + 1
			}
		}
		if got := snapEntries(ds, bits); !reflect.DeepEqual(got, want) {
			t.Errorf("bits %d: snapEntries differs from the rule:\n got %v\nwant %v", bits, got[:8], want[:8])
		}
		// The route of directories too big for packed keys.
		if got := snapEntriesLarge(ds, bits); !reflect.DeepEqual(got, want) {
			t.Errorf("bits %d: snapEntriesLarge differs from the rule:\n got %v\nwant %v", bits, got[:8], want[:8])
		}
	}
}
