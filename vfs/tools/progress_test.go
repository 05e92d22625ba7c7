package tools

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestProgress checks both displays on canned events with a fake clock.
func TestProgress(t *testing.T) {
	mv := Action{Op: OpMove, Path: "a/b.mkv", From: "/d1", To: "/d2", Bytes: 3 << 30}
	fail := Action{Op: OpMove, Path: "c", From: "/d1", To: "/d2", Bytes: 1 << 30}
	skip := Action{Op: OpRemove, Path: "d", From: "/d1"}
	events := func(p Progress, clock *time.Time) {
		p.Start("balance", 3, 2, 4<<30)
		*clock = clock.Add(10 * time.Second)
		p.Step(mv, nil)
		p.Step(fail, errors.New("fileio: copy data: no space left on device"))
		p.Step(skip, errSkip{"open for writing"})
		p.Finish(&Result{Tool: "balance", Done: []Action{mv}, Files: 1, Bytes: 3 << 30, Elapsed: 10 * time.Second,
			Failed: []Failure{{Action: fail}}, Skipped: []Note{{Path: "d"}}})
	}
	t.Run("plain", func(t *testing.T) {
		var sb strings.Builder
		clock := time.Unix(0, 0)
		p := NewProgress(&sb, false, false).(*progress)
		p.now = func() time.Time { return clock }
		events(p, &clock)
		want := "move    a/b.mkv  /d1 -> /d2  3.0 GiB\n" +
			"FAILED  move    c  /d1 -> /d2  1.0 GiB: fileio: copy data: no space left on device\n" +
			"skipped d: open for writing\n" +
			"balance done: 1 actions done, 1 skipped, 1 failed; 1 files, 3.0 GiB in 10s (307.2 MiB/s)\n"
		if sb.String() != want {
			t.Errorf("got:\n%s\nwant:\n%s", sb.String(), want)
		}
	})
	t.Run("tty", func(t *testing.T) {
		clock := time.Unix(0, 0)
		p := NewProgress(&strings.Builder{}, true, false).(*progress)
		p.now = func() time.Time { return clock }
		p.Start("balance", 3, 2, 4<<30)
		p.mu.Lock() // the ticker reads the clock under mu
		clock = clock.Add(10 * time.Second)
		p.mu.Unlock()
		p.Step(mv, nil)
		p.mu.Lock()
		got := p.statusLocked()
		p.mu.Unlock()
		want := "balance: 1/3 actions, 1/2 files, 3.0 GiB/4.0 GiB, 307.2 MiB/s, ETA 0:03"
		if got != want {
			t.Errorf("status %q, want %q", got, want)
		}
		p.Finish(&Result{Tool: "balance"})
	})
}
