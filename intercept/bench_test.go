package intercept

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkRoundTrip measures one trapped syscall per loop iteration of the
// static Go helper: natively and under the supervisor. ns/op is the
// helper's own per-call time (process start excluded).
//
//	go test -run '^$' -bench RoundTrip -count 5 ./intercept/
//	taskset -c 0 go test -run '^$' -bench RoundTrip -count 5 ./intercept/   (pinned)
func BenchmarkRoundTrip(b *testing.B) {
	f := newBenchFixture(b)
	h := goHelperB(b)
	cases := []struct {
		name string
		op   string
		path string
	}{
		{"op=continue-bare", "fchdirloop", "/"},        // CONTINUE, no memory read
		{"op=stat-outside", "statloop", "/etc/passwd"}, // read + CONTINUE
		{"op=stat-union-b2of3", "statloop", f.target + "/d/y"},
		{"op=open-union", "openloop", f.target + "/d/y"},
	}
	for _, c := range cases {
		for _, mode := range []string{"native", "run"} {
			path := c.path
			if mode == "native" && strings.HasPrefix(path, f.target) {
				path = f.branches[1] + strings.TrimPrefix(path, f.target)
			}
			b.Run(c.name+"/mode="+mode, func(b *testing.B) {
				n := max(b.N, 1000)
				argv := []string{h, c.op, path, strconv.Itoa(n)}
				var out string
				if mode == "native" {
					o, err := exec.Command(argv[0], argv[1:]...).Output()
					if err != nil {
						b.Fatal(err)
					}
					out = string(o)
				} else {
					r := f.runB(b, argv...)
					if r.code != 0 {
						b.Fatalf("%v: %d %v %s", argv, r.code, r.err, r.stderr)
					}
					out = r.stdout
				}
				ns, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
				if err != nil {
					b.Fatalf("helper output %q", out)
				}
				b.ReportMetric(ns, "ns/call")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
