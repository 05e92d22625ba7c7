package intercept

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunPIDNamespace: the workload runs in its own PID namespace, CMD as
// a child of init (the stub, pid 1) with a /proc of that namespace, so $$, $!,
// kill and /proc agree with each other.
func TestRunPIDNamespace(t *testing.T) {
	f := twoBranches(t)
	var st Stats
	r := f.runCfg(t, Config{Argv: []string{"sh", "-c",
		"echo $$; cat /proc/$$/comm; sleep 30 & p=$!; kill $p; wait $p; echo $?; " +
			"ls /proc | grep -c '^[0-9][0-9]*$'; readlink /proc/1/exe > /dev/null && echo init-visible; " +
			"cd " + f.target + "/d && readlink /proc/self/cwd && readlink /proc/$$/cwd"}, Stats: &st})
	if r.code != 0 || r.err != nil {
		t.Fatalf("code %d err %v\n%s%s", r.code, r.err, r.stdout, r.stderr)
	}
	if !st.PIDNamespace {
		t.Fatalf("no PID namespace (root should always get one): %+v", st)
	}
	out := strings.Split(r.stdout, "\n")
	// sh's pid (small: init's threads take the first ones), its name in the
	// namespace's /proc, the killed sleep's status, then the processes in
	// /proc: init, sh, ls and grep (sh may fork a subshell for the pipe).
	if len(out) < 7 || out[0] == "1" || len(out[0]) > 3 || out[1] != "sh" || out[2] != "143" || out[4] != "init-visible" {
		t.Fatalf("pid view:\n%s", r.stdout)
	}
	if n, _ := strconv.Atoi(out[3]); n < 3 || n > 6 {
		t.Fatalf("/proc shows %s processes, want the workload's only", out[3])
	}
	// /proc/self and /proc/<ns pid> magic links are rewritten alike.
	if out[5] != f.target+"/d" || out[6] != f.target+"/d" {
		t.Fatalf("cwd links: %q %q, want %s/d", out[5], out[6], f.target)
	}
}

// TestRunNoPIDNamespace: with NoPIDNamespace the workload keeps the host's
// pids, and the rest works as in a namespace.
func TestRunNoPIDNamespace(t *testing.T) {
	f := twoBranches(t)
	var st Stats
	r := f.runCfg(t, Config{Argv: []string{"sh", "-c",
		"test $$ -gt 2 && cat " + f.target + "/b.txt && (sleep 0.1; cat " + f.target + "/a.txt) & exit 4"},
		Stats: &st, NoPIDNamespace: true})
	if r.code != 4 || r.stdout != "world\nhello\n" || st.PIDNamespace {
		t.Fatalf("code %d out %q err %v stats %+v", r.code, r.stdout, r.err, st)
	}
}

// openToNobody makes the fixture usable by uid 65534.
func openToNobody(t *testing.T, f *fixture) {
	t.Helper()
	for _, d := range []string{filepath.Dir(f.dir), f.dir} {
		must(t, os.Chmod(d, 0o755))
	}
	for _, b := range f.branches {
		must(t, filepath.Walk(b, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		}))
	}
}

// TestRunSupervisorDeath kills the supervisor (a separate `mfs run`
// process) with SIGKILL while the workload sleeps: in a PID namespace
// (root, or unprivileged in a user namespace of its own) the kernel ends
// every process of the workload, background jobs included, within a
// second. Without one only CMD is killed (its parent-death signal); the
// rest is left to the documented limit and killed here.
func TestRunSupervisorDeath(t *testing.T) {
	requireSeccompNotify(t)
	cases := []struct {
		name       string
		nobody     bool
		noNS       bool
		wholeTree  bool
		ownNS      bool
		needsUserN bool
	}{
		{name: "pidns", wholeTree: true, ownNS: true},
		{name: "userns", nobody: true, wholeTree: true, ownNS: true, needsUserN: true},
		{name: "none", noNS: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.nobody && os.Geteuid() != 0 {
				t.Skip("needs root to start the supervisor as uid 65534")
			}
			if c.needsUserN && !userNamespacesAllowed() {
				t.Skip("unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone, user.max_user_namespaces)")
			}
			if !c.nobody && !c.noNS && !hasCapSysAdmin() && !userNamespacesAllowed() {
				t.Skip("no PID namespace available to this user")
			}
			f := twoBranches(t)
			if c.nobody {
				openToNobody(t, f)
			}
			ready := filepath.Join(f.dir, "ready")
			if c.nobody {
				must(t, os.Chmod(f.dir, 0o777))
			}
			cmd := f.helperCmdSpec(t, helperSpec{NoPIDNamespace: c.noNS, Argv: []string{"sh", "-c",
				"sleep 30 & cat " + f.target + "/b.txt > /dev/null && touch " + ready + " && sleep 30"}})
			if c.nobody {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			must(t, cmd.Start())
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			defer func() {
				cmd.Process.Kill()
				<-done
			}()
			waitFor(t, ready)
			time.Sleep(50 * time.Millisecond) // sh reaches its last sleep
			// The stub, sh and two sleeps; CMD is the stub's child in a
			// namespace, the stub itself otherwise.
			work := descendants(cmd.Process.Pid)
			if len(work) < 3 {
				t.Fatalf("workload not found below the supervisor: %v", work)
			}
			if c.ownNS {
				for _, pid := range work {
					if nsOf(pid) == nsOf(os.Getpid()) {
						t.Fatalf("pid %d (%s) shares the test's PID namespace", pid, commOf(pid))
					}
				}
			}
			defer func() {
				for _, pid := range work {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}()
			must(t, cmd.Process.Kill())
			<-done
			deadline := time.Now().Add(time.Second)
			for {
				var alive []string
				for _, pid := range work {
					if running(pid) {
						alive = append(alive, strconv.Itoa(pid)+" "+commOf(pid))
					}
				}
				if c.wholeTree && len(alive) == 0 {
					return
				}
				if !c.wholeTree && onlySleeps(alive) {
					return // CMD is gone; its children are the documented limit
				}
				if time.Now().After(deadline) {
					t.Fatalf("a second after the supervisor died, still running: %v", alive)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func onlySleeps(alive []string) bool {
	for _, a := range alive {
		if !strings.HasSuffix(a, " sleep") {
			return false
		}
	}
	return len(alive) > 0
}

func nsOf(pid int) string {
	s, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	return s
}

func commOf(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// TestRunRelaySIGINT: a SIGINT sent to the supervisor (not by its terminal)
// reaches CMD once, through init in a namespace and directly without.
func TestRunRelaySIGINT(t *testing.T) {
	if inForeground() {
		t.Skip("in a terminal's foreground group, SIGINT is the terminal's to deliver")
	}
	for _, noNS := range []bool{false, true} {
		t.Run(map[bool]string{false: "pidns", true: "none"}[noNS], func(t *testing.T) {
			f := twoBranches(t)
			ready := filepath.Join(f.dir, "ready")
			done := make(chan runResult, 1)
			go func() {
				done <- f.runCfg(t, Config{NoPIDNamespace: noNS, Argv: []string{"sh", "-c",
					"trap 'echo INT; kill $p; exit 5' INT; sleep 30 & p=$!; touch " + ready + "; wait"}})
			}()
			waitFor(t, ready)
			time.Sleep(50 * time.Millisecond)
			must(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
			select {
			case r := <-done:
				if r.code != 5 || r.stdout != "INT\n" {
					t.Fatalf("relayed SIGINT: code %d stdout %q err %v", r.code, r.stdout, r.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("SIGINT was not relayed")
			}
		})
	}
}

func TestInitSignal(t *testing.T) {
	for _, c := range []struct {
		in   syscall.Signal
		out  syscall.Signal
		pass bool
	}{
		{syscall.SIGINT, 0, false}, // the terminal's: CMD has it
		{syscall.SIGQUIT, 0, false},
		{syscall.SIGCHLD, 0, false},
		{syscall.SIGURG, 0, false},
		{syscall.SIGTERM, syscall.SIGTERM, true},
		{syscall.SIGUSR1, syscall.SIGUSR1, true},
	} {
		if got, ok := initSignal(c.in); got != c.out || ok != c.pass {
			t.Errorf("initSignal(%v) = %v %v, want %v %v", c.in, got, ok, c.out, c.pass)
		}
	}
	for _, sig := range relayed {
		r, ok := relaySignal(sig)
		if got, pass := initSignal(r); !ok || !pass || got != sig {
			t.Errorf("relay of %v: %v %v → %v %v", sig, r, ok, got, pass)
		}
	}
}
