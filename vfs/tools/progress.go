package tools

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress receives an execution's events. Execute calls it from one
// goroutine; implementations may draw from another.
type Progress interface {
	// Start: actions in the plan, of which files move or copy bytes.
	Start(tool string, actions, files int, bytes int64)
	// Step: one action ended; err nil (done), an errSkip (skipped) or the
	// failure.
	Step(a Action, err error)
	// Finish: the execution is over.
	Finish(r *Result)
}

type nopProgress struct{}

func (nopProgress) Start(string, int, int, int64) {}
func (nopProgress) Step(Action, error)            {}
func (nopProgress) Finish(*Result)                {}

// NewProgress returns the progress display for w. On a terminal (tty) it
// redraws one status line several times a second: actions and files done
// of the total, bytes, rate and ETA; failures and skips are printed above
// it. Elsewhere (a log, a pipe) it prints one plain line per action as it
// ends, then a summary. quiet keeps only failures, skips and the summary.
func NewProgress(w io.Writer, tty, quiet bool) Progress {
	return &progress{w: w, tty: tty, quiet: quiet, now: time.Now}
}

type progress struct {
	w          io.Writer
	tty, quiet bool
	now        func() time.Time

	mu                 sync.Mutex
	tool               string
	actions, files     int
	total              int64
	doneActs, doneFile int
	done               int64
	start              time.Time
	stop               chan struct{}
	wg                 sync.WaitGroup
	lineLen            int
}

func (p *progress) Start(tool string, actions, files int, bytes int64) {
	p.mu.Lock()
	p.tool, p.actions, p.files, p.total = tool, actions, files, bytes
	p.start = p.now()
	p.mu.Unlock()
	if p.tty && actions > 0 {
		p.stop = make(chan struct{})
		p.wg.Add(1)
		go p.ticker()
	}
}

func (p *progress) ticker() {
	defer p.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.drawLocked()
			p.mu.Unlock()
		}
	}
}

// drawLocked redraws the terminal status line.
// Preconditions: p.mu held.
func (p *progress) drawLocked() {
	s := p.statusLocked()
	pad := ""
	if n := p.lineLen - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", s, pad)
	p.lineLen = len(s)
}

// clearLocked erases the status line so a plain line can be printed.
// Preconditions: p.mu held.
func (p *progress) clearLocked() {
	if p.lineLen > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lineLen))
		p.lineLen = 0
	}
}

// statusLocked is "balance: 12/40 actions, 10/38 files, 1.2 GiB/4.0 GiB,
// 310.5 MiB/s, ETA 0:09".
// Preconditions: p.mu held.
func (p *progress) statusLocked() string {
	el := p.now().Sub(p.start)
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el.Seconds()
	}
	eta := "--:--"
	if rate > 0 && p.total >= p.done {
		eta = formatDur(time.Duration(float64(p.total-p.done) / rate * float64(time.Second)))
	}
	return fmt.Sprintf("%s: %d/%d actions, %d/%d files, %s/%s, %s/s, ETA %s",
		p.tool, p.doneActs, p.actions, p.doneFile, p.files, HumanBytes(p.done), HumanBytes(p.total),
		HumanBytes(int64(rate)), eta)
}

func (p *progress) Step(a Action, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doneActs++
	var line string
	switch e := err.(type) {
	case nil:
		if a.Op == OpMove || a.Op == OpCopy {
			p.doneFile++
			p.done += a.Bytes
		}
		if !p.quiet && !p.tty {
			line = a.String()
		}
	case errSkip:
		line = fmt.Sprintf("skipped %s: %s", a.Path, e.reason)
	default:
		line = fmt.Sprintf("FAILED  %s: %v", a.String(), err)
	}
	if line == "" {
		return
	}
	if p.tty {
		p.clearLocked()
	}
	fmt.Fprintln(p.w, line)
	if p.tty {
		p.drawLocked()
	}
}

func (p *progress) Finish(r *Result) {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.clearLocked()
	}
	rate := 0.0
	if s := r.Elapsed.Seconds(); s > 0 {
		rate = float64(r.Bytes) / s
	}
	state := "done"
	if r.Interrupted {
		state = "interrupted"
	}
	fmt.Fprintf(p.w, "%s %s: %d actions done, %d skipped, %d failed; %d files, %s in %s (%s/s)\n",
		p.tool, state, len(r.Done), len(r.Skipped), len(r.Failed), r.Files, HumanBytes(r.Bytes),
		r.Elapsed.Round(time.Millisecond), HumanBytes(int64(rate)))
}
