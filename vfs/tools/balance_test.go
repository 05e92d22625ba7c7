package tools

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBalance fills one branch and balances it against a smaller,
// size-limited one: the plan weighs capacities, the run ends within the
// percentage, every file exists exactly once with its contents, mode,
// owner, mtime and xattrs, and the dry run's plan is what the run did.
func TestBalance(t *testing.T) {
	a, b := tmpfs(t, "64m"), tmpfs(t, "16m")
	for i := 0; i < 40; i++ {
		mkfile(t, a, fmt.Sprintf("d%d/f%02d.bin", i%4, i), 200<<10+i*20<<10, 0o640)
	}
	before, _, _ := poolFiles(t, []string{a, b})
	p := pool(t, a, b)
	dry, err := Balance(p, BalanceOptions{Percent: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Actions) == 0 {
		t.Fatal("empty plan")
	}
	for _, f := range dry.Fill {
		t.Logf("plan: %s %.1f%% -> %.1f%%", f.Branch, f.PctBefore, f.PctAfter)
	}
	if d := dry.Fill[0].PctAfter - dry.Fill[1].PctAfter; d > 2 || d < -2 {
		t.Errorf("planned fill %.1f%% vs %.1f%%: not within 2 points", dry.Fill[0].PctAfter, dry.Fill[1].PctAfter)
	}
	again, _, _ := poolFiles(t, []string{a, b})
	checkSameFiles(t, before, again) // a dry run changes nothing

	pl, err := Balance(p, BalanceOptions{Percent: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, pl, ExecOptions{Verify: true})
	if got, want := actionsJSON(t, r.Done), actionsJSON(t, dry.Actions); got != want {
		t.Errorf("run did not follow the dry run's plan:\nrun: %s\nplan: %s", got, want)
	}
	ua, ub := use(t, a), use(t, b)
	if ua-ub > 2 || ub-ua > 2 {
		t.Errorf("after balance: %.1f%% vs %.1f%%, want within 2 points", ua, ub)
	}
	after, temps, marks := poolFiles(t, []string{a, b})
	checkSameFiles(t, before, after)
	if len(temps)+len(marks) > 0 {
		t.Errorf("left temps %v, markers %v", temps, marks)
	}
	// The directory tree was cloned with its metadata.
	if fi, err := os.Stat(filepath.Join(b, "d1")); err == nil && fi.Mode().Perm() != 0o755 {
		t.Errorf("cloned directory mode %v", fi.Mode())
	}
	// Balanced already: nothing more to do.
	pl, err = Balance(p, BalanceOptions{Percent: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Actions) != 0 {
		t.Errorf("second balance planned %d actions", len(pl.Actions))
	}
}

// TestBalanceHardLinks: a hard link group moves as a whole and stays one
// inode; a group with a name outside the scope is skipped with a note.
func TestBalanceHardLinks(t *testing.T) {
	a, b := tmpfs(t, "32m"), tmpfs(t, "32m")
	mkfile(t, a, "g/big", 6<<20, 0o644)
	for _, n := range []string{"g/big.2", "h/big.3"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(a, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(a, "g/big"), filepath.Join(a, n)); err != nil {
			t.Fatal(err)
		}
	}
	mkfile(t, a, "s/split", 5<<20, 0o644)
	if err := os.Link(filepath.Join(a, "s/split"), filepath.Join(a, "split.outside")); err != nil {
		t.Fatal(err)
	}
	mkfile(t, a, "s/plain", 1<<20, 0o644)
	p := pool(t, a, b)

	// Scope s: the group's other name is outside, so it must not move.
	pl, err := Balance(p, BalanceOptions{Common: Common{Scope: "s"}, Percent: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ac := range pl.Actions {
		if ac.Path == "s/split" {
			t.Errorf("planned to move part of a hard link group: %s", ac)
		}
	}
	if !hasNote(pl, "s/split", "hard link group") {
		t.Errorf("no note for the split group: %+v", pl.Notes)
	}

	pl, err = Balance(p, BalanceOptions{Percent: 1})
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for _, ac := range pl.Actions {
		if ac.Path == "g/big" || strings.HasSuffix(ac.Path, "big.2") || strings.HasSuffix(ac.Path, "big.3") {
			moved = true
			if len(ac.Links) != 2 {
				t.Errorf("group moved without its links: %s", ac)
			}
		}
	}
	if !moved {
		t.Fatalf("plan does not move the 6 MiB group: %+v", pl.Actions)
	}
	run(t, pl, ExecOptions{})
	files, _, _ := poolFiles(t, []string{a, b})
	checkLinked(t, files, "g/big", "g/big.2", "h/big.3")
	checkLinked(t, files, "s/split", "split.outside")
	if files["g/big"][0].Branch != 1 {
		t.Errorf("group not on the target: %+v", files["g/big"])
	}
}

// TestBalanceSkipsWriters: a file some process has open for writing stays,
// and the plan says who has it open.
func TestBalanceSkipsWriters(t *testing.T) {
	a, b := tmpfs(t, "16m"), tmpfs(t, "16m")
	mkfile(t, a, "busy", 4<<20, 0o644)
	mkfile(t, a, "idle", 3<<20, 0o644)
	f, err := os.OpenFile(filepath.Join(a, "busy"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := pool(t, a, b)
	pl, err := Balance(p, BalanceOptions{Percent: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(pl, "busy", "open for writing by pid") {
		t.Errorf("no open-for-writing note: %+v", pl.Notes)
	}
	for _, ac := range pl.Actions {
		if ac.Path == "busy" {
			t.Errorf("planned to move a file open for writing: %s", ac)
		}
	}
	run(t, pl, ExecOptions{})
	if _, err := os.Stat(filepath.Join(a, "busy")); err != nil {
		t.Error(err)
	}

	// A writer that appears after the plan is caught by the lease.
	f.Close()
	mkfile(t, a, "late", 8<<20, 0o644)
	pl, err = Balance(p, BalanceOptions{Percent: 1})
	if err != nil {
		t.Fatal(err)
	}
	var busy *Action
	for i := range pl.Actions {
		if pl.Actions[i].Path == "busy" {
			busy = &pl.Actions[i]
		}
	}
	if busy == nil {
		t.Fatalf("closed file not planned: %+v", pl.Actions)
	}
	g, err := os.OpenFile(filepath.Join(a, "busy"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r := pl.Execute(t.Context(), ExecOptions{})
	if len(r.Skipped) != 1 || r.Skipped[0].Path != "busy" || !strings.Contains(r.Skipped[0].Reason, "open for writing") {
		t.Errorf("skipped %+v, failed %+v; want busy skipped as open for writing", r.Skipped, r.Failed)
	}
	if _, err := os.Stat(filepath.Join(a, "busy")); err != nil {
		t.Error(err)
	}
}

// TestBalanceFilters: include, exclude and min-size select the candidates.
func TestBalanceFilters(t *testing.T) {
	a, b := tmpfs(t, "32m"), tmpfs(t, "32m")
	mkfile(t, a, "m/a.mkv", 3<<20, 0o644)
	mkfile(t, a, "m/b.mkv", 2<<20, 0o644)
	mkfile(t, a, "m/c.nfo", 3<<20, 0o644)
	mkfile(t, a, "keep/d.mkv", 3<<20, 0o644)
	mkfile(t, a, "m/tiny.mkv", 10<<10, 0o644)
	p := pool(t, a, b)
	pl, err := Balance(p, BalanceOptions{Percent: 0.1, Filter: Filter{
		Include: []string{"*.mkv"}, Exclude: []string{"keep/*"}, MinSize: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ac := range pl.Actions {
		got[ac.Path] = true
	}
	for _, n := range []string{"m/c.nfo", "keep/d.mkv", "m/tiny.mkv"} {
		if got[n] {
			t.Errorf("filtered-out %s planned", n)
		}
	}
	if !got["m/a.mkv"] && !got["m/b.mkv"] {
		t.Errorf("nothing of the selection planned: %v", got)
	}
	if _, err := Balance(p, BalanceOptions{Filter: Filter{Include: []string{"[x"}}}); err == nil {
		t.Error("bad pattern accepted")
	}
}

func hasNote(pl *Plan, path, reason string) bool {
	for _, n := range pl.Notes {
		if n.Path == path && strings.Contains(n.Reason, reason) {
			return true
		}
	}
	return false
}

// TestBalanceTargetFillsUp: the target fills up between plan and run; the
// copy fails with ENOSPC, the source stays, no temp is left, and the
// remaining moves to that target are skipped rather than tried.
func TestBalanceTargetFillsUp(t *testing.T) {
	a, b := tmpfs(t, "32m"), tmpfs(t, "8m")
	for i := 0; i < 12; i++ {
		mkfile(t, a, fmt.Sprintf("f%d", i), 1<<20+i<<16, 0o644)
	}
	before, _, _ := poolFiles(t, []string{a, b})
	p := pool(t, a, b)
	pl, err := Balance(p, BalanceOptions{Percent: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Actions) < 2 {
		t.Fatalf("plan has %d moves, want several", len(pl.Actions))
	}
	filler, err := os.Create(filepath.Join(b, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := filler.Write(buf); err != nil {
			break
		}
	}
	// Leave less room than the smallest planned file.
	if err := filler.Truncate(8<<20 - 512<<10); err != nil {
		t.Fatal(err)
	}
	filler.Close()
	r := pl.Execute(t.Context(), ExecOptions{})
	if len(r.Failed) != 1 || !strings.Contains(r.Failed[0].Error, "no space") {
		t.Errorf("failed %+v, want one ENOSPC", r.Failed)
	}
	if len(r.Skipped) != len(pl.Actions)-1 {
		t.Errorf("skipped %d, want the other %d moves", len(r.Skipped), len(pl.Actions)-1)
	}
	if err := os.Remove(filepath.Join(b, "filler")); err != nil {
		t.Fatal(err)
	}
	after, temps, marks := poolFiles(t, []string{a, b})
	checkSameFiles(t, before, after)
	if len(temps)+len(marks) > 0 {
		t.Errorf("temps %v, markers %v", temps, marks)
	}
}
