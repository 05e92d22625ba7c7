package bench

import (
	"runtime"
	"sync/atomic"
	"time"
)

// The worker's calls pass through the Go scheduler every yieldEvery.
//
// A goroutine that only enters and leaves system calls is never
// rescheduled, and after 10 ms the runtime's monitor thread (sysmon) counts
// it as hogging its P: whenever it then finds the goroutine in a system
// call it takes the P away, at every 20 µs tick, and the goroutine must win
// a P back when the call returns. A call that blocks for microseconds (a
// trapped call under `run`, an uncached request on a FUSE mount) is then
// caught nearly every time. A C tool has no such cost, and the worker stands
// in for the workload, not for Go: measured under `mfs run`, pinned, a Go
// loop of lstat over a 1,000-entry union directory took 19-22 µs per entry,
// 13-16 µs with this yield, a C loop 9-17 µs in the same (noisy) rounds;
// list-stat-1000 257-262 → 175-195 ms, traverse-5 127-187 → 86-124 ms (3
// alternating `mfs bench --scenarios list-stat-1000,traverse-5 --modes
// native,run --runs 1 --pin 0` each). Natively calls return before the
// monitor looks, so the yield, a Gosched every 2 ms, changes nothing there
// (native list-stat-1000 24-31 ms either way). The clock is read every
// yieldCheck calls only.
const (
	yieldEvery = int64(2 * time.Millisecond)
	yieldCheck = 16
)

type yielder struct {
	calls atomic.Uint32
	last  atomic.Int64
	now   func() int64
	yield func()
}

var workerYield = yielder{now: monoNow, yield: runtime.Gosched}

var monoBase = time.Now()

func monoNow() int64 { return int64(time.Since(monoBase)) }

// tick counts one call and yields when yieldEvery has passed since the
// last yield (of any goroutine of the worker: they share the CPU).
func (y *yielder) tick() {
	if y.calls.Add(1)%yieldCheck != 0 {
		return
	}
	now := y.now()
	if last := y.last.Load(); now-last >= yieldEvery && y.last.CompareAndSwap(last, now) {
		y.yield()
	}
}
