package intercept

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reaper is the process-wide child reaper shared by concurrent Runs. While
// any Run is active the process is a child subreaper, so orphans of every
// workload are reparented to it; the reaper reaps every child (wait4(-1))
// and hands the status of each Run's stub (which became CMD) to that Run.
// A Run then finishes when its stub has been reaped and its listener hung
// up (every task carrying its filter has exited), so concurrent Runs never
// wait for each other or see each other's statuses.
//
// Children that other code in the process starts and waits for itself
// (os/exec) are reaped too while a Run is active, and their Wait fails:
// `mfs run` has no such children; tests run them outside a Run.
var reaper = reaperState{
	waiting: map[int]chan unix.WaitStatus{},
	kick:    make(chan struct{}, 1),
}

type reaperState struct {
	mu      sync.Mutex
	users   int
	wasSub  bool // the process was a subreaper before the first Run
	running bool
	waiting map[int]chan unix.WaitStatus // stub pid → its Run
	kick    chan struct{}
}

// acquire makes the process a subreaper and starts the loop.
func (r *reaperState) acquire() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users++
	var err error
	if r.users == 1 {
		r.wasSub = isChildSubreaper()
		err = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	if !r.running {
		r.running = true
		go r.loop()
	}
	return err
}

func (r *reaperState) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users--
	if r.users == 0 && !r.wasSub {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	}
	r.wake()
}

// active is the number of Runs in progress.
func (r *reaperState) active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.users
}

// start runs start (which forks a child) and registers the child for its
// wait status. r.mu is held across both, so the loop, which takes it before
// dispatching a status, cannot reap the child unseen.
func (r *reaperState) start(start func() (*os.Process, error)) (*os.Process, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	p, err := start()
	var ch chan unix.WaitStatus
	if err == nil {
		ch = make(chan unix.WaitStatus, 1)
		r.waiting[p.Pid] = ch
	}
	r.mu.Unlock()
	r.wake()
	return p, ch, err
}

func (r *reaperState) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *reaperState) loop() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing to reap now
			r.mu.Lock()
			if r.users == 0 && len(r.waiting) == 0 {
				r.running = false
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
			select {
			case <-r.kick:
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		r.mu.Lock()
		if ch, ok := r.waiting[pid]; ok { // else an orphan of some workload
			delete(r.waiting, pid)
			ch <- ws
		}
		r.mu.Unlock()
	}
}
