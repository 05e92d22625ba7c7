package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMFS writes a stand-in for an mfs binary that lacks a subcommand, as
// cmd/mfs does while `mfs run` or `mfs mount` is being written.
func fakeMFS(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mfs")
	script := "#!/bin/sh\necho \"mfs: unknown command \\\"$1\\\"; see 'mfs --help'\" >&2\nexit 2\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runLayout(t *testing.T, n int) []string {
	t.Helper()
	run := t.TempDir()
	var b []string
	for i := 1; i <= n; i++ {
		b = append(b, filepath.Join(run, "b"+string(rune('0'+i))))
	}
	for _, d := range append(append([]string{}, b...), filepath.Join(run, "mnt")) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestUnavailableModesSayWhy(t *testing.T) {
	mfs := fakeMFS(t)
	ctx := context.Background()

	run, _ := NewMode(ModeRun, ModeConfig{MFS: mfs})
	err := run.(prober).Probe(ctx, t.TempDir())
	var u *Unavailable
	if !errors.As(err, &u) || u.Mode != ModeRun || !strings.Contains(u.Reason, `unknown command "run"`) {
		t.Errorf("run probe: %v", err)
	}

	for _, name := range []string{ModeMount, ModePassthrough} {
		m, _ := NewMode(name, ModeConfig{MFS: mfs})
		env, err := m.Setup(ctx, runLayout(t, 2), nil)
		if !errors.As(err, &u) || u.Mode != name || !strings.Contains(u.Reason, `unknown command "mount"`) {
			t.Errorf("%s setup: %+v, %v", name, env, err)
		}
	}

	m, _ := NewMode(ModeMergerfs, ModeConfig{Mergerfs: "/nonexistent/mergerfs"})
	_, err = m.Setup(ctx, runLayout(t, 2), nil)
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "mergerfs is not installed") {
		t.Errorf("missing mergerfs: %v", err)
	}
}

func TestModeCommands(t *testing.T) {
	b := runLayout(t, 3)
	run, _ := NewMode(ModeRun, ModeConfig{MFS: "/bin/mfs"})
	env, err := run.Setup(context.Background(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(filepath.Dir(b[0]), "mnt")
	want := []string{"/bin/mfs", "run", "--union", mnt + "=" + strings.Join(b, ":"), "--"}
	if strings.Join(env.Prefix, " ") != strings.Join(want, " ") || !env.PrefixServes || env.Dir != mnt {
		t.Errorf("run env: %+v", env)
	}
	if len(env.ExtraEnv) != 1 || !strings.HasPrefix(env.ExtraEnv[0], runStatsEnv+"=") {
		t.Errorf("run env: %v", env.ExtraEnv)
	}
	// mount and mergerfs get the same explicit options.
	mount, _ := NewMode(ModeMount, ModeConfig{MFS: "mfs"})
	mfs, _ := NewMode(ModeMergerfs, ModeConfig{})
	ma := mount.(*fuseMode).args(b, mnt, []string{"x=1"})
	ga := mfs.(*fuseMode).args(b, mnt, []string{"x=1"})
	if ma[0] != "mount" || ma[3] != ga[2] || !strings.HasSuffix(ga[2], ",x=1") {
		t.Errorf("options differ:\nmount    %v\nmergerfs %v", ma, ga)
	}
	pt, _ := NewMode(ModePassthrough, ModeConfig{MFS: "mfs"})
	if pa := pt.(*fuseMode).args(b, mnt, nil); !strings.Contains(pa[3], "passthrough.io=rw") {
		t.Errorf("passthrough args: %v", pa)
	}
	// The defaults modes get no -o at all unless the user adds some.
	md, _ := NewMode(ModeMountDefaults, ModeConfig{MFS: "mfs"})
	gd, _ := NewMode(ModeMergerfsDefaults, ModeConfig{})
	if a := md.(*fuseMode).args(b, mnt, nil); strings.Join(a, " ") != "mount -f "+strings.Join(b, ":")+" "+mnt {
		t.Errorf("mount-defaults args: %v", a)
	}
	if a := gd.(*fuseMode).args(b, mnt, []string{"x=1"}); strings.Join(a[:3], " ") != "-f -o x=1" {
		t.Errorf("mergerfs-defaults args: %v", a)
	}
	if _, err := NewMode("nosuch", ModeConfig{}); err == nil {
		t.Errorf("unknown mode accepted")
	}
}

func tempSubdir(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown mode", Config{Modes: []string{"native", "zfs"}}, `unknown mode "zfs"`},
		{"twice", Config{Modes: []string{"native", "native"}}, "given twice"},
		{"runs", Config{Runs: -1}, "--runs"},
		{"scenario", Config{Scenarios: "nosuch"}, "nosuch"},
		{"pin", Config{Pin: "x"}, "--pin"},
		{"pin cpu", Config{Pin: "4096"}, "not one this process may run on"},
		{"noise", Config{Noise: 0.5}, "--noise"},
		{"dir", Config{Dir: "/nonexistent"}, "--dir"},
		{"dir with a colon", Config{Dir: tempSubdir(t, "a:b")}, "contains ':'"},
		{"timeout", Config{Timeout: -1}, "--timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		var u *UsageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want a usage error with %q", tt.name, err, tt.want)
		}
	}
	c := Config{Quick: true}
	if err := c.Validate(); err != nil || c.Runs != 1 || c.Branches != 3 || len(c.Modes) != len(DefaultModes) || c.Self == "" || c.MFS != c.Self {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}
