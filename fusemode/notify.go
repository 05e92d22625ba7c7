package fusemode

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Kernel cache invalidations the daemon sends on its own
// (FUSE_NOTIFY_INVAL_ENTRY). The kernel takes the parent directory's inode
// lock to apply one, and an operation such as RENAME holds that lock until
// its reply is processed: a notification sent from inside the handler would
// deadlock. So each one is sent from its own goroutine, which blocks in the
// kernel until the request that caused it has been answered and the
// syscall has dropped its locks.
//
// That leaves a window in which the caller's next syscall may still find the
// stale entry. Its path walk passes through the directory whose attributes
// the rename invalidated, and with default_permissions the kernel first asks
// GETATTR of that directory. GETATTR therefore waits, briefly, for
// notifications in flight (waitNotified): by the time it answers, the stale
// entry is gone. The wait is bounded (notifyWait) because a GETATTR may come
// from a syscall that holds the very directory lock the notification needs
// (create in that directory); the notification then completes after it.

// notifyWait bounds how long a request waits for notifications in flight.
const notifyWait = 100 * time.Millisecond

type notifier struct {
	pending atomic.Int32 // notifications in flight (fast path: 0)
	mu      sync.Mutex
	idle    chan struct{} // closed when pending drops to 0
}

func (n *notifier) start() {
	n.mu.Lock()
	if n.pending.Add(1) == 1 {
		n.idle = make(chan struct{})
	}
	n.mu.Unlock()
}

func (n *notifier) finish() {
	n.mu.Lock()
	if n.pending.Add(-1) == 0 {
		close(n.idle)
		n.idle = nil
	}
	n.mu.Unlock()
}

// waitNotified waits up to notifyWait for the notifications in flight.
func (r *rawFS) waitNotified() {
	if r.notify.pending.Load() == 0 {
		return
	}
	r.notify.mu.Lock()
	ch := r.notify.idle
	r.notify.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(notifyWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// invalidateEntry drops the kernel's cached entry of name in directory
// parent once the current request has been answered.
func (r *rawFS) invalidateEntry(parent uint64, name string) {
	if r.srv == nil {
		return
	}
	r.notify.start()
	go func() {
		defer r.notify.finish()
		// ENOENT: the kernel no longer has the entry (or the parent);
		// nothing to drop.
		if st := r.srv.EntryNotify(parent, name); !st.Ok() && st != fuse.ENOENT {
			r.log.Debug("fusemode: entry invalidation", "parent", parent, "name", name, "status", st)
		}
	}()
}
