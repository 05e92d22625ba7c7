package policy

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestZeroAllocs holds the hot path to its budget: with a reused dst, no
// behaviour of any policy allocates on a warm 50-branch pool (weighted picks
// keep up to 64 candidates on the stack).
func TestZeroAllocs(t *testing.T) {
	env := newBenchEnv(50)
	for _, name := range Names {
		p, _ := Lookup(name)
		for c := Category(0); c < NumCategories; c++ {
			fn := p.Fn(c)
			dst := make([]int, 0, 64)
			allocs := testing.AllocsPerRun(100, func() {
				dst, _ = fn(env, benchRel, dst[:0])
			})
			if allocs != 0 {
				t.Errorf("%s %v: %v allocations per call, want 0", name, c, allocs)
			}
		}
	}
}

// TestManyCandidates covers pools larger than the weighted picks' stack
// buffer.
func TestManyCandidates(t *testing.T) {
	const n = 3 * weightedStack
	br := make([]fb, n)
	for i := range br {
		br[i] = b(1, "f")
	}
	for _, draw := range []uint64{0, weightedStack - 1, weightedStack, n - 1} {
		for _, name := range []string{"pfrd", "eppfrd", "rand", "eprand"} {
			t.Run(fmt.Sprintf("pol=%s/draw=%d", name, draw), func(t *testing.T) {
				p, _ := Lookup(name)
				fe := newEnv(br...)
				fe.draws = []uint64{draw}
				got, e := p.Create(fe, "f", nil)
				if e != 0 || !slices.Equal(got, []int{int(draw)}) || !slices.Equal(fe.asked, []uint64{n}) {
					t.Errorf("got %v, %v (RandN asked %v); want [%d]", got, e, fe.asked, draw)
				}
			})
		}
	}
	p, _ := Lookup("all")
	got, e := p.Create(newEnv(br...), "f", nil)
	if e != 0 || len(got) != n {
		t.Errorf("all: got %d branches, %v; want %d", len(got), e, n)
	}
}

// TestConcurrent runs every policy from several goroutines on one shared Env
// (meaningful under -race: policies must keep no state of their own).
func TestConcurrent(t *testing.T) {
	env := &syncEnv{fe: newEnv(
		b(10, "a", "a/b@3"), b(50, "a@2").nc(), b(30, "a", "a/b@5").ro(), b(0, "a/b@5").min(5), b(70, "a/b@4").rofs(),
	)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			dst := make([]int, 0, 8)
			for it := range 200 {
				for _, name := range Names {
					p, _ := Lookup(name)
					for c := Category(0); c < NumCategories; c++ {
						rel := []string{"", "a", "a/b", "a/b/c"}[(g+it)%4]
						var e unix.Errno
						dst, e = p.Fn(c)(env, rel, dst[:0])
						if (e == 0) == (len(dst) == 0) {
							t.Errorf("%s %v %q: got %v, %v", name, c, rel, dst, e)
						}
						for _, i := range dst {
							if i < 0 || i >= env.NumBranches() {
								t.Errorf("%s %v %q: branch %d out of range", name, c, rel, i)
							}
						}
					}
				}
			}
		})
	}
	wg.Wait()
}
