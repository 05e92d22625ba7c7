package fusemode

import (
	"runtime"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/mfs-union/mfs/vfs/config"
)

// Threads. mergerfs reads /dev/fuse with read-thread-count threads, each of
// which also processes what it read, unless process-thread-count ≥ 0 adds a
// pool of that many processing threads fed through queues; either way, the
// number of requests processed at once is one pool's size. mfs's request
// loop (loop.go) sizes itself: one goroutine reads and answers while callers
// come one at a time, more join while requests of several threads queue up
// or one request is slow, and the Go scheduler runs them on GOMAXPROCS
// threads. go-fuse (v2.12), whose ProtocolServer decodes the requests, has
// no thread knob either: its one limit, MountOptions.MaxInflightRequestBytes,
// counts buffer bytes, not requests.
//
// So mfs bounds the requests processed at once itself (gatedFS), when
// either option is given explicitly:
//
//	process-thread-count = -1 (default): at most read-thread-count requests,
//	  sized R > 0 → R; 0 → CPUs, at most 8; R < 0 → CPUs/-R (≥ 1)
//	process-thread-count ≥ 0 or < -1:    at most process-thread-count
//	  requests, sized the same way; reading is never the bottleneck (a
//	  reader goroutine joins whenever the others are busy), so
//	  read-thread-count then only matters as in mergerfs, not at all
//
// Without either option no bound is set beyond the loop's own (mergerfs's
// default, CPUs up to 8 threads, would only slow a Go server down).
// pin-threads and process-thread-queue-depth have no equivalent and are
// ignored with a warning.

// threadCount sizes a thread pool like mergerfs: n > 0 as is, 0 → CPUs (at
// most 8), n < 0 → CPUs/-n, at least 1.
func threadCount(n int) int {
	cpus := runtime.NumCPU()
	switch {
	case n > 0:
		return n
	case n == 0:
		return min(cpus, 8)
	}
	return max(cpus/-n, 1)
}

// maxInFlight is the number of requests mfs processes at once, 0 for no
// bound.
func maxInFlight(o *config.Options) int {
	if !explicit(o, "read-thread-count") && !explicit(o, "threads") && !explicit(o, "process-thread-count") {
		return 0
	}
	if o.ProcessThreadCount == -1 {
		return threadCount(o.ReadThreadCount)
	}
	return threadCount(o.ProcessThreadCount)
}

// fileSystem returns what go-fuse serves: the rawFS, gated when the thread
// options bound the requests in flight.
func fileSystem(r *rawFS, o *config.Options) fuse.RawFileSystem {
	if n := maxInFlight(o); n > 0 {
		return &gatedFS{rawFS: r, slots: make(chan struct{}, n)}
	}
	return r
}
