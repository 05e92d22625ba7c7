package intercept

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mfs-union/mfs/vfs"
	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/conformance"
)

// conformanceEnv makes the test binary the helper child of the run target:
// it performs the Ops it reads on stdin below the target and writes the
// Results to stdout, one JSON value per line.
const conformanceEnv = "MFS_INTERCEPT_CONFORMANCE_ROOT"

func conformanceHelper(root string) int {
	cl := conformance.NewOSClient(root, nil)
	in := json.NewDecoder(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for {
		var op conformance.Op
		if err := in.Decode(&op); err != nil {
			return 0
		}
		if err := out.Encode(conformance.Do(cl, op)); err != nil {
			return 1
		}
	}
}

// runTarget is `mfs run` as a conformance target: every operation is a real
// syscall of a process running under the supervisor at the target path.
type runTarget struct{}

func (runTarget) Name() string { return "run" }

func (runTarget) Features() conformance.Features {
	return conformance.Features{Union: true, Inodes: conformance.InodeReal, Rand: conformance.RandFree}
}

func (runTarget) Open(t *testing.T, u conformance.UnionSpec) conformance.Client {
	t.Helper()
	target := filepath.Join(t.TempDir(), "pool")
	// mountpoint= is where symlinks with absolute union targets point
	// (link-exdev=abs-pool-symlink, rename-exdev=abs-symlink): `mfs run`
	// sets it to the union's target.
	o, err := config.Parse(append(u.Args(), "mountpoint="+target))
	must(t, err)
	pool, err := vfs.New(o, vfs.Settings{})
	must(t, err)
	inR, inW, err := os.Pipe()
	must(t, err)
	outR, outW, err := os.Pipe()
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Config{
			Unions: []vfs.Union{{Target: target, Pool: pool}},
			Argv:   []string{"/proc/self/exe"},
			Env:    append(childEnv(), conformanceEnv+"="+target),
			Stdin:  inR, Stdout: outW, Stderr: os.Stderr,
		})
		inR.Close() // the child's ends stay open until Run has started it
		outW.Close()
		done <- err
	}()
	var mu sync.Mutex
	enc := json.NewEncoder(inW)
	dec := json.NewDecoder(bufio.NewReader(outR))
	t.Cleanup(func() {
		inW.Close()
		if err := <-done; err != nil {
			t.Errorf("run target: %v", err)
		}
		cancel()
		outR.Close()
		pool.Close()
	})
	return conformance.Proxy(target, func(op conformance.Op) conformance.Result {
		mu.Lock()
		defer mu.Unlock()
		var res conformance.Result
		if err := enc.Encode(op); err != nil {
			t.Fatalf("run target: send %v: %v", op, err)
		}
		if err := dec.Decode(&res); err != nil {
			t.Fatalf("run target: result of %v: %v", op, err)
		}
		return res
	})
}

// TestConformance runs the shared conformance table through `mfs run`. The
// cases run in a child test process with -test.parallel=1: the harness
// mounts and remounts tmpfs branches while it populates them, and a case
// running in parallel that starts its workload (fork, then exec) briefly
// holds a copy of every fd of the process, files the harness has open for
// writing included, so remount or unmount would fail with EBUSY.
func TestConformance(t *testing.T) {
	requireSeccompNotify(t)
	if os.Getenv(conformanceInnerEnv) == "" {
		args := []string{"-test.run=^TestConformance$", "-test.parallel=1", "-test.count=1"}
		if testing.Verbose() {
			args = append(args, "-test.v")
		}
		cmd := exec.Command("/proc/self/exe", args...)
		cmd.Env = append(childEnv(), conformanceInnerEnv+"=1")
		out, err := cmd.CombinedOutput()
		if testing.Verbose() || err != nil {
			t.Logf("conformance run (child test process):\n%s", out)
		}
		if err != nil {
			t.Fatalf("conformance through `mfs run`: %v", err)
		}
		return
	}
	conformance.Run(t, runTarget{}, nil)
}

const conformanceInnerEnv = "MFS_INTERCEPT_CONFORMANCE_INNER"
