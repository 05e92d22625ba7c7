package conformance

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHarnessDetects feeds deliberately wrong expectations through the runner
// and checks that each is reported, so a green table means something.
func TestHarnessDetects(t *testing.T) {
	bad := []struct {
		c    Case
		want string
	}{
		{Case{Name: "x/errno", Branches: bs(rw("f")), Opts: o(), Op: lstat("f"), Want: fail(unix.ENOENT)}, "errno"},
		{Case{Name: "x/out", Branches: bs(rw("f=a")), Opts: o(), Op: read("f"), Want: out("b")}, "output"},
		{Case{Name: "x/stat", Branches: bs(rw("f=a")), Opts: o(), Op: lstat("f"), Want: st("d")}, "type"},
		{Case{Name: "x/mode", Branches: bs(rw("f=a")), Opts: o(), Op: lstat("f"), Want: st("0600")}, "mode"},
		{Case{Name: "x/place", Branches: bs(rw(), rw()), Opts: o("category.create=ff"), Op: create("f", ""),
			Place: places(at("f", 1))}, "placement"},
		{Case{Name: "x/data", Branches: bs(rw()), Opts: o(), Op: create("f", "abc"),
			Place: places(at("f", 0).file("abd"))}, "holds"},
		{Case{Name: "x/subset", Branches: bs(rw(), rw()), Opts: o("category.create=ff"), Op: create("f", ""),
			Place: places(in("f", 1))}, "at least"},
		{Case{Name: "x/names", Branches: bs(rw("d/a")), Opts: o(), Op: readdir("d"), Want: names("b")}, "names"},
		{Case{Name: "x/anyof", Branches: bs(rw("d/"), rw("d/")), Opts: o("category.create=rand"), Op: create("d/f", ""),
			AnyOf: [][]Where{places(at("d/f", 1)), places(at("d/f", 0))}}, "pinned"},
		{Case{Name: "x/statfs", Branches: bs(rw().tmpfs("8M"), rw().tmpfs("8M")), Opts: o(), Op: statfs(""),
			Want: Expect{Statfs: &StatfsWant{Sum: []int{0}}}}, "f_blocks"},
	}
	target := VFS{Rand: RandFirst}
	for _, b := range bad {
		t.Run(b.c.Name, func(t *testing.T) {
			failures := runCase(t, target, target.Features(), b.c)
			if len(failures) == 0 {
				t.Fatalf("wrong expectation not reported")
			}
			if !strings.Contains(strings.Join(failures, "\n"), b.want) {
				t.Errorf("failures %q do not mention %q", failures, b.want)
			}
		})
	}
}

// TestVerdict pins the known-gap rules.
func TestVerdict(t *testing.T) {
	errs, logs := verdict("tgt", "a/b", "why", false, []string{"boom"})
	if len(errs) != 1 || len(logs) != 0 {
		t.Errorf("failing case: errs %q logs %q", errs, logs)
	}
	errs, logs = verdict("tgt", "a/b", "why", true, []string{"boom"})
	if len(errs) != 0 || len(logs) != 1 || !strings.Contains(logs[0], "why") {
		t.Errorf("failing known gap: errs %q logs %q", errs, logs)
	}
	errs, _ = verdict("tgt", "a/b", "why", true, nil)
	if len(errs) != 1 || !strings.Contains(errs[0], "remove") {
		t.Errorf("passing known gap: errs %q, want a failure asking to remove it", errs)
	}
	if errs, logs := verdict("tgt", "a/b", "", false, nil); len(errs)+len(logs) != 0 {
		t.Errorf("passing case: errs %q logs %q", errs, logs)
	}
}

// proxyOracle is the oracle behind Proxy with every Op and Result going
// through JSON, as they would to an `mfs run` helper child.
type proxyOracle struct{ Oracle }

func (proxyOracle) Name() string { return "oracle-proxy" }

func (proxyOracle) Open(t *testing.T, u UnionSpec) Client {
	inner := Oracle{}.Open(t, u)
	return Proxy(inner.Root(), func(op Op) Result {
		var op2 Op
		roundTrip(t, op, &op2)
		var res Result
		roundTrip(t, Do(inner, op2), &res)
		return res
	})
}

func roundTrip(t *testing.T, in, out any) {
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// TestProxy runs the POSIX cases through Proxy and JSON.
func TestProxy(t *testing.T) { Run(t, proxyOracle{}, nil) }
