package bench

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatalogueNamesAndQuickSet(t *testing.T) {
	seen := map[string]bool{}
	quick := map[string]int{}
	for _, s := range Catalogue() {
		if seen[s.Name] {
			t.Errorf("duplicate scenario %s", s.Name)
		}
		seen[s.Name] = true
		if s.run == nil || s.Unit == "" || s.About == "" {
			t.Errorf("%s: incomplete", s.Name)
		}
		if s.Quick {
			quick[s.Family]++
		}
	}
	// The seed's sizes are all there.
	for _, name := range []string{"create-100", "create-1000", "create-10000",
		"read-1k-cold", "read-64k-warm", "read-1m-cold", "read-10m-warm", "write-1k-cold", "write-10m-warm",
		"list-100", "list-50000", "list-stat-10000", "ls-l-10000", "traverse-3", "traverse-5", "traverse-8",
		"ccreate-1", "ccreate-2", "ccreate-4", "ccreate-8", "ccreate-16",
		"mix-100-0", "mix-80-20", "mix-50-50", "mix-20-80", "mix-0-100",
		"rsync-10000", "rsync-noop-10000", "tar-x-10000", "cp-out-10000"} {
		if !seen[name] {
			t.Errorf("missing scenario %s", name)
		}
	}
	// --quick keeps one size per family (read and write keep cold and warm).
	for _, f := range families {
		want := 1
		if f == "read" || f == "write" {
			want = 2
		}
		if quick[f] != want {
			t.Errorf("family %s has %d quick scenarios, want %d", f, quick[f], want)
		}
	}
}

func TestSelectScenarios(t *testing.T) {
	names := func(ss []Scenario) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	tests := []struct {
		list  string
		quick bool
		want  string
	}{
		{"list-100,create-100", false, "create-100,list-100"}, // catalogue order
		{"traverse", false, "traverse-3,traverse-5,traverse-8"},
		{"read-*-cold", false, "read-1k-cold,read-64k-cold,read-1m-cold,read-10m-cold"},
		{"create-100,create-*", false, "create-100,create-1000,create-10000"},
		{"create-100", true, "create-100"}, // an explicit list wins over --quick
	}
	for _, tt := range tests {
		got, _, err := SelectScenarios(tt.list, tt.quick)
		if err != nil || names(got) != tt.want {
			t.Errorf("SelectScenarios(%q, %v) = %s, %v; want %s", tt.list, tt.quick, names(got), err, tt.want)
		}
	}
	q, dropped, err := SelectScenarios("", true)
	if err != nil || len(q) == 0 || len(dropped) == 0 || len(q)+len(dropped) != len(Catalogue()) {
		t.Errorf("quick: %d kept, %d dropped, %v", len(q), len(dropped), err)
	}
	if _, _, err := SelectScenarios("nosuch", false); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown scenario: %v", err)
	}
}

// TestScenarioDrivers runs the smallest size of every family in process on
// a plain directory (prepare writes into that one directory, as for the
// native mode) and checks the work was done. No timing checks.
func TestScenarioDrivers(t *testing.T) {
	shared := t.TempDir()
	for _, name := range []string{"create-100", "read-1k-cold", "read-1k-warm", "write-1k-warm", "list-100",
		"list-stat-100", "ls-l-1000", "traverse-3", "ccreate-2", "mix-50-50", "mix-0-100",
		"rsync-1000", "rsync-noop-1000", "tar-x-1000", "cp-out-1000"} {
		t.Run(name, func(t *testing.T) {
			sc, ok := Lookup(name)
			if !ok {
				t.Fatalf("no scenario %s", name)
			}
			for _, tool := range sc.Tools {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("%s is not installed", tool)
				}
			}
			dir, aux := t.TempDir(), t.TempDir()
			if sc.shared != nil {
				if err := sc.shared(shared); err != nil {
					t.Fatal(err)
				}
			}
			if sc.prepare != nil {
				if err := sc.prepare([]string{dir}, shared); err != nil {
					t.Fatalf("prepare: %v", err)
				}
			}
			e := &workerEnv{Dir: dir, Aux: aux, Shared: shared}
			if sc.setup != nil {
				if err := sc.setup(e); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			units, err := sc.run(e)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if units <= 0 || len(e.lat) == 0 {
				t.Errorf("units %g, %d latencies", units, len(e.lat))
			}
			for _, l := range e.lat {
				if l <= 0 {
					t.Fatalf("non-positive latency %d", l)
				}
			}
			switch sc.Family {
			case "rsync-noop":
				if e.notes["rsync_transferred"] != "0" {
					t.Errorf("no-op rsync on a plain directory transferred %s files", e.notes["rsync_transferred"])
				}
			case "rsync":
				if e.notes["rsync_transferred"] != "1000" {
					t.Errorf("rsync transferred %s files, want 1000", e.notes["rsync_transferred"])
				}
			case "create":
				if n := countFiles(t, filepath.Join(dir, "c")); n != 100 {
					t.Errorf("create-100 made %d files", n)
				}
			case "cp-out":
				if n := countFiles(t, filepath.Join(aux, "out")); n != 1000 {
					t.Errorf("cp-out copied %d files", n)
				}
			}
		})
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// Prepared data spreads round-robin over the branches.
func TestPrepareSpreads(t *testing.T) {
	b := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	if err := spreadFiles(b, "l", 10, 3); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{4, 3, 3} {
		if n := countFiles(t, filepath.Join(b[i], "l")); n != want {
			t.Errorf("branch %d has %d files, want %d", i, n, want)
		}
	}
	tb := []string{t.TempDir(), t.TempDir()}
	if err := makeTree(tb, "t", 3); err != nil {
		t.Fatal(err)
	}
	dirs, files := treeCounts(3)
	if dirs != 14 || files != 120 {
		t.Errorf("treeCounts(3) = %d dirs, %d files", dirs, files)
	}
	if n := countFiles(t, filepath.Join(tb[0], "t")) + countFiles(t, filepath.Join(tb[1], "t")); n != files {
		t.Errorf("tree has %d files over the branches, want %d", n, files)
	}
}

// TestWorkerProtocol drives Worker in process over pipes, as the harness does.
func TestWorkerProtocol(t *testing.T) {
	dir := t.TempDir()
	sc, _ := Lookup("create-100")
	if err := sc.prepare([]string{dir}, ""); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Worker(context.Background(), WorkerArgs{Scenario: "create-100", Dir: dir}, inR, outW)
		outW.Close()
	}()
	rd := bufio.NewReader(outR)
	line, _ := rd.ReadString('\n')
	if l, err := parseWorkerLine(line); err != nil || l.Kind != "ready" || l.PID != os.Getpid() {
		t.Fatalf("first line %q: %+v %v (want ready with pid %d)", line, l, err, os.Getpid())
	}
	io.WriteString(inW, "go\n")
	line, _ = rd.ReadString('\n')
	l, err := parseWorkerLine(line)
	if err != nil || l.Kind != "result" {
		t.Fatalf("second line %q: %v", line, err)
	}
	r := l.Result
	if r.Scenario != "create-100" || r.Units != 100 || len(r.LatNS) != 100 || r.WallNS <= 0 || r.CPUs == "" {
		t.Errorf("result: %+v", r)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Errorf("Worker: %v", err)
	}

	// An unknown scenario is reported on the protocol, not just returned.
	var out strings.Builder
	if err := Worker(context.Background(), WorkerArgs{Scenario: "nosuch", Dir: dir}, strings.NewReader(""), &out); err == nil {
		t.Errorf("unknown scenario: no error")
	}
	if l, _ := parseWorkerLine(out.String()); l.Kind != "error" || !strings.Contains(l.Msg, "nosuch") {
		t.Errorf("error line: %q", out.String())
	}
}

func TestParseWorkerLine(t *testing.T) {
	tests := []struct {
		line, kind string
		wantErr    bool
	}{
		{"MFSBENCH READY\n", "ready", false},
		{"MFSBENCH READY 4321\n", "ready", false},
		{"MFSBENCH READY x\n", "", true},
		{`MFSBENCH RESULT {"scenario":"list-100","units":10000,"wall_ns":5,"lat_ns":[1,2,3]}`, "result", false},
		{"MFSBENCH RESULT {broken", "", true},
		{"MFSBENCH ERROR setup of x: boom", "error", false},
		{"mfs: warning: something from a wrapper", "", false},
	}
	for _, tt := range tests {
		l, err := parseWorkerLine(tt.line)
		if (err != nil) != tt.wantErr || l.Kind != tt.kind {
			t.Errorf("parseWorkerLine(%q) = %+v, %v", tt.line, l, err)
		}
	}
	if l, _ := parseWorkerLine("MFSBENCH READY 4321"); l.PID != 4321 {
		t.Errorf("ready line: pid %d, want 4321", l.PID)
	}
	l, _ := parseWorkerLine(`MFSBENCH RESULT {"scenario":"list-100","units":10000,"wall_ns":5,"lat_ns":[1,2,3]}`)
	if l.Result.Units != 10000 || len(l.Result.LatNS) != 3 {
		t.Errorf("result: %+v", l.Result)
	}
}

// The phases split a scenario's worker in two: setup only (DONE, no
// handshake), then the timed run without setup; none times nothing.
func TestWorkerPhases(t *testing.T) {
	dir := t.TempDir()
	sc, _ := Lookup("read-1k-warm")
	if err := sc.prepare([]string{dir}, ""); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Worker(context.Background(), WorkerArgs{Scenario: sc.Name, Dir: dir, Phase: PhaseSetup}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if l, _ := parseWorkerLine(strings.TrimSpace(out.String())); l.Kind != "done" {
		t.Errorf("setup phase said %q", out.String())
	}
	for _, tt := range []struct {
		phase string
		ops   int
	}{{PhaseTimed, 1000}, {PhaseNone, 0}} {
		out.Reset()
		err := Worker(context.Background(), WorkerArgs{Scenario: sc.Name, Dir: dir, Phase: tt.phase}, strings.NewReader("go\n"), &out)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if err != nil || len(lines) != 2 {
			t.Fatalf("%s: %v: %q", tt.phase, err, out.String())
		}
		l, err := parseWorkerLine(lines[1])
		if err != nil || l.Kind != "result" || len(l.Result.LatNS) != tt.ops {
			t.Errorf("%s: %q", tt.phase, lines[1])
		}
	}
	if err := Worker(context.Background(), WorkerArgs{Scenario: sc.Name, Dir: dir, Phase: "later"}, strings.NewReader(""), &out); err == nil {
		t.Errorf("unknown phase accepted")
	}
}

// Every op loop runs on a plain directory laid out by prepareOps.
func TestOpLoops(t *testing.T) {
	dir := t.TempDir()
	if err := prepareOps([]string{dir}); err != nil {
		t.Fatal(err)
	}
	for _, op := range Ops {
		var out strings.Builder
		if err := Worker(context.Background(), WorkerArgs{Loop: op, N: 20, Dir: dir}, strings.NewReader(""), &out); err != nil {
			t.Errorf("%s: %v", op, err)
			continue
		}
		if ns, err := parseLoopLine(out.String()); err != nil || ns <= 0 {
			t.Errorf("%s: %q: %v", op, out.String(), err)
		}
	}
	if n := countFiles(t, filepath.Join(dir, "op")); n != opFiles+2 { // + big and true
		t.Errorf("create loop left %d files, want %d", n, opFiles+2)
	}
}
