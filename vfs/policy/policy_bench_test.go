package policy

import (
	"fmt"
	"math/bits"
	"testing"
)

// benchEnv is a warm pool: statvfs figures precomputed (as with a hot
// cache.statfs), existence answered from one map per branch, and a cheap
// deterministic RandN. It is not safe for concurrent use.
type benchEnv struct {
	modes   []Mode
	minfree []uint64
	space   []Space
	files   []map[string]int64
	x       uint64
}

// newBenchEnv returns n RW branches, each holding benchRel, with distinct
// space figures all above minfreespace, so every branch is eligible.
func newBenchEnv(n int) *benchEnv {
	e := &benchEnv{
		modes:   make([]Mode, n),
		minfree: make([]uint64, n),
		space:   make([]Space, n),
		files:   make([]map[string]int64, n),
	}
	for i := range n {
		avail := (splitmix(uint64(i))%1000 + 10) << 30
		e.minfree[i] = 4 << 30
		e.space[i] = Space{Avail: avail, Used: 4<<40 - avail}
		e.files[i] = map[string]int64{"": 0, "media": 1, benchRel: 2}
	}
	return e
}

const benchRel = "media/tv"

func (e *benchEnv) NumBranches() int                      { return len(e.modes) }
func (e *benchEnv) Mode(i int) Mode                       { return e.modes[i] }
func (e *benchEnv) MinFreeSpace(i int) uint64             { return e.minfree[i] }
func (e *benchEnv) Space(i int) (Space, error)            { return e.space[i], nil }
func (e *benchEnv) Lstat(i int, rel string) (int64, bool) { mt, ok := e.files[i][rel]; return mt, ok }

func (e *benchEnv) RandN(n uint64) uint64 {
	e.x = e.x*6364136223846793005 + 1442695040888963407
	hi, _ := bits.Mul64(e.x, n)
	return hi
}

// BenchmarkPick measures one Create call on a warm pool, with a reused dst.
//
//	go test -run x -bench . -benchmem ./vfs/policy/
func BenchmarkPick(b *testing.B) {
	for _, name := range []string{"ff", "mfs", "epff", "rand", "pfrd"} {
		p, _ := Lookup(name)
		for _, n := range []int{3, 5, 10, 20, 50} {
			b.Run(fmt.Sprintf("policy=%s/branches=%d", name, n), func(b *testing.B) {
				env := newBenchEnv(n)
				dst := make([]int, 0, n)
				b.ReportAllocs()
				for b.Loop() {
					dst, _ = p.Create(env, benchRel, dst[:0])
				}
				if len(dst) != 1 {
					b.Fatalf("%s chose %v", name, dst)
				}
			})
		}
	}
}
