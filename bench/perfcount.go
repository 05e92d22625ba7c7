package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file counts CPU events of another process with perf_event_open(2):
// the benchmark worker (held until it exits) and the serving daemon (read
// before and after a timed window). The hardware events are the seed
// document's CPU metrics: cycles, IPC, cache and branch misses. Many VMs
// have no hardware counters at all, so the software events matter as much:
// context switches above all are what a FUSE or seccomp round trip costs,
// and with page faults, migrations and the task clock they explain an
// overhead when the hardware cannot. It is a few system calls, so it needs
// neither cgo nor the perf tool.

// PerfCounts is what perf counted; a field is -1 when its event could not be
// counted (Unavailable says why).
type PerfCounts struct {
	Cycles          int64 `json:"cycles"`
	Instructions    int64 `json:"instructions"`
	CacheMisses     int64 `json:"cache_misses"`
	BranchMisses    int64 `json:"branch_misses"`
	ContextSwitches int64 `json:"context_switches"`
	CPUMigrations   int64 `json:"cpu_migrations"`
	PageFaults      int64 `json:"page_faults"`
	TaskClockNS     int64 `json:"task_clock_ns"`
	// UserOnly: the kernel was excluded (perf_event_paranoid or
	// permissions), so the hardware events and page faults count user mode
	// only; context switches and migrations, which happen only in the
	// kernel, are then -1 rather than a meaningless 0.
	UserOnly bool `json:"user_only,omitempty"`
	// Scaled: some event was multiplexed, and its value is scaled by
	// enabled/running time: an estimate, not a count.
	Scaled bool `json:"scaled,omitempty"`
	// Unavailable maps an event name ("cycles", "context_switches", ...) to
	// why its field is -1.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// IPC is Instructions/Cycles, or 0 when either is unavailable or zero.
func (c PerfCounts) IPC() float64 {
	if c.Cycles <= 0 || c.Instructions <= 0 {
		return 0
	}
	return float64(c.Instructions) / float64(c.Cycles)
}

// Sub returns c - before per field (a field unavailable in either stays
// -1); for the daemon's before/after window.
func (c PerfCounts) Sub(before PerfCounts) PerfCounts {
	d := c
	for _, ev := range perfEvents {
		a, b := ev.field(&d), *ev.field(&before)
		if *a < 0 || b < 0 {
			*a = -1
		} else {
			*a -= b
		}
	}
	d.UserOnly = c.UserOnly || before.UserOnly
	d.Scaled = c.Scaled || before.Scaled
	d.Unavailable = nil
	if len(c.Unavailable)+len(before.Unavailable) > 0 {
		d.Unavailable = map[string]string{}
		maps.Copy(d.Unavailable, before.Unavailable)
		maps.Copy(d.Unavailable, c.Unavailable) // the later reason wins
	}
	return d
}

// perfEvent is one counter OpenPerf opens on every thread.
type perfEvent struct {
	name   string // key in PerfCounts.Unavailable
	typ    uint32
	config uint64
	field  func(*PerfCounts) *int64
	// kernelOnly events fire only in kernel mode (the scheduler counts
	// them), so with exclude_kernel they always read 0: they are reported
	// unavailable instead of retried user-only.
	kernelOnly bool
}

var perfEvents = [...]perfEvent{
	{"cycles", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CPU_CYCLES, func(c *PerfCounts) *int64 { return &c.Cycles }, false},
	{"instructions", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_INSTRUCTIONS, func(c *PerfCounts) *int64 { return &c.Instructions }, false},
	{"cache_misses", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CACHE_MISSES, func(c *PerfCounts) *int64 { return &c.CacheMisses }, false},
	{"branch_misses", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_BRANCH_MISSES, func(c *PerfCounts) *int64 { return &c.BranchMisses }, false},
	{"context_switches", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CONTEXT_SWITCHES, func(c *PerfCounts) *int64 { return &c.ContextSwitches }, true},
	{"cpu_migrations", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_MIGRATIONS, func(c *PerfCounts) *int64 { return &c.CPUMigrations }, true},
	{"page_faults", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS, func(c *PerfCounts) *int64 { return &c.PageFaults }, false},
	{"task_clock", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_TASK_CLOCK, func(c *PerfCounts) *int64 { return &c.TaskClockNS }, false},
}

// PerfSet holds counters on every thread of one process.
type PerfSet struct {
	mu          sync.Mutex // a Close during a Read must not let it read a reused fd number
	fds         [len(perfEvents)][]int
	unavailable map[string]string
	userOnly    bool
	closed      bool
}

// OpenPerf opens the eight events above on every thread listed in
// /proc/PID/task at the time of the call, enabled at once. With inherit,
// tasks those threads create afterwards (threads and child processes, e.g.
// tools the worker runs) are counted too; their counts are added to the
// counters when they exit, so read after the process has exited for a
// complete figure. Without inherit, threads created later are not counted.
//
// An event that cannot be opened at all is recorded in Unavailable (never an
// error); OpenPerf returns an error only when pid's threads cannot be listed.
// If opening with the kernel counted fails with EACCES/EPERM, it retries the
// event with exclude_kernel and exclude_hv and sets UserOnly; context
// switches and CPU migrations are not retried but reported unavailable, as
// the kernel alone counts them and user-only they would always read 0.
// Threads that vanish between listing and opening are skipped (ESRCH).
func OpenPerf(pid int, inherit bool) (*PerfSet, error) {
	if pid <= 0 { // perf_event_open gives pid -1 a meaning of its own
		return nil, fmt.Errorf("perf: invalid pid %d", pid)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, fmt.Errorf("perf: listing the threads of %d: %w", pid, err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	p := &PerfSet{unavailable: map[string]string{}}
	for i, ev := range perfEvents {
		p.open(i, ev, tids, inherit)
	}
	return p, nil
}

// open opens event i on every thread, or on none: a sum missing some threads
// would look like a real figure, so a failure on one thread (other than its
// having exited) makes the whole event unavailable.
func (p *PerfSet) open(i int, ev perfEvent, tids []int, inherit bool) {
	attr := unix.PerfEventAttr{
		Type:   ev.typ,
		Config: ev.config,
		// Each fd reads value, time enabled, time running: running <
		// enabled means the PMU multiplexed the event and the value
		// must be scaled.
		Read_format: unix.PERF_FORMAT_TOTAL_TIME_ENABLED | unix.PERF_FORMAT_TOTAL_TIME_RUNNING,
		// PerfBitDisabled stays clear: each counter starts as it is
		// opened; the microseconds between the first and the last open
		// are nothing against a run.
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	if inherit {
		attr.Bits |= unix.PerfBitInherit
	}
	var fds []int
	var fail error
	for _, tid := range tids {
		fd, err := perfOpen(&attr, tid)
		if (err == unix.EACCES || err == unix.EPERM) && attr.Bits&unix.PerfBitExcludeKernel == 0 {
			if ev.kernelOnly {
				fail = err
				break
			}
			// Unprivileged under perf_event_paranoid >= 2: user mode
			// only. The flag sticks for the event's other threads.
			attr.Bits |= unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv
			fd, err = perfOpen(&attr, tid)
		}
		if err == unix.ESRCH { // the thread exited since the listing
			continue
		}
		if err != nil {
			fail = err
			break
		}
		fds = append(fds, fd)
	}
	switch {
	case fail != nil:
		for _, fd := range fds {
			unix.Close(fd)
		}
		reason := perfReason(fail, ev.kernelOnly)
		if len(fds) > 0 {
			reason = fmt.Sprintf("opened on %d threads but not on the next: %s", len(fds), reason)
		}
		p.unavailable[ev.name] = reason
	case len(fds) == 0:
		p.unavailable[ev.name] = "no thread left to count: the process exited before its counters were opened"
	default:
		p.fds[i] = fds
		if attr.Bits&unix.PerfBitExcludeKernel != 0 {
			p.userOnly = true
		}
	}
}

// perfOpen opens one counter on one thread, on any CPU, outside any group.
func perfOpen(attr *unix.PerfEventAttr, tid int) (int, error) {
	for {
		fd, err := unix.PerfEventOpen(attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		// The kernel takes the target's exec lock interruptibly, and
		// the Go runtime signals its threads (preemption) all the time.
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// perfReason says in words why perf_event_open failed.
func perfReason(err error, kernelOnly bool) string {
	var why string
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENODEV):
		why = "not supported by this machine"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		paranoid := "?"
		if b, e := os.ReadFile("/proc/sys/kernel/perf_event_paranoid"); e == nil {
			paranoid = strings.TrimSpace(string(b))
		}
		why = fmt.Sprintf("not permitted (kernel.perf_event_paranoid=%s, or another user's process; CAP_PERFMON lifts it)", paranoid)
		if kernelOnly {
			why = "counted only in the kernel, which is " + why
		}
	case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE):
		why = "out of file descriptors"
	case errors.Is(err, unix.ENOSYS):
		why = "the kernel has no perf events"
	default:
		return "perf_event_open: " + err.Error()
	}
	return fmt.Sprintf("%s (perf_event_open: %v)", why, err)
}

// Read sums every open counter over the threads (values scaled by
// time_enabled/time_running when multiplexed, Scaled set). Counters of
// threads that have exited stay readable and keep their final value. Read on
// a nil or closed set reports every event unavailable.
func (p *PerfSet) Read() PerfCounts {
	c := PerfCounts{Unavailable: map[string]string{}}
	for _, ev := range perfEvents {
		*ev.field(&c) = -1
	}
	if p == nil {
		for _, ev := range perfEvents {
			c.Unavailable[ev.name] = "perf counters were not opened"
		}
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, ev := range perfEvents {
			c.Unavailable[ev.name] = "perf counters already closed"
		}
		return c
	}
	maps.Copy(c.Unavailable, p.unavailable)
	c.UserOnly = p.userOnly
	var buf [24]byte
events:
	for i, ev := range perfEvents {
		if len(p.fds[i]) == 0 {
			continue // unavailable since OpenPerf
		}
		var sum float64
		var enabled, running uint64
		for _, fd := range p.fds[i] {
			n, err := unix.Read(fd, buf[:])
			for err == unix.EINTR {
				n, err = unix.Read(fd, buf[:])
			}
			if err == nil && n != len(buf) {
				err = fmt.Errorf("short read of %d bytes", n)
			}
			if err != nil {
				c.Unavailable[ev.name] = "reading the counter: " + err.Error()
				continue events
			}
			v := binary.NativeEndian.Uint64(buf[0:])
			en := binary.NativeEndian.Uint64(buf[8:])
			run := binary.NativeEndian.Uint64(buf[16:])
			enabled += en
			running += run
			v1, scaled := perfScale(v, en, run)
			sum += v1
			c.Scaled = c.Scaled || scaled
		}
		if enabled > 0 && running == 0 {
			c.Unavailable[ev.name] = "never counted: the PMU had no free counter for it (multiplexed out)"
			continue
		}
		*ev.field(&c) = int64(math.Round(sum))
	}
	if len(c.Unavailable) == 0 {
		c.Unavailable = nil
	}
	return c
}

// perfScale turns one fd's reading into a count: when the PMU multiplexed
// the event (running < enabled), the value is extrapolated to the whole
// enabled time and scaled is set. A thread whose event was enabled but never
// running contributes 0, also scaled: its share is unknown.
func perfScale(value, enabled, running uint64) (count float64, scaled bool) {
	switch {
	case running == enabled:
		return float64(value), false
	case running == 0:
		return 0, true
	default:
		return float64(value) * float64(enabled) / float64(running), true
	}
}

// Close closes every fd (safe on nil and twice).
func (p *PerfSet) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.fds {
		for _, fd := range p.fds[i] {
			unix.Close(fd)
		}
		p.fds[i] = nil
	}
	p.closed = true
}
