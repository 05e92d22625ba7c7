package bench

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name         string
		text         string
		utime, stime int64
		wantErr      bool
	}{
		{"plain", "16050 (cat) R 16035 16035 20508 0 -1 4194304 102 0 0 0 7 3 0 0 20 0 1 0 224094 3133440 380 18446744073709551615", 7, 3, false},
		{"comm with spaces and parens", "42 (my (odd) prog) S 1 42 42 0 -1 4194560 500 0 0 0 1234 567 0 0 20 0 4 0 100 1000 200", 1234, 567, false},
		{"truncated", "42 (x) S 1 2 3", 0, 0, true},
		{"no parens", "garbage", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, s, err := parseProcStat(tt.text)
			if (err != nil) != tt.wantErr || u != tt.utime || s != tt.stime {
				t.Errorf("parseProcStat = %d, %d, %v; want %d, %d, err %v", u, s, err, tt.utime, tt.stime, tt.wantErr)
			}
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	text := "Name:\tmergerfs\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1750280 kB\nVmHWM:\t    9120 kB\nVmRSS:\t    8964 kB\nRssAnon:\t    3000 kB\nRssFile:\t    5964 kB\nThreads:\t4\nCpus_allowed:\t1\nCpus_allowed_list:\t0\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t12\nPPid:\t77\nNSpid:\t4321\t9\n"
	got := parseProcStatus(text)
	want := procStatus{VmHWMKiB: 9120, VmRSSKiB: 8964, RssAnonKiB: 3000, RssFileKiB: 5964, Threads: 4, CPUs: "0", CtxSwitches: 162,
		PPid: 77, NSpid: []int{4321, 9}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseProcStatus = %+v, want %+v", got, want)
	}
	// A zombie has no Vm lines.
	if got := parseProcStatus("Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n"); got.VmHWMKiB != 0 || got.Threads != 1 {
		t.Errorf("zombie: %+v", got)
	}
	if ns, err := parseSchedstat("58114 1234 17\n"); err != nil || ns != 58114 {
		t.Errorf("parseSchedstat = %d, %v", ns, err)
	}
}

func TestReadProcSelf(t *testing.T) {
	s := readProc(os.Getpid())
	if !s.Readable || s.VmHWMKiB <= 0 || s.Threads < 1 || s.SchedNS <= 0 {
		t.Errorf("readProc(self) = %+v", s)
	}
	if s := readProc(1 << 30); s.Readable || s.ReadError == "" {
		t.Errorf("readProc(no such pid) = %+v", s)
	}
}

func TestParseMountinfo(t *testing.T) {
	text := `22 27 0:21 / /proc rw,relatime - proc proc rw
42 27 0:39 / /var/tmp/a\040b/mnt rw,nosuid,nodev,relatime - fuse.mergerfs 1:2:3 rw,user_id=0,group_id=0,default_permissions,allow_other
43 27 0:40 / /var/tmp/o rw,relatime shared:5 master:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
bad line
`
	got := parseMountinfo(text)
	want := []mountEntry{
		{Point: "/proc", FSType: "proc", Source: "proc"},
		{Point: "/var/tmp/a b/mnt", FSType: "fuse.mergerfs", Source: "1:2:3"},
		{Point: "/var/tmp/o", FSType: "overlay", Source: "overlay"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseMountinfo =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseMergerfsVersion(t *testing.T) {
	for in, want := range map[string]string{
		"mergerfs version: 2.33.5\nFUSE library version: 2.9.7-mergerfs_2.30.0\n": "2.33.5",
		"mergerfs v2.40.2\n\nhttps://github.com/trapexit/mergerfs\n":              "2.40.2",
		"sh: mergerfs: not found\n":                                               "",
	} {
		if got := parseMergerfsVersion(in); got != want {
			t.Errorf("parseMergerfsVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// Canned rsync 3.x --stats output (as printed by rsync 3.2/3.4 with
// thousands separators).
const rsyncStatsFirst = `
Number of files: 11,011 (reg: 10,000, dir: 1,011)
Number of created files: 11,011 (reg: 10,000, dir: 1,011)
Number of deleted files: 0
Number of regular files transferred: 10,000
Total file size: 43,174,656 bytes
Total transferred file size: 43,174,656 bytes
Literal data: 43,174,656 bytes
Matched data: 0 bytes
File list size: 262,131
File list generation time: 0.012 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 43,588,427
Total bytes received: 210,092

sent 43,588,427 bytes  received 210,092 bytes  29,198,679.33 bytes/sec
total size is 43,174,656  speedup is 0.99
`

const rsyncStatsNoop = `
Number of files: 4 (reg: 2, dir: 2)
Number of created files: 0
Number of deleted files: 0
Number of regular files transferred: 0
Total file size: 4 bytes
Total transferred file size: 0 bytes
`

func TestParseLsLong(t *testing.T) {
	good := "total 8\n-rw-r--r-- 1 root root 0 Nov 26 05:00 f-00001\n" +
		"drwxr-xr-x 2 root root 4096 Nov 26 05:00 sub\n" +
		"lrwxrwxrwx 1 root root 7 Nov 26 05:00 ln -> f-00001\n"
	if n, err := parseLsLong(good); n != 3 || err != nil {
		t.Errorf("parseLsLong(good) = %d, %v; want 3", n, err)
	}
	if n, err := parseLsLong("total 0\n"); n != 0 || err != nil {
		t.Errorf("parseLsLong(empty dir) = %d, %v; want 0", n, err)
	}
	for _, bad := range []string{
		"",
		"ls: cannot access '/x': No such file or directory\n",
		"total 8\n-rw-r--r-- 1 root root 0 Nov 26 05:00 f\nls: reading directory '/x': Input/output error\n",
	} {
		if n, err := parseLsLong(bad); err == nil {
			t.Errorf("parseLsLong(%q) = %d, nil; want an error", bad, n)
		}
	}
}

func TestParseRsyncStats(t *testing.T) {
	got, err := parseRsyncStats(rsyncStatsFirst)
	if err != nil || got != (rsyncStats{Files: 11011, Transferred: 10000}) {
		t.Errorf("first copy: %+v, %v", got, err)
	}
	got, err = parseRsyncStats(rsyncStatsNoop)
	if err != nil || got != (rsyncStats{Files: 4, Transferred: 0}) {
		t.Errorf("no-op: %+v, %v", got, err)
	}
	if _, err := parseRsyncStats("rsync: connection unexpectedly closed\n"); err == nil {
		t.Errorf("no stats block: no error")
	}
}

// canned is what cmd/mfs/run.go writes (intercept.Stats, indented JSON),
// trimmed to three syscall families; WaitKillable and Future are not ours.
const cannedRunStats = `{
  "Notifications": 121,
  "Continued": 116,
  "Emulated": 5,
  "Handovers": 1,
  "Busy": 1742476,
  "SyncWakeUp": true,
  "WaitKillable": true,
  "Future": 1,
  "BySyscall": {
    "getdents64": {"Notifications": 2, "Emulated": 2, "Busy": 201896},
    "newfstatat": {"Notifications": 35, "Emulated": 1, "Busy": 192272},
    "openat": {"Notifications": 84, "Emulated": 2, "Busy": 752940}
  }
}`

func TestParseRunStats(t *testing.T) {
	got, err := parseRunStats([]byte(cannedRunStats))
	want := RunStats{Notifications: 121, Continued: 116, Emulated: 5, Handovers: 1, BusyNS: 1742476, SyncWakeUp: true,
		BySyscall: map[string]SyscallCount{
			"getdents64": {Notifications: 2, Emulated: 2, BusyNS: 201896},
			"newfstatat": {Notifications: 35, Emulated: 1, BusyNS: 192272},
			"openat":     {Notifications: 84, Emulated: 2, BusyNS: 752940},
		}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseRunStats = %+v, %v", got, err)
	}
	if _, err := parseRunStats([]byte("not json")); err == nil {
		t.Errorf("bad file: no error")
	}
}

// The start-up baseline comes off every counter and family, never below 0.
func TestRunStatsMinus(t *testing.T) {
	s, _ := parseRunStats([]byte(cannedRunStats))
	base := RunStats{Notifications: 21, Continued: 20, Emulated: 1, Handovers: 2, BusyNS: 1e5,
		BySyscall: map[string]SyscallCount{"openat": {Notifications: 20, Emulated: 1}, "access": {Notifications: 1}}}
	got := s.minus(base)
	want := RunStats{Notifications: 100, Continued: 96, Emulated: 4, Handovers: 0, BusyNS: 1642476, SyncWakeUp: true,
		BySyscall: map[string]SyscallCount{
			"getdents64": {Notifications: 2, Emulated: 2, BusyNS: 201896},
			"newfstatat": {Notifications: 35, Emulated: 1, BusyNS: 192272},
			"openat":     {Notifications: 64, Emulated: 1, BusyNS: 752940},
		}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("minus:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-3,6": {0, 1, 2, 3, 6}, "1\n": {1}} {
		if got, err := parseCPUList(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"x", "3-1"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q): no error", bad)
		}
	}
}

func TestCommandBuilders(t *testing.T) {
	if got := rsyncCmd("/s", "/d"); !reflect.DeepEqual(got, []string{"rsync", "-a", "--stats", "/s/", "/d/"}) {
		t.Errorf("rsyncCmd = %v", got)
	}
	if got := tarExtractCmd("/a.tar", "/d"); !reflect.DeepEqual(got, []string{"tar", "-xf", "/a.tar", "-C", "/d"}) {
		t.Errorf("tarExtractCmd = %v", got)
	}
	if got := cpOutCmd("/p/tree", "/o"); !reflect.DeepEqual(got, []string{"cp", "-r", "/p/tree", "/o"}) {
		t.Errorf("cpOutCmd = %v", got)
	}
	if got := shellJoin([]string{"mfs", "run", "--union", "/a b=/c", "--", "it's"}); got != `mfs run --union '/a b=/c' -- 'it'\''s'` {
		t.Errorf("shellJoin = %s", got)
	}
}

// cannedRTT is the output of cprobe/rtt.c on this VM.
const cannedRTT = `native-stat 419.1
native-open 768.8
continue 3166.3
path-continue 3465.4
stat 4659.4
open 6099.4
stat-miss 4960.3
open-miss 6382.7
sync-wake-up 1
`

func TestParseRTT(t *testing.T) {
	got, err := parseRTT(cannedRTT)
	want := RoundTrip{NativeStatNS: 419.1, NativeOpenNS: 768.8, ContinueNS: 3166.3, PathContinueNS: 3465.4,
		StatNS: 4659.4, OpenNS: 6099.4, StatMissNS: 4960.3, OpenMissNS: 6382.7, SyncWakeUp: true}
	if err != nil || got != want {
		t.Errorf("parseRTT = %+v, %v", got, err)
	}
	// Without MISS the probe prints no miss lines: the floor then prices
	// emulated calls with the single-lookup figures.
	noMiss := strings.NewReplacer("stat-miss 4960.3\n", "", "open-miss 6382.7\n", "").Replace(cannedRTT)
	if got, err := parseRTT(noMiss); err != nil || got.StatMissNS != 0 || got.FloorStatNS() != 4659.4 || got.FloorOpenNS() != 6099.4 {
		t.Errorf("parseRTT without miss lines = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "native-stat 1\ncontinue x\n", strings.Replace(cannedRTT, "open 6099.4\n", "", 1),
		strings.Replace(cannedRTT, "path-continue 3465.4\n", "", 1)} {
		if _, err := parseRTT(bad); err == nil {
			t.Errorf("parseRTT(%q): no error", bad)
		}
	}
}

// ExtraNS prices each trapped call by its kind, less what the call costs
// natively: CONTINUE, emulated open-family call, other emulated call.
func TestRoundTripExtraNS(t *testing.T) {
	r := &RoundTrip{NativeStatNS: 500, NativeOpenNS: 1000, ContinueNS: 3500, StatNS: 5500, OpenNS: 7000}
	s := RunStats{Notifications: 13, Continued: 3, Emulated: 10, BySyscall: map[string]SyscallCount{
		"openat":     {Notifications: 6, Emulated: 4}, // 2 CONTINUE + 4 opens
		"newfstatat": {Notifications: 7, Emulated: 6}, // 1 CONTINUE + 6 stats
	}}
	want := 3*3000.0 + 4*6000 + 6*5000
	if got := r.ExtraNS(s); got != want {
		t.Errorf("ExtraNS = %g, want %g", got, want)
	}
	s.BySyscall = nil // older supervisors: totals only, emulated priced as stats
	if got, want := r.ExtraNS(s), 3*3000.0+10*5000; got != want {
		t.Errorf("ExtraNS without families = %g, want %g", got, want)
	}
	if (&RoundTrip{Error: "no cc"}).Usable() || !r.Usable() {
		t.Errorf("Usable")
	}
	// With the path-read CONTINUE and the missed-lookup figures, those price
	// the calls.
	r.PathContinueNS, r.StatMissNS, r.OpenMissNS = 4000, 6000, 7500
	s.BySyscall = map[string]SyscallCount{"openat": {Notifications: 6, Emulated: 4}, "newfstatat": {Notifications: 7, Emulated: 6}}
	if got, want := r.ExtraNS(s), 3*3500.0+4*6500+6*5500; got != want {
		t.Errorf("ExtraNS with the miss figures = %g, want %g", got, want)
	}
}

func TestParseLoopLine(t *testing.T) {
	if v, err := parseLoopLine("mfs: note: x\nMFSBENCH LOOP 1234.5\n"); err != nil || v != 1234.5 {
		t.Errorf("parseLoopLine = %g, %v", v, err)
	}
	if _, err := parseLoopLine("MFSBENCH ERROR boom\n"); err == nil {
		t.Errorf("no loop line: no error")
	}
}

// hostPID maps the pid a worker reports (its own namespace's) to ours: the
// same number without a namespace, another one inside a PID namespace.
func TestHostPID(t *testing.T) {
	plain := exec.Command("sleep", "10")
	if err := plain.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { plain.Process.Kill(); plain.Wait() }()
	if got, err := hostPID(os.Getpid(), plain.Process.Pid); got != plain.Process.Pid || err != nil {
		t.Errorf("hostPID of a plain child = %d, %v; want %d", got, err, plain.Process.Pid)
	}
	if _, err := hostPID(plain.Process.Pid, os.Getpid()); err == nil {
		t.Errorf("hostPID found this test below its own child")
	}

	// unshare --pid --fork: sleep is pid 1 of a new namespace, a child of
	// unshare. Needs root (or user namespaces), which the tests have.
	ns := exec.Command("unshare", "--pid", "--fork", "sleep", "10")
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Process.Kill(); ns.Wait() }()
	var got int
	var err error
	for i := 0; i < 100; i++ { // until unshare has forked
		if got, err = hostPID(ns.Process.Pid, 1); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || got == 1 || got == ns.Process.Pid {
		t.Fatalf("hostPID(unshare, 1) = %d, %v; want the sleep's pid here", got, err)
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", got)); !strings.HasPrefix(string(b), "sleep\x00") {
		t.Errorf("pid %d is %q, not the sleep", got, b)
	}
}
