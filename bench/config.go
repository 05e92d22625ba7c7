package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is one `mfs bench` invocation. cmd/mfs fills it from the command
// line; Validate checks it and fills defaults.
type Config struct {
	Scenarios string        // --scenarios: names, families, patterns; "" = all (or the quick set)
	Modes     []string      // --modes, in the order given
	Branches  int           // --branches: branches per pool (native always uses one directory)
	Runs      int           // --runs: K runs per scenario and mode; 0 = 3, or 1 with --quick
	Quick     bool          // --quick: one size per scenario family
	JSON      string        // --json FILE: every raw sample
	HTML      string        // --html FILE: self-contained page with SVG charts
	Markdown  string        // --markdown FILE: tables and target verdicts (what RESULTS.md is made of)
	Pin       string        // --pin CPU: run worker and server under taskset -c CPU; "" = unpinned
	Dir       string        // --dir: where run directories are made (local disk); default /var/tmp
	Options   []string      // -o: extra options for mount, mount-passthrough and mergerfs
	Noise     float64       // --noise: flag a result whose runs spread more than max/min > Noise
	Keep      bool          // --keep: leave the work directory in place
	Profile   string        // --profile DIR: CPU profiles of the mfs servers, one per run
	Perf      bool          // --perf: count CPU events (cycles, IPC, misses) of worker and server (perfcount.go)
	Timeout   time.Duration // per worker (the untimed setup and the timed run each); 0 = 3 minutes
	// SetupTimeout bounds a FUSE server's wait for its mount and the run
	// probe; 0 = 20 s.
	SetupTimeout time.Duration
	// CProbeCalls is how many calls of each kind the C-probe makes per run
	// (cprobe.go); 0 = 20000.
	CProbeCalls int

	// Self is the binary re-executed as the worker (default: this process's
	// executable, /proc/self/exe resolved). MFS is the binary run as `mfs
	// run` and `mfs mount` (default: Self). Mergerfs overrides PATH lookup.
	Self, MFS, Mergerfs string

	// Args is the command line as typed, printed in reports to reproduce the
	// run. MFSVersion is printed in the header.
	Args       []string
	MFSVersion string
}

// DefaultModes is --modes when not given: every mode but the two defaults
// modes, which a full run can add with --modes (they make it a third
// longer: 34 minutes for the full catalogue here, against the 30 the issue
// allows).
var DefaultModes = []string{ModeNative, ModeRun, ModeMount, ModePassthrough, ModeMergerfs, ModeOverlay}

// ParseList splits a comma-separated flag value, dropping empty items.
func ParseList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// UsageError is a mistake on the command line; cmd/mfs exits 2 for it.
type UsageError struct{ Err error }

func (u *UsageError) Error() string { return u.Err.Error() }
func (u *UsageError) Unwrap() error { return u.Err }

func usage(format string, args ...any) error { return &UsageError{fmt.Errorf(format, args...)} }

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if len(c.Modes) == 0 {
		c.Modes = append([]string{}, DefaultModes...)
	}
	seen := map[string]bool{}
	for _, m := range c.Modes {
		if _, err := NewMode(m, ModeConfig{}); err != nil {
			return usage("--modes: %v", err)
		}
		if seen[m] {
			return usage("--modes: %s given twice", m)
		}
		seen[m] = true
	}
	if c.Branches == 0 {
		c.Branches = 3
	}
	if c.Branches < 1 || c.Branches > 64 {
		return usage("--branches: %d is out of range 1..64", c.Branches)
	}
	if c.Runs == 0 {
		c.Runs = 3
		if c.Quick {
			c.Runs = 1
		}
	}
	if c.Runs < 1 {
		return usage("--runs: %d; need at least 1", c.Runs)
	}
	if _, _, err := SelectScenarios(c.Scenarios, c.Quick); err != nil {
		return &UsageError{err}
	}
	if c.Pin != "" {
		want, err := parseCPUList(c.Pin)
		if err != nil || len(want) == 0 {
			return usage("--pin: %q is not a CPU number (see nproc; e.g. --pin 0)", c.Pin)
		}
		if allowed, err := parseCPUList(cpusAllowed()); err == nil && len(allowed) > 0 {
			for _, w := range want {
				ok := false
				for _, a := range allowed {
					ok = ok || a == w
				}
				if !ok {
					return usage("--pin: CPU %d is not one this process may run on (%s)", w, cpusAllowed())
				}
			}
		}
		if _, err := exec.LookPath("taskset"); err != nil {
			return usage("--pin needs taskset (util-linux): %v", err)
		}
	}
	if c.CProbeCalls == 0 {
		c.CProbeCalls = 20000
	}
	if c.CProbeCalls < 0 {
		return usage("--cprobe-calls: %d; must be positive", c.CProbeCalls)
	}
	if c.Noise == 0 {
		c.Noise = 1.5
	}
	if c.Noise <= 1 {
		return usage("--noise: %g; a max/min threshold must be above 1 (e.g. 1.5)", c.Noise)
	}
	if c.Dir == "" {
		c.Dir = "/var/tmp"
	}
	if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		return usage("--dir: %s is not an existing directory", c.Dir)
	}
	if strings.ContainsAny(c.Dir, ":=,") {
		// Branch lists are B1:B2 with =MODE suffixes, and -o is comma-separated.
		return usage("--dir: %s contains ':', '=' or ','; branch paths under it could not be passed to mfs or mergerfs", c.Dir)
	}
	if c.Profile != "" {
		if err := os.MkdirAll(c.Profile, 0o755); err != nil {
			return usage("--profile: %v", err)
		}
		if abs, err := filepath.Abs(c.Profile); err == nil {
			c.Profile = abs
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Minute
	}
	if c.Timeout < 0 {
		return usage("--timeout: %s; must be positive", c.Timeout)
	}
	if c.Self == "" {
		exe, err := os.Readlink("/proc/self/exe")
		if err != nil {
			return fmt.Errorf("finding this binary to re-execute as the worker: %w", err)
		}
		c.Self = exe
	}
	if c.MFS == "" {
		c.MFS = c.Self
	}
	return nil
}

// probeCPU is the CPU the C-probe is pinned to: the first of --pin, else
// the first this process may run on ("0" when that cannot be read).
func (c *Config) probeCPU() string {
	list := c.Pin
	if list == "" {
		list = cpusAllowed()
	}
	if cpus, err := parseCPUList(list); err == nil && len(cpus) > 0 {
		return strconv.Itoa(cpus[0])
	}
	return "0"
}

// pinPrefix is the taskset prefix for --pin, or nil.
func (c *Config) pinPrefix() []string {
	if c.Pin == "" {
		return nil
	}
	return []string{"taskset", "-c", c.Pin}
}
