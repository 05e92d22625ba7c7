package intercept

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBlockSignals: a receiver's mask blocks what could interrupt an fd
// injection (SIGURG, SIGCHLD, SIGINT, ...) but not the faults the runtime
// turns into panics, and restoreSignals puts the thread's mask back.
func TestBlockSignals(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadSigBlk(t)
	old, e := blockSignals()
	if e != 0 {
		t.Fatalf("blockSignals: %v", e)
	}
	during := threadSigBlk(t)
	restoreSignals(&old)
	if after := threadSigBlk(t); after != before {
		t.Errorf("mask after restore %#x, before %#x", after, before)
	}
	for _, sig := range []unix.Signal{unix.SIGURG, unix.SIGCHLD, unix.SIGINT, unix.SIGTERM, unix.SIGPROF, unix.SIGUSR1} {
		if during&sigBit(sig) == 0 {
			t.Errorf("%v not blocked", sig)
		}
	}
	for _, sig := range []unix.Signal{unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS} {
		if during&sigBit(sig) != 0 {
			t.Errorf("%v blocked: a fault on the thread would kill the process instead of panicking", sig)
		}
	}
}

func sigBit(s unix.Signal) uint64 { return 1 << (uint(s) - 1) }

// threadSigBlk reads the calling thread's blocked set from /proc.
func threadSigBlk(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no SigBlk in status")
	return 0
}
