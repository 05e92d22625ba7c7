package intercept

// Regression tests for bugs `mfs bench` found in `mfs run`.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// signalStorm sends SIGURG (the Go runtime's preemption signal, which it
// ignores when no preemption is pending) to every thread of this process,
// the supervisor's receivers included, until the returned stop is called.
func signalStorm() (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pid := os.Getpid()
		for {
			select {
			case <-quit:
				return
			default:
			}
			ents, _ := os.ReadDir("/proc/self/task")
			for _, e := range ents {
				if tid, err := strconv.Atoi(e.Name()); err == nil {
					unix.Tgkill(pid, tid, unix.SIGURG)
				}
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// TestRegressInjectSignal: an open inside a union must return the injected
// fd even when the receiving thread takes a signal during ADDFD|SEND.
// The kernel marks the notification replied before it waits for the task
// to install the fd; a signal that ends that wait withdraws the fd but
// leaves the reply (value 0) in place, so the open returned 0 without
// installing anything: rsync's receiver then closed "fd 0", its input
// from the sender, and the transfer broke (bench/RESULTS.md, bug 2; the
// Go runtime's SIGURG preemption of the busy receiver was the signal).
//
// Receivers' threads block signals for good (blockSignals); with the CPU
// profiler on they do not, and each injection blocks them for its ioctl:
// both ways are run.
func TestRegressInjectSignal(t *testing.T) {
	for _, profiling := range []bool{false, true} {
		t.Run(fmt.Sprintf("profiling-%v", profiling), func(t *testing.T) {
			f := newFixture(t, nil, []string{"f=data"})
			h := goHelper(t)
			stop := signalStorm()
			r := f.runCfg(t, Config{Argv: []string{h, "openverify", f.target + "/f", "5000"}, Profiling: profiling})
			stop()
			if r.err != nil || r.code != 0 {
				t.Fatalf("code %d err %v\nstderr: %s", r.code, r.err, strings.TrimSpace(r.stderr))
			}
		})
	}
}

// TestRegressConcurrentOpenCreate: 8 threads of one process reading and
// creating files in a union, as bench's mix-80-20 does, every fd checked.
// The same withdrawn ADDFD|SEND (see TestRegressInjectSignal) hung
// mix-80-20 for its whole --timeout: a read's open returned 0 and the
// worker read its stdin, the bench's protocol pipe, waiting for the bench
// that waited for it (a create's open failed its write with EBADF).
func TestRegressConcurrentOpenCreate(t *testing.T) {
	var b0, b1 []string
	for i := 0; i < 16; i++ {
		l := fmt.Sprintf("mx/r%d=%s", i, strings.Repeat("x", 4096))
		if i%2 == 0 {
			b0 = append(b0, l)
		} else {
			b1 = append(b1, l)
		}
	}
	f := newFixture(t, nil, b0, b1, []string{"mx/"})
	h := goHelper(t)
	const threads, ops = 8, 100
	stop := signalStorm()
	r := f.run(t, h, "mixverify", f.target+"/mx", strconv.Itoa(threads), strconv.Itoa(ops))
	stop()
	if r.err != nil || r.code != 0 {
		t.Fatalf("code %d err %v\nstderr: %s", r.code, r.err, strings.TrimSpace(r.stderr))
	}
	created := 0
	for _, b := range f.branches {
		ents, _ := os.ReadDir(filepath.Join(b, "mx"))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "n") {
				created++
				if fi, err := e.Info(); err != nil || fi.Size() != 4096 {
					t.Errorf("%s/mx/%s: %v %v", b, e.Name(), fi, err)
				}
			}
		}
	}
	if want := threads * ops / 5; created != want {
		t.Errorf("%d files created, want %d", created, want)
	}
}
