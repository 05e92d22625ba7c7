package bench

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
)

// Scenario is one workload of the seed document, at one size. Its name
// fixes every parameter (file count, size, workers, cold or warm), so the
// same name means the same work in every mode, run and report.
//
// Work is done in three places:
//   - shared (harness, once per bench): inputs outside every pool that all
//     runs read, such as the source tree of rsync; never timed.
//   - prepare (harness, before the mode is set up): files written straight
//     into the branches (or the native directory), spread round-robin;
//     never timed.
//   - setup then run (worker process, through the pool): setup is untimed
//     (e.g. warming the page cache); run is the timed workload.
type Scenario struct {
	Name   string `json:"name"`
	Family string `json:"family"`
	// Unit is what throughput counts: "files", "MiB", "entries", "ops".
	Unit string `json:"unit"`
	// Cold means the page cache is dropped after setup, before the timed run.
	Cold bool `json:"cold,omitempty"`
	// Tools are external programs the workload runs (rsync, tar, cp).
	Tools []string `json:"tools,omitempty"`
	// Quick marks the one size per family that --quick keeps.
	Quick bool   `json:"-"`
	About string `json:"about"`

	shared  func(shared string) error
	prepare func(data []string, shared string) error
	setup   func(e *workerEnv) error
	run     func(e *workerEnv) (units float64, err error)
}

// ScenarioInfo is a scenario's description, as stored in reports.
type ScenarioInfo struct {
	Name   string   `json:"name"`
	Family string   `json:"family"`
	Unit   string   `json:"unit"`
	Cold   bool     `json:"cold,omitempty"`
	Tools  []string `json:"tools,omitempty"`
	About  string   `json:"about"`
}

// Info returns the scenario's description.
func (s Scenario) Info() ScenarioInfo {
	return ScenarioInfo{Name: s.Name, Family: s.Family, Unit: s.Unit, Cold: s.Cold, Tools: s.Tools, About: s.About}
}

// Family order for listings and reports.
var families = []string{"create", "read", "write", "list", "list-stat", "ls-l", "traverse", "ccreate", "mix", "rsync", "rsync-noop", "tar-x", "cp-out"}

// sizes of the read/write family: name suffix and bytes.
var ioSizes = []struct {
	name  string
	bytes int64
	files int
}{
	{"1k", 1 << 10, 1000},
	{"64k", 64 << 10, 256},
	{"1m", 1 << 20, 32},
	{"10m", 10 << 20, 6},
}

// listReps is how many full passes list and list-stat make over a
// directory of n entries, and traverseReps over a tree of depth d: enough
// samples for percentiles without making the big sizes dominate the run.
var listReps = map[int]int{100: 100, 1000: 20, 10000: 5, 50000: 3}
var traverseReps = map[int]int{3: 30, 5: 10, 8: 3}

const (
	ccreatePerWorker = 250 // files each concurrent-create worker makes
	mixWorkers       = 8
	mixOpsPerWorker  = 200
	mixFiles         = 256     // pre-existing files the mix reads
	mixFileSize      = 4 << 10 // bytes per mix read or write
	treeFanout       = 2       // subdirectories per directory in traverse trees
	treeFilesPerDir  = 8
)

// Catalogue returns every scenario, in report order.
func Catalogue() []Scenario {
	var out []Scenario
	for _, n := range []int{100, 1000, 10000} {
		out = append(out, createScenario(n))
	}
	for _, cold := range []bool{true, false} {
		for _, sz := range ioSizes {
			out = append(out, readScenario(sz.name, sz.bytes, sz.files, cold))
		}
	}
	for _, cold := range []bool{true, false} {
		for _, sz := range ioSizes {
			out = append(out, writeScenario(sz.name, sz.bytes, sz.files, cold))
		}
	}
	for _, stat := range []bool{false, true} {
		for _, n := range []int{100, 1000, 10000, 50000} {
			out = append(out, listScenario(n, stat))
		}
	}
	for _, n := range []int{1000, 10000} {
		out = append(out, lsScenario(n))
	}
	for _, d := range []int{3, 5, 8} {
		out = append(out, traverseScenario(d))
	}
	for _, w := range []int{1, 2, 4, 8, 16} {
		out = append(out, ccreateScenario(w))
	}
	for _, r := range []int{100, 80, 50, 20, 0} {
		out = append(out, mixScenario(r))
	}
	for _, n := range []int{1000, 10000} {
		out = append(out, rsyncScenario(n, false), rsyncScenario(n, true), tarScenario(n), cpOutScenario(n))
	}
	slices.SortStableFunc(out, func(a, b Scenario) int {
		return slices.Index(families, a.Family) - slices.Index(families, b.Family)
	})
	return out
}

// Lookup finds a scenario by its exact name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range Catalogue() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// SelectScenarios resolves --scenarios: a comma-separated list of names,
// family names (every size of the family) and shell patterns (read-*-cold).
// An empty list means the full catalogue, or the quick selection with quick.
// The result keeps catalogue order, without duplicates. dropped lists what
// --quick left out, for the report.
func SelectScenarios(list string, quick bool) (sel []Scenario, dropped []string, err error) {
	all := Catalogue()
	if strings.TrimSpace(list) == "" {
		for _, s := range all {
			if !quick || s.Quick {
				sel = append(sel, s)
			} else {
				dropped = append(dropped, s.Name)
			}
		}
		return sel, dropped, nil
	}
	want := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		matched := false
		for _, s := range all {
			ok := s.Name == item || s.Family == item
			if !ok {
				if m, perr := path.Match(item, s.Name); perr != nil {
					return nil, nil, fmt.Errorf("--scenarios: bad pattern %q: %w", item, perr)
				} else {
					ok = m
				}
			}
			if ok {
				want[s.Name] = true
				matched = true
			}
		}
		if !matched {
			return nil, nil, fmt.Errorf("--scenarios: no scenario matches %q; families: %s (see 'mfs bench --list')", item, strings.Join(families, ", "))
		}
	}
	for _, s := range all {
		if want[s.Name] {
			sel = append(sel, s)
		}
	}
	return sel, nil, nil
}

func createScenario(n int) Scenario {
	return Scenario{
		Name: fmt.Sprintf("create-%d", n), Family: "create", Unit: "files", Quick: n == 1000,
		About: fmt.Sprintf("create %d files of 1 KiB in one directory (open O_CREAT|O_EXCL, write, close); one op per file", n),
		prepare: func(data []string, _ string) error {
			return mkdirEach(data, "c")
		},
		run: func(e *workerEnv) (float64, error) {
			return float64(n), createFiles(e, path.Join(e.Dir, "c"), "f", n, 1<<10)
		},
	}
}

func readScenario(name string, size int64, files int, cold bool) Scenario {
	temp := "cold"
	if !cold {
		temp = "warm"
	}
	s := Scenario{
		Name: fmt.Sprintf("read-%s-%s", name, temp), Family: "read", Unit: "MiB", Cold: cold, Quick: name == "64k",
		About: fmt.Sprintf("read %d files of %s whole (open, read 1 MiB at a time, close), page cache %s; one op per file",
			files, humanSize(size), map[bool]string{true: "dropped first", false: "warmed first"}[cold]),
		prepare: func(data []string, _ string) error {
			return spreadFiles(data, "r", files, size)
		},
		run: func(e *workerEnv) (float64, error) {
			err := readFiles(e, path.Join(e.Dir, "r"), files)
			return float64(int64(files)*size) / (1 << 20), err
		},
	}
	if !cold {
		s.setup = func(e *workerEnv) error { return warmFiles(path.Join(e.Dir, "r"), files) }
	}
	return s
}

func writeScenario(name string, size int64, files int, cold bool) Scenario {
	temp := "cold"
	if !cold {
		temp = "warm"
	}
	s := Scenario{
		Name: fmt.Sprintf("write-%s-%s", name, temp), Family: "write", Unit: "MiB", Cold: cold, Quick: name == "64k",
		About: fmt.Sprintf("overwrite %d existing files of %s in place (open O_WRONLY, write 1 MiB at a time, close; no fsync), page cache %s; one op per file",
			files, humanSize(size), map[bool]string{true: "dropped first", false: "warmed first"}[cold]),
		prepare: func(data []string, _ string) error {
			return spreadFiles(data, "w", files, size)
		},
		run: func(e *workerEnv) (float64, error) {
			err := overwriteFiles(e, path.Join(e.Dir, "w"), files, size)
			return float64(int64(files)*size) / (1 << 20), err
		},
	}
	if !cold {
		s.setup = func(e *workerEnv) error { return warmFiles(path.Join(e.Dir, "w"), files) }
	}
	return s
}

func listScenario(n int, stat bool) Scenario {
	fam, what := "list", "names only (getdents)"
	if stat {
		fam, what = "list-stat", "names and lstat of each entry, as ls -l"
	}
	reps := listReps[n]
	return Scenario{
		Name: fmt.Sprintf("%s-%d", fam, n), Family: fam, Unit: "entries", Quick: n == 1000,
		About: fmt.Sprintf("list a directory of %d empty files spread over the branches, %s; %d passes, one op per pass", n, what, reps),
		prepare: func(data []string, _ string) error {
			return spreadFiles(data, "l", n, 0)
		},
		run: func(e *workerEnv) (float64, error) {
			return float64(n * reps), listDir(e, path.Join(e.Dir, "l"), n, reps, stat)
		},
	}
}

// lsScenario is list-stat as users run it: the real `ls -l`, whose
// per-entry calls (lstat or statx, and the xattr reads for ACL and
// security labels) are what a union must answer; list-stat times the
// worker's own getdents+lstat loop, the same code in every mode.
func lsScenario(n int) Scenario {
	reps := listReps[n]
	return Scenario{
		Name: fmt.Sprintf("ls-l-%d", n), Family: "ls-l", Unit: "entries", Tools: []string{"ls"}, Quick: n == 1000,
		About: fmt.Sprintf("ls -l of a directory of %d empty files spread over the branches (the real tool: names, lstat/statx and ACL/label xattrs of each entry, sorted and formatted); %d passes, one op per pass", n, reps),
		prepare: func(data []string, _ string) error {
			return spreadFiles(data, "l", n, 0)
		},
		run: func(e *workerEnv) (float64, error) {
			return float64(n * reps), e.lsLong(path.Join(e.Dir, "l"), n, reps)
		},
	}
}

func traverseScenario(depth int) Scenario {
	dirs, files := treeCounts(depth)
	reps := traverseReps[depth]
	return Scenario{
		Name: fmt.Sprintf("traverse-%d", depth), Family: "traverse", Unit: "entries", Quick: depth == 5,
		About: fmt.Sprintf("walk a tree of depth %d (%d subdirectories per directory, %d files each: %d dirs, %d files) spread over the branches, lstat of every entry; %d passes, one op per pass",
			depth, treeFanout, treeFilesPerDir, dirs, files, reps),
		prepare: func(data []string, _ string) error {
			return makeTree(data, "t", depth)
		},
		run: func(e *workerEnv) (float64, error) {
			return float64((dirs + files) * reps), traverse(e, path.Join(e.Dir, "t"), dirs+files, reps)
		},
	}
}

func ccreateScenario(workers int) Scenario {
	return Scenario{
		Name: fmt.Sprintf("ccreate-%d", workers), Family: "ccreate", Unit: "files", Quick: workers == 4,
		About: fmt.Sprintf("%d concurrent workers (threads) each create %d files of 1 KiB in one shared directory; one op per file", workers, ccreatePerWorker),
		prepare: func(data []string, _ string) error {
			return mkdirEach(data, "cc")
		},
		run: func(e *workerEnv) (float64, error) {
			return float64(workers * ccreatePerWorker), concurrentCreate(e, path.Join(e.Dir, "cc"), workers, ccreatePerWorker)
		},
	}
}

func mixScenario(readPct int) Scenario {
	return Scenario{
		Name: fmt.Sprintf("mix-%d-%d", readPct, 100-readPct), Family: "mix", Unit: "ops", Quick: readPct == 80,
		About: fmt.Sprintf("%d workers × %d ops: %d%% read a random one of %d existing 4 KiB files, %d%% create a new 4 KiB file; one op per read or create",
			mixWorkers, mixOpsPerWorker, readPct, mixFiles, 100-readPct),
		prepare: func(data []string, _ string) error {
			return spreadFiles(data, "mx", mixFiles, mixFileSize)
		},
		run: func(e *workerEnv) (float64, error) {
			return float64(mixWorkers * mixOpsPerWorker), mix(e, path.Join(e.Dir, "mx"), readPct)
		},
	}
}

func rsyncScenario(n int, noop bool) Scenario {
	s := Scenario{
		Name: fmt.Sprintf("rsync-%d", n), Family: "rsync", Unit: "files", Tools: []string{"rsync"}, Quick: n == 1000,
		About:  fmt.Sprintf("rsync -a a source tree of %d files (%s) from local disk into the pool; one op", n, treeAbout(n)),
		shared: func(shared string) error { return makeSourceTree(shared, n) },
		run: func(e *workerEnv) (float64, error) {
			return float64(n), e.rsync(sourceTree(e.Shared, n), path.Join(e.Dir, "rs"), false)
		},
	}
	if noop {
		s.Name, s.Family = fmt.Sprintf("rsync-noop-%d", n), "rsync-noop"
		s.About = fmt.Sprintf("rsync -a the same %d-file tree again into the pool after a first (untimed) copy: nothing should be transferred; one op", n)
		s.setup = func(e *workerEnv) error {
			return e.rsync(sourceTree(e.Shared, n), path.Join(e.Dir, "rs"), true)
		}
		s.run = func(e *workerEnv) (float64, error) {
			return float64(n), e.rsync(sourceTree(e.Shared, n), path.Join(e.Dir, "rs"), false)
		}
	}
	return s
}

func tarScenario(n int) Scenario {
	return Scenario{
		Name: fmt.Sprintf("tar-x-%d", n), Family: "tar-x", Unit: "files", Tools: []string{"tar"}, Quick: n == 1000,
		About:  fmt.Sprintf("tar -x of an archive of the %d-file source tree (on local disk) into the pool; one op", n),
		shared: func(shared string) error { return makeSourceArchive(shared, n) },
		setup: func(e *workerEnv) error {
			return mkdir(path.Join(e.Dir, "tx"))
		},
		run: func(e *workerEnv) (float64, error) {
			return float64(n), e.tool(tarExtractCmd(sourceArchive(e.Shared, n), path.Join(e.Dir, "tx")))
		},
	}
}

func cpOutScenario(n int) Scenario {
	return Scenario{
		Name: fmt.Sprintf("cp-out-%d", n), Family: "cp-out", Unit: "files", Tools: []string{"cp"}, Quick: n == 1000,
		About:  fmt.Sprintf("cp -r the %d-file tree, spread over the branches, out of the pool to local disk; one op", n),
		shared: func(shared string) error { return makeSourceTree(shared, n) },
		prepare: func(data []string, shared string) error {
			return spreadTree(sourceTree(shared, n), data, "tree")
		},
		run: func(e *workerEnv) (float64, error) {
			return float64(n), e.tool(cpOutCmd(path.Join(e.Dir, "tree"), path.Join(e.Aux, "out")))
		},
	}
}

// treeCounts is the number of subdirectories and files of a traverse tree.
func treeCounts(depth int) (dirs, files int) {
	level := 1
	for d := 1; d <= depth; d++ {
		level *= treeFanout
		dirs += level
	}
	return dirs, (dirs + 1) * treeFilesPerDir
}

func treeAbout(n int) string {
	return fmt.Sprintf("%d dirs of 100 files, 256 B to 8 KiB", (n+99)/100)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// PrintCatalogue lists every scenario for --list, marking the quick set.
func PrintCatalogue(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tfamily\tunit\tquick\twhat it does\n")
	for _, s := range Catalogue() {
		q := ""
		if s.Quick {
			q = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Family, s.Unit, q, s.About)
	}
	tw.Flush()
}
