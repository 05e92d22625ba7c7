package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// secLayout builds the same tree of root-owned and nobody-owned files in
// each of dirs (the native oracle gets one dir, the pool's branches split it).
func secLayout(t *testing.T, native string, branches []string) {
	t.Helper()
	type ent struct {
		path   string
		dir    bool
		mode   os.FileMode
		uid    int
		body   string
		branch int
	}
	ents := []ent{
		{path: "priv", dir: true, mode: 0o700, branch: 0},
		{path: "priv/f", mode: 0o644, body: "p", branch: 0},
		{path: "pub", dir: true, mode: 0o1777, branch: 1},
		{path: "pub/rootfile", mode: 0o644, body: "r", branch: 1},
		{path: "pub/mine", mode: 0o644, uid: 65534, body: "m", branch: 0},
		{path: "secret", mode: 0o600, body: "s", branch: 1},
		{path: "ro", mode: 0o444, body: "o", branch: 0},
		{path: "rootonly.sh", mode: 0o700, body: "#!/bin/sh\necho ran\n", branch: 1},
		{path: "anyone.sh", mode: 0o755, body: "#!/bin/sh\necho ran\n", branch: 0},
	}
	place := func(root string, e ent) {
		p := filepath.Join(root, e.path)
		if e.dir {
			os.MkdirAll(p, 0o755)
		} else {
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(e.body), 0o644)
		}
		os.Chown(p, e.uid, e.uid)
		os.Chmod(p, e.mode)
	}
	for _, e := range ents {
		place(native, e)
		b := branches[e.branch%len(branches)]
		// Parents exist on every branch the pool needs them on, as clonepath would make them.
		if d := filepath.Dir(e.path); d != "." {
			for _, br := range branches {
				if _, err := os.Stat(filepath.Join(br, d)); err != nil {
					for _, pe := range ents {
						if pe.path == d {
							place(br, pe)
						}
					}
				}
			}
		}
		place(b, e)
	}
	for _, d := range append([]string{native}, branches...) {
		os.Chmod(d, 0o755)
	}
}

// asNobody runs a shell command as uid/gid 65534 in dir and returns its exit
// status and stderr with dir replaced by "DIR".
func asNobody(t *testing.T, dir, script string) (int, string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, strings.ReplaceAll(stderr.String(), dir, "DIR")
}

// TestPermissionsMatchLinux runs the same operations as an unprivileged user
// natively and through a root-run mount, with the kernel's permission checks
// (default_permissions) and with mfs's own (kernel-permissions-check=false,
// every operation run with the caller's fsuid/fsgid and groups): the pool
// must refuse exactly what Linux refuses, with the same error.
func TestPermissionsMatchLinux(t *testing.T) {
	requireFUSE(t)
	ops := []string{
		"cat secret", "cat priv/f", "ls priv", "cat pub/rootfile",
		"touch newfile", "touch pub/new && rm pub/new",
		"rm pub/rootfile", "mv pub/rootfile pub/x", "rm pub/mine",
		"chmod 777 secret", "chown 65534 secret", "touch -d 2001-01-01 secret", "touch secret",
		"echo x > ro", "echo x >> secret",
		"./rootonly.sh", "./anyone.sh",
		"mkdir priv/d", "mkdir pub/d && rmdir pub/d", "ln secret pub/hard", "ln -s secret pub/soft && rm pub/soft",
		"setfattr -n user.k -v 1 secret", "getfattr -n user.k pub/rootfile",
	}
	for _, kpc := range []string{"true", "false"} {
		t.Run("kernel-permissions-check="+kpc, func(t *testing.T) {
			root := t.TempDir()
			// t.TempDir and its parent are 0700: let uid 65534 in.
			os.Chmod(root, 0o755)
			os.Chmod(filepath.Dir(root), 0o755)
			native, b1, b2, mnt := filepath.Join(root, "native"), filepath.Join(root, "b1"), filepath.Join(root, "b2"), filepath.Join(root, "mnt")
			for _, d := range []string{native, b1, b2, mnt} {
				os.MkdirAll(d, 0o755)
			}
			secLayout(t, native, []string{b1, b2})
			mountPool(t, b1+"=RW:"+b2+"=RW", mnt, "minfreespace=1M,category.create=ff,cache.attr=0,cache.entry=0,kernel-permissions-check="+kpc)
			for _, op := range ops {
				wantCode, wantOut := asNobody(t, native, op)
				gotCode, gotOut := asNobody(t, mnt, op)
				if (wantCode == 0) != (gotCode == 0) || wantOut != gotOut {
					t.Errorf("%q as uid 65534:\n  native: exit %d %q\n  pool:   exit %d %q", op, wantCode, wantOut, gotCode, gotOut)
				}
			}
		})
	}
}
