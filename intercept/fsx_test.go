package intercept

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestRunFsx runs the model-checked random I/O tester (vfs/fsx: writes,
// reads, truncates, holes, mmap reads and writes, copy_file_range, appends,
// reopen, fsync; checked against its model every 5 operations) from a
// static workload inside a union under the supervisor: opens, reopens and
// path truncates are emulated, the I/O on the injected fds is native.
func TestRunFsx(t *testing.T) {
	f := newFixture(t, nil, []string{"keep"}, []string{"other"})
	h := goHelper(t)
	for _, seed := range []int{21, 22} {
		st := &Stats{}
		r := f.runCfg(t, Config{Argv: []string{h, "fsx", f.target, strconv.Itoa(seed), "4000"}, Stats: st})
		if r.code != 0 || strings.TrimSpace(r.stdout) != "fsx 4000 ops" {
			t.Fatalf("seed %d: exit %d, stdout %q, stderr %s", seed, r.code, r.stdout, r.stderr)
		}
		// The run worked in the union: its opens (reopen, the mmap and
		// copy sources) and creates were emulated.
		if st.BySyscall["openat"].Emulated < 100 {
			t.Fatalf("seed %d: only %d emulated openat: the run did not go through the union (%+v)", seed, st.BySyscall["openat"].Emulated, st.BySyscall)
		}
	}
	if _, err := os.Stat(f.target); !os.IsNotExist(err) {
		t.Fatalf("the union target exists on disk: %v", err)
	}
}
