package fusemode

import "strings"

// The Go runtime's monitor thread (sysmon) sleeps for good once every P is
// idle, and the next goroutine to enter a system call wakes it again
// (runtime.entersyscall, Go 1.26), after which it polls every 20 µs until
// everything is idle once more. A FUSE server idles between every two
// requests of a sequential caller and makes system calls for each one, so
// every request paid a futex wake-up of the monitor, several of its 20 µs
// polls and its going back to sleep: about a fifth of the daemon's CPU time
// on an open+getdents+close loop, and context switches the caller waits
// behind on a 2-CPU machine. With schedtrace set, the monitor never sleeps
// for good; it backs off to one poll per 10 ms while nothing needs it, so
// requests no longer wake it. (The price: 100 wake-ups a second while the
// mount is idle, and the trace line schedtrace exists for, printed to
// stderr once every 24.8 days of uptime: the period is the largest the
// setting takes.) Measured with the C loop of open, getdents to the end
// and close on a 101-entry directory merged from 3 branches, everything
// pinned to one CPU (ad-hoc script, 2026-11-26): 85-99 µs per iteration
// without, 69-71 µs with; mergerfs 56-66 µs.
const keepMonitorAwake = "schedtrace=2147483647"

// ServerGODEBUG returns the GODEBUG a process serving a mount should start
// with, given the current value, and whether that differs from cur. A
// schedtrace the user set is left alone.
func ServerGODEBUG(cur string) (string, bool) {
	for _, kv := range strings.Split(cur, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return cur, false
		}
	}
	if strings.TrimSpace(cur) == "" {
		return keepMonitorAwake, true
	}
	return cur + "," + keepMonitorAwake, true
}
