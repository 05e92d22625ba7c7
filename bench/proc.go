package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// This file reads the serving process's figures from /proc and parses the
// output of the tools bench runs. Reading and parsing are separate so every
// parser is tested on canned text (proc_test.go).

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is
// 100 on every Linux architecture mfs runs on (the kernel fixes it for the
// ABI regardless of CONFIG_HZ).
const clockTicks = 100

// ProcSample is one reading of a serving process.
type ProcSample struct {
	CPUNS    int64 `json:"cpu_ns"`    // utime+stime of every thread, live and exited (10 ms resolution)
	SchedNS  int64 `json:"sched_ns"`  // sum of the live threads' on-CPU time from schedstat (ns resolution)
	VmHWMKiB int64 `json:"vmhwm_kib"` // peak resident set size
	VmRSSKiB int64 `json:"vmrss_kib"` // resident set size now
	// RssAnonKiB and RssFileKiB split it: the process's private memory, and
	// mapped file pages (its binary and libraries, shared with the page
	// cache and reclaimable), which a big binary's start-up maps many of.
	RssAnonKiB int64 `json:"rss_anon_kib,omitempty"`
	RssFileKiB int64 `json:"rss_file_kib,omitempty"`
	Threads    int   `json:"threads"` // live threads
	// CtxSwitches is the voluntary and involuntary context switches of the
	// live threads (/proc/PID/task/*/status).
	CtxSwitches int64  `json:"ctx_switches"`
	CPUs        string `json:"cpus_allowed"` // Cpus_allowed_list: shows whether --pin reached the server
	Readable    bool   `json:"readable"`     // false when the process was gone or /proc unreadable
	ReadError   string `json:"read_error,omitempty"`
}

// readProc samples /proc/PID/{stat,status,task/*/schedstat}.
func readProc(pid int) ProcSample {
	var s ProcSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		s.ReadError = err.Error()
		return s
	}
	ut, st, err := parseProcStat(string(stat))
	if err != nil {
		s.ReadError = err.Error()
		return s
	}
	s.CPUNS = (ut + st) * (1e9 / clockTicks)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		s.ReadError = err.Error()
		return s
	}
	st2 := parseProcStatus(string(status))
	s.VmHWMKiB, s.VmRSSKiB, s.Threads, s.CPUs = st2.VmHWMKiB, st2.VmRSSKiB, st2.Threads, st2.CPUs
	s.RssAnonKiB, s.RssFileKiB = st2.RssAnonKiB, st2.RssFileKiB
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, t := range tasks {
		if b, err := os.ReadFile(t + "/schedstat"); err == nil {
			if ns, err := parseSchedstat(string(b)); err == nil {
				s.SchedNS += ns
			}
		}
		if b, err := os.ReadFile(t + "/status"); err == nil {
			s.CtxSwitches += parseProcStatus(string(b)).CtxSwitches
		}
	}
	s.Readable = true
	return s
}

// parseProcStat returns utime and stime (clock ticks, fields 14 and 15 of
// proc(5)) from the text of /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseProcStat(text string) (utime, stime int64, err error) {
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/PID/stat: no ')' after the command name in %q", trimForError(text))
	}
	f := strings.Fields(text[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/PID/stat: %d fields after the command name, want at least 13", len(f))
	}
	if utime, err = strconv.ParseInt(f[11], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("/proc/PID/stat utime: %w", err)
	}
	if stime, err = strconv.ParseInt(f[12], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("/proc/PID/stat stime: %w", err)
	}
	return utime, stime, nil
}

type procStatus struct {
	VmHWMKiB, VmRSSKiB     int64
	RssAnonKiB, RssFileKiB int64
	CtxSwitches            int64 // voluntary + nonvoluntary
	Threads                int
	CPUs                   string
	PPid                   int
	NSpid                  []int // the pid in each PID namespace, ours first
}

// parseProcStatus reads VmHWM, VmRSS, RssAnon, RssFile (kB), Threads, the
// context switch counts, PPid, NSpid and Cpus_allowed_list from
// /proc/PID/status (or a task's).
// A kernel thread or zombie has no Vm lines; they stay 0.
func parseProcStatus(text string) procStatus {
	var s procStatus
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "Cpus_allowed_list":
			s.CPUs = strings.TrimSpace(v)
			continue
		case "NSpid":
			for _, f := range strings.Fields(v) {
				n, err := strconv.Atoi(f)
				if err != nil {
					s.NSpid = nil
					break
				}
				s.NSpid = append(s.NSpid, n)
			}
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmHWM":
			s.VmHWMKiB = n
		case "VmRSS":
			s.VmRSSKiB = n
		case "RssAnon":
			s.RssAnonKiB = n
		case "RssFile":
			s.RssFileKiB = n
		case "Threads":
			s.Threads = int(n)
		case "PPid":
			s.PPid = int(n)
		case "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches":
			s.CtxSwitches += n
		}
	}
	return s
}

// parseSchedstat returns the first field of /proc/PID/task/TID/schedstat:
// time spent on the CPU, in nanoseconds.
func parseSchedstat(text string) (int64, error) {
	f := strings.Fields(text)
	if len(f) < 1 {
		return 0, fmt.Errorf("schedstat: empty")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	Point  string
	FSType string
	Source string
}

// parseMountinfo parses proc(5) mountinfo text. Mount points have spaces,
// tabs, newlines and backslashes escaped as octal (\040).
func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		out = append(out, mountEntry{Point: unescapeOctal(f[4]), FSType: f[sep+1], Source: unescapeOctal(f[sep+2])})
	}
	return out
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountedAt returns the file system type mounted at point ("" if none).
func mountedAt(point string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	fstype := ""
	for _, m := range parseMountinfo(string(b)) {
		if m.Point == point {
			fstype = m.FSType // the last one is on top
		}
	}
	return fstype
}

// parseMergerfsVersion extracts the version from `mergerfs -V` output, e.g.
// "mergerfs version: 2.33.5" (2.x) or "mergerfs v2.40.2" (later releases).
func parseMergerfsVersion(out string) string {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(strings.ToLower(line), "mergerfs") {
			continue
		}
		for _, w := range strings.Fields(line)[1:] {
			w = strings.TrimPrefix(w, "v")
			if w != "" && w[0] >= '0' && w[0] <= '9' {
				return w
			}
		}
	}
	return ""
}

// rsyncStats is what `rsync --stats` says it did.
type rsyncStats struct {
	Files       int64 `json:"files"`       // Number of files (all kinds)
	Transferred int64 `json:"transferred"` // Number of regular files transferred
}

// parseLsLong counts the entries of the output of `ls -l DIR`: a "total N"
// line, then one line per entry beginning with its mode string (-rw-r--r--,
// drwx..., lrwx...). Anything else is an error, so a listing cut short or
// an error message on stdout is not counted as entries.
func parseLsLong(out string) (int, error) {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "total ") {
		first, _, _ := strings.Cut(out, "\n")
		return 0, fmt.Errorf("ls -l output does not start with a total line: %q", first)
	}
	for i, l := range lines[1:] {
		if !lsModeString(l) {
			return 0, fmt.Errorf("ls -l output line %d is not an entry: %q", i+2, l)
		}
	}
	return len(lines) - 1, nil
}

// lsModeString reports whether line l starts as an ls -l entry does: a
// file type letter and nine permission characters.
func lsModeString(l string) bool {
	if len(l) < 10 || !strings.ContainsRune("-dlcbps", rune(l[0])) {
		return false
	}
	for _, c := range l[1:10] {
		if !strings.ContainsRune("rwxsStT-", c) {
			return false
		}
	}
	return true
}

// parseRsyncStats reads the --stats block of rsync 3.x: "Number of files:
// 1,111 (reg: 1,000, dir: 111)" and "Number of regular files transferred:
// 1,000". Thousands separators are dropped.
func parseRsyncStats(out string) (rsyncStats, error) {
	var s rsyncStats
	var haveFiles, haveXfer bool
	num := func(v string) (int64, error) {
		v = strings.TrimSpace(v)
		if i := strings.IndexByte(v, ' '); i >= 0 {
			v = v[:i]
		}
		return strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(v), 10, 64)
	}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Number of files":
			n, err := num(v)
			if err != nil {
				return s, fmt.Errorf("rsync --stats %q: %w", line, err)
			}
			s.Files, haveFiles = n, true
		case "Number of regular files transferred":
			n, err := num(v)
			if err != nil {
				return s, fmt.Errorf("rsync --stats %q: %w", line, err)
			}
			s.Transferred, haveXfer = n, true
		}
	}
	if !haveFiles || !haveXfer {
		return s, fmt.Errorf("rsync --stats: no \"Number of files\" / \"Number of regular files transferred\" lines in %q", trimForError(out))
	}
	return s, nil
}

// RunStats are the `mfs run` supervisor's counters. The supervisor writes
// them as one JSON object to the file named by the MFS_RUN_STATS environment
// variable when it exits (cmd/mfs/run.go, intercept.Stats; see doc.go);
// bench reads them to report trapped syscalls per operation. Unknown fields
// are ignored.
type RunStats struct {
	Notifications uint64 `json:"Notifications"` // trapped syscalls
	Continued     uint64 `json:"Continued"`     // answered CONTINUE (outside every union)
	Emulated      uint64 `json:"Emulated"`      // answered by the supervisor
	Handovers     uint64 `json:"Handovers"`
	BusyNS        int64  `json:"Busy"` // time spent handling notifications (a time.Duration)
	SyncWakeUp    bool   `json:"SyncWakeUp"`
	// BySyscall counts per syscall family ("openat", "newfstatat", ...).
	BySyscall map[string]SyscallCount `json:"BySyscall,omitempty"`
}

// SyscallCount is one syscall family's share of RunStats.
type SyscallCount struct {
	Notifications uint64 `json:"Notifications"`
	Emulated      uint64 `json:"Emulated"`
	BusyNS        int64  `json:"Busy"`
}

// minus returns s less the baseline b (the worker's own start), each
// counter floored at 0.
func (s RunStats) minus(b RunStats) RunStats {
	sub := func(x, y uint64) uint64 {
		if x < y {
			return 0
		}
		return x - y
	}
	out := RunStats{
		Notifications: sub(s.Notifications, b.Notifications),
		Continued:     sub(s.Continued, b.Continued),
		Emulated:      sub(s.Emulated, b.Emulated),
		Handovers:     sub(s.Handovers, b.Handovers),
		BusyNS:        max(s.BusyNS-b.BusyNS, 0),
		SyncWakeUp:    s.SyncWakeUp,
	}
	if len(s.BySyscall) > 0 {
		out.BySyscall = map[string]SyscallCount{}
		for k, v := range s.BySyscall {
			bv := b.BySyscall[k]
			c := SyscallCount{Notifications: sub(v.Notifications, bv.Notifications), Emulated: sub(v.Emulated, bv.Emulated), BusyNS: max(v.BusyNS-bv.BusyNS, 0)}
			if c.Notifications > 0 {
				out.BySyscall[k] = c
			}
		}
	}
	return out
}

// runStatsEnv names the file the `mfs run` supervisor writes its counters to.
const runStatsEnv = "MFS_RUN_STATS"

// parseRunStats parses the supervisor's counters file.
func parseRunStats(b []byte) (RunStats, error) {
	var s RunStats
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s file: %w", runStatsEnv, err)
	}
	return s, nil
}

// parseCPUList parses a kernel CPU list such as "0-3,6" (as in
// /proc/self/status Cpus_allowed_list and taskset -c).
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
		}
		if b < a {
			return nil, fmt.Errorf("CPU list %q: range %s is backwards", s, part)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

func trimForError(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// hostPID finds the process that is pid nsPID in its own PID namespace
// (what the worker reports: under `mfs run` it may run in a namespace of
// its own) and is root or a descendant of root, and returns its pid as
// this process sees it: the last number of a task's NSpid line is its pid
// in its innermost namespace, the first in ours.
func hostPID(root, nsPID int) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		ns := parseProcStatus(string(b)).NSpid
		if len(ns) == 0 || ns[len(ns)-1] != nsPID || !descendsFrom(pid, root) {
			continue
		}
		return pid, nil
	}
	return 0, fmt.Errorf("no process below %d is pid %d in its namespace", root, nsPID)
}

// descendsFrom reports whether pid is root or below it, following PPid.
func descendsFrom(pid, root int) bool {
	for depth := 0; depth < 64 && pid > 1; depth++ {
		if pid == root {
			return true
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return false
		}
		pid = parseProcStatus(string(b)).PPid
	}
	return pid == root
}
