package bench

import (
	"reflect"
	"strings"
	"testing"
)

// summarize takes the medians of context switches per op and disk bytes;
// the system table keeps only the columns some mode has, and every
// renderer prints it.
func TestSystemTable(t *testing.T) {
	srv := func(before, after int64) *ServerSample {
		return &ServerSample{PID: 7, Before: ProcSample{Readable: true, Threads: 3, CtxSwitches: before},
			After: ProcSample{Readable: true, Threads: 3, CtxSwitches: after, RssAnonKiB: 2048 + after, RssFileKiB: 8192}}
	}
	run := func(k int, wctx int64, server *ServerSample, written int64) RunSample {
		return RunSample{Run: k, WallNS: 1e6, Units: 4, LatNS: []int64{1, 2, 3, 4}, CtxSwitches: &wctx, Server: server,
			Disk: &DiskIO{Device: "vda", ReadBytes: 0, WriteBytes: written}}
	}
	native := []RunSample{run(1, 8, nil, 4096), run(2, 4, nil, 8192), run(3, 12, nil, 4096)}
	mount := []RunSample{run(1, 40, srv(100, 140), 4096), run(2, 44, srv(0, 48), 4096),
		run(3, 36, &ServerSample{Before: ProcSample{Readable: true, Threads: 3}, After: ProcSample{Readable: true, Threads: 2, CtxSwitches: 9}}, 4096)}
	sr := &ScenarioReport{Scenario: ScenarioInfo{Name: "create-100", Unit: "files"}, Results: []ModeResult{
		{Mode: ModeNative, Status: "ok", Runs: native, Summary: summarize(native, 1.5)},
		{Mode: ModeMount, Status: "ok", Runs: mount, Summary: summarize(mount, 1.5)},
		{Mode: ModeRun, Status: "unavailable"},
	}}
	nat, mnt := sr.Results[0].Summary, sr.Results[1].Summary
	if nat.WorkerCtxPerOp == nil || nat.WorkerCtxPerOp.Median != 2 || nat.ServerCtxPerOp != nil {
		t.Errorf("native ctx/op: %+v, server %+v", nat.WorkerCtxPerOp, nat.ServerCtxPerOp)
	}
	// The third mount run lost a thread: its server switches are left out.
	if mnt.ServerCtxPerOp == nil || mnt.ServerCtxPerOp.Median != 11 || mnt.ServerCtxPerOp.Max != 12 {
		t.Errorf("mount server ctx/op: %+v", mnt.ServerCtxPerOp)
	}
	if nat.DiskWriteB == nil || nat.DiskWriteB.Median != 4096 || nat.DiskReadB.Median != 0 {
		t.Errorf("native disk: %+v %+v", nat.DiskReadB, nat.DiskWriteB)
	}
	// A report made before the counts were recorded shows none.
	old := []RunSample{{WallNS: 1e6, Units: 4, LatNS: []int64{1}, Server: &ServerSample{Before: ProcSample{Readable: true}, After: ProcSample{Readable: true}}}}
	if s := summarize(old, 1.5); s.WorkerCtxPerOp != nil || s.ServerCtxPerOp != nil {
		t.Errorf("context switches from a report that has none: %+v %+v", s.WorkerCtxPerOp, s.ServerCtxPerOp)
	}
	head, rows := systemTable(sr)
	// mount's anon RSS: 2048+140 and 2048+48 KiB, median 2142; the third
	// run's sample has no memory figures (as in an older report) and is
	// left out.
	wantHead := []string{"mode", "ctx-sw/op wkr", "ctx-sw/op srv", "srv anon RSS", "srv file RSS", "disk read", "disk written"}
	wantRows := [][]string{{"native", "2.0", "-", "-", "-", "0", "4KiB"}, {"mount", "10.0", "11.0", "2.09MiB", "8.00MiB", "0", "4KiB"}}
	if !reflect.DeepEqual(head, wantHead) || !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("systemTable:\n%q\n%q\nwant\n%q\n%q", head, rows, wantHead, wantRows)
	}
	// With --perf figures, their columns appear.
	ipc := Median([]float64{1.5})
	mnt.WorkerIPC = &ipc
	if head, _ := systemTable(sr); !strings.Contains(strings.Join(head, ","), "IPC wkr") {
		t.Errorf("an IPC figure did not add its column: %q", head)
	}
	r := &Report{Scenarios: []ScenarioReport{*sr}, Modes: []ModeInfo{{Name: ModeNative, Status: "ok"}, {Name: ModeMount, Status: "ok"}}}
	var text, md strings.Builder
	printScenario(&text, sr, r)
	WriteMarkdown(&md, r)
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String(), "html": RenderHTML(r)} {
		if !strings.Contains(out, "ctx-sw/op srv") || !strings.Contains(out, "IPC wkr") {
			t.Errorf("%s report lacks the system table:\n%s", name, out)
		}
	}
}

// With --perf, cycles and IPC per side and misses of both sides together
// come out per op; a counter the machine lacks (-1) leaves its figure out.
func TestSummaryPerf(t *testing.T) {
	pc := func(cyc, ins, cm, bm int64) *PerfCounts {
		return &PerfCounts{Cycles: cyc, Instructions: ins, CacheMisses: cm, BranchMisses: bm, ContextSwitches: 5, TaskClockNS: 1e6}
	}
	runs := []RunSample{
		{WallNS: 1e6, Units: 2, LatNS: []int64{1, 1}, WorkerPerf: pc(2000, 4000, 10, 20), ServerPerf: pc(1000, 500, 6, -1)},
		{WallNS: 1e6, Units: 2, LatNS: []int64{1, 1}, WorkerPerf: pc(4000, 4000, 30, 40), ServerPerf: pc(3000, 1500, 10, -1)},
	}
	s := summarize(runs, 1.5)
	check := func(name string, got *Spread, want float64) {
		t.Helper()
		if got == nil || !near(got.Median, want) {
			t.Errorf("%s = %+v, want median %g", name, got, want)
		}
	}
	check("worker cycles/op", s.WorkerCyclesPerOp, 1500) // 1000 and 2000
	check("server cycles/op", s.ServerCyclesPerOp, 1000) // 500 and 1500
	check("worker IPC", s.WorkerIPC, 1.5)                // 2 and 1
	check("server IPC", s.ServerIPC, 0.5)
	check("cache misses/op", s.CacheMissPerOp, 14) // (10+6)/2 and (30+10)/2
	if s.BranchMissPerOp != nil {
		t.Errorf("branch misses/op = %+v, want none: the server's were not counted", s.BranchMissPerOp)
	}
	// A machine without hardware counters: no figures at all.
	for i := range runs {
		runs[i].WorkerPerf, runs[i].ServerPerf = pc(-1, -1, -1, -1), pc(-1, -1, -1, -1)
	}
	if s := summarize(runs, 1.5); s.WorkerCyclesPerOp != nil || s.WorkerIPC != nil || s.CacheMissPerOp != nil {
		t.Errorf("figures from counters that were not counted: %+v %+v %+v", s.WorkerCyclesPerOp, s.WorkerIPC, s.CacheMissPerOp)
	}
}
