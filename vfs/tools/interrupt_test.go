package tools

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfs-union/mfs/vfs/fileio"
)

// TestInterruptedMove kills a helper child running a balance while it is
// inside a copy (SIGKILL: no cleanup runs, as at a power cut), then checks
// that every file still exists with its contents, that at most one temp
// file is left, and that the next run removes it and finishes the job.
//
// The target is a tmpfs (O_TMPFILE: a killed copy leaves no name at all)
// and a mergerfs mount, where FUSE has no O_TMPFILE, the copy is a named
// temp file, and the kill leaves it behind for the next run to clean.
func TestInterruptedMove(t *testing.T) {
	for _, target := range []string{"tmpfs", "fuse"} {
		t.Run(target, func(t *testing.T) {
			a := tmpfs(t, "128m")
			b := tmpfs(t, "128m")
			bpath := b
			if target == "fuse" {
				bpath = mergerfsMount(t, b, "minfreespace=0")
			}
			for i := 0; i < 6; i++ {
				mkfile(t, a, fmt.Sprintf("v/f%d.bin", i), 12<<20+i<<20, 0o644)
			}
			before, _, _ := poolFiles(t, []string{a, b})
			branches := a + ":" + bpath

			caught := false
			for attempt := 0; attempt < 3 && !caught; attempt++ {
				caught = killMidCopy(t, branches, bpath)
				mid, temps, _ := poolFiles(t, []string{a, b})
				// Nothing lost: every file is still there, complete, on at
				// least one branch.
				for rel, bs := range before {
					if len(mid[rel]) == 0 {
						t.Fatalf("after kill %d: %s lost", attempt, rel)
					}
					for _, c := range mid[rel] {
						if !c.same(bs[0]) {
							t.Fatalf("after kill %d: %s differs: %+v vs %+v", attempt, rel, c, bs[0])
						}
					}
				}
				if len(temps) > 1 {
					t.Errorf("after kill %d: %d temp files: %v", attempt, len(temps), temps)
				}
				t.Logf("attempt %d: caught mid-copy %v, temps %v", attempt, caught, temps)
				if target == "fuse" && caught && len(temps) == 0 {
					t.Errorf("killed mid-copy on FUSE but no named temp left (O_TMPFILE on FUSE?)")
				}
			}
			if !caught {
				t.Fatal("never caught the child inside a copy")
			}
			// The next run cleans the temp and completes the balance.
			p := pool(t, a, bpath)
			pl, err := Balance(p, BalanceOptions{Percent: 1})
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, pl, ExecOptions{})
			cleaned := 0
			for _, ac := range r.Done {
				if ac.Op == OpClean {
					cleaned += len(ac.Names)
				}
			}
			t.Logf("next run: %d actions, %d temps cleaned", len(r.Done), cleaned)
			after, temps, marks := poolFiles(t, []string{a, b})
			checkSameFiles(t, before, after)
			if len(temps)+len(marks) > 0 {
				t.Errorf("after the next run: temps %v, markers %v", temps, marks)
			}
		})
	}
}

// killMidCopy runs the balance helper and SIGKILLs it as soon as one of its
// descriptors is a copy in progress under target: an unnamed O_TMPFILE
// ("/path/#123 (deleted)") or a fileio temp name. It reports whether it
// caught one (false: the child finished first).
func killMidCopy(t *testing.T, branches, target string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=balance", "MFS_TOOLS_BRANCHES="+branches)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "start\n" {
		_ = cmd.Wait()
		t.Fatalf("helper: %q, stderr %s", line, stderr.String())
	}
	fdDir := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/fd/"
	caught := false
	for !caught {
		ents, err := os.ReadDir(fdDir)
		if err != nil {
			break // exited
		}
		for _, e := range ents {
			l, err := os.Readlink(fdDir + e.Name())
			if err != nil || !strings.HasPrefix(l, target+"/") {
				continue
			}
			if strings.HasSuffix(l, " (deleted)") || fileio.IsTempName(filepath.Base(l)) {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				caught = true
				break
			}
		}
	}
	err = cmd.Wait()
	if !caught && err != nil {
		t.Fatalf("helper failed: %v\n%s", err, stderr.String())
	}
	return caught
}

// TestCrashStages stops a move at each step (the test hook acts like a
// crash: no rollback runs) and checks that the next run finds the move
// marker and finishes or abandons the move: every name exactly once, the
// hard link group whole, no marker and no temp file left.
func TestCrashStages(t *testing.T) {
	// The plan moves one group of three names (one copy, two links, three
	// unlinks): crash at the nth time a stage is reached.
	cases := []struct {
		stage string
		nth   int
	}{{"marked", 1}, {"copied", 1}, {"linked", 1}, {"linked", 2}, {"unlinked", 1}, {"unlinked", 2}, {"unlinked", 3}}
	for _, tc := range cases {
		stage, nth := tc.stage, tc.nth
		{
			t.Run(fmt.Sprintf("%s#%d", stage, nth), func(t *testing.T) {
				a, b := tmpfs(t, "32m"), tmpfs(t, "32m")
				mkfile(t, a, "g/one", 4<<20, 0o600)
				for _, n := range []string{"g/two", "three"} {
					if err := os.Link(filepath.Join(a, "g/one"), filepath.Join(a, n)); err != nil {
						t.Fatal(err)
					}
				}
				mkfile(t, a, "solo", 3<<20, 0o644)
				mkfile(t, a, "small", 1<<20, 0o644)
				before, _, _ := poolFiles(t, []string{a, b})
				p := pool(t, a, b)
				pl, err := Balance(p, BalanceOptions{Percent: 1})
				if err != nil {
					t.Fatal(err)
				}
				seen := 0
				r := pl.Execute(t.Context(), ExecOptions{hook: func(s string) bool {
					if s == stage {
						seen++
					}
					return seen < nth
				}})
				if !r.Interrupted {
					t.Fatalf("stage %s#%d never reached (plan %d actions)", stage, nth, len(pl.Actions))
				}
				mid, _, marks := poolFiles(t, []string{a, b})
				for rel := range before {
					if len(mid[rel]) == 0 {
						t.Fatalf("%s lost at the crash", rel)
					}
				}
				t.Logf("markers after the crash: %v", marks)

				pl, err = Balance(p, BalanceOptions{Percent: 1})
				if err != nil {
					t.Fatal(err)
				}
				var rec []string
				for _, ac := range pl.Actions {
					if ac.Op == OpFinish || ac.Op == OpAbandon {
						rec = append(rec, ac.String())
					}
				}
				if len(marks) > 0 && len(rec) == 0 {
					t.Errorf("markers %v but no recovery planned", marks)
				}
				t.Logf("recovery: %v", rec)
				run(t, pl, ExecOptions{})
				after, temps, marks := poolFiles(t, []string{a, b})
				checkSameFiles(t, before, after)
				checkLinked(t, after, "g/one", "g/two", "three")
				if len(temps)+len(marks) > 0 {
					t.Errorf("temps %v, markers %v", temps, marks)
				}
			})
		}
	}
}
