package vfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is an unprivileged caller with a group of its own.
var nobody = &Cred{Uid: 65534, Gid: 65534, Umask: 0o022}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("identity tests need root (CI=true: not skipping)")
		}
		t.Skip("identity switching needs root")
	}
}

// openTree makes the temp dirs enterable by uid 65534 (t.TempDir is 0700).
func openTree(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		for p := d; p != "/" && p != "."; p = filepath.Dir(p) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o001 == 0 {
				must(t, os.Chmod(p, fi.Mode().Perm()|0o011))
			}
		}
	}
}

func TestCallerIdentity(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	p, dirs := newTestPool(t, []string{"category.create=ff"},
		[]string{"pub/", "priv/", "secret=x", "pub/f=y"},
	)
	openTree(t, dirs...)
	must(t, os.Chmod(filepath.Join(dirs[0], "priv"), 0o700))
	must(t, os.Chmod(filepath.Join(dirs[0], "secret"), 0o600))
	must(t, os.Chmod(filepath.Join(dirs[0], "pub"), 0o777))

	cases := []struct {
		name string
		op   func() unix.Errno
		want unix.Errno
	}{
		{"open 0600 root file", func() unix.Errno {
			f, e := p.Open(ctx, nobody, "secret", unix.O_RDONLY)
			if e == 0 {
				f.Close()
			}
			return e
		}, unix.EACCES},
		{"stat inside 0700 dir", func() unix.Errno { _, e := p.Getattr(ctx, nobody, "priv/x"); return e }, unix.EACCES},
		{"create in 0700 dir", func() unix.Errno {
			_, e := p.Create(ctx, nobody, "priv/new", unix.O_WRONLY, 0o644)
			return e
		}, unix.EACCES},
		{"unlink in root-owned 0755 dir", func() unix.Errno { return p.Unlink(ctx, nobody, "secret") }, unix.EACCES},
		{"chmod of root file", func() unix.Errno { return p.Chmod(ctx, nobody, "secret", 0o644) }, unix.EPERM},
		{"chown to self", func() unix.Errno { return p.Chown(ctx, nobody, "pub/f", 65534, 65534) }, unix.EPERM},
		{"access W_OK on root file", func() unix.Errno { return p.Access(ctx, nobody, "pub/f", unix.W_OK) }, unix.EACCES},
		{"control file set as user", func() unix.Errno {
			return p.Setxattr(ctx, nobody, ControlFile, "user.mergerfs.category.create", []byte("mfs"), 0)
		}, unix.EPERM},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.op(); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// A file created by the caller is owned by the caller, with the umask applied.
	f, e := p.Create(ctx, nobody, "pub/mine", unix.O_WRONLY, 0o666)
	if e != 0 {
		t.Fatal(e)
	}
	f.Close()
	var st unix.Stat_t
	must(t, unix.Stat(filepath.Join(dirs[0], "pub/mine"), &st))
	if st.Uid != 65534 || st.Gid != 65534 || st.Mode&0o777 != 0o644 {
		t.Fatalf("created file uid=%d gid=%d mode=%o, want 65534 65534 644", st.Uid, st.Gid, st.Mode&0o777)
	}
	// The server's identity is back afterwards.
	if _, e := p.Getattr(ctx, RootCred, "priv"); e != 0 {
		t.Fatal("root lost access after a caller op:", e)
	}
}

func TestSupplementaryGroups(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	p, dirs := newTestPool(t, nil, []string{"g/", "g/f=x"})
	openTree(t, dirs...)
	must(t, os.Chown(filepath.Join(dirs[0], "g"), 0, 4242))
	must(t, os.Chmod(filepath.Join(dirs[0], "g"), 0o770))
	if _, e := p.Getattr(ctx, nobody, "g/f"); e != unix.EACCES {
		t.Fatalf("without the group: %v, want EACCES", e)
	}
	member := &Cred{Uid: 65534, Gid: 65534, Groups: []uint32{4242}}
	if _, e := p.Getattr(ctx, member, "g/f"); e != 0 {
		t.Fatalf("with the group: %v", e)
	}
}

// TestFailedCreateLeavesNothing: a create refused on the target branch
// removes the parent directories clonepath made for it there.
func TestFailedCreateLeavesNothing(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	// lfs ties go to the last branch: b1, where d/e must be cloned from b0.
	p, dirs := newTestPool(t, []string{"category.create=lfs"}, []string{"d/", "d/e/"}, []string{})
	openTree(t, dirs...)
	must(t, os.Chmod(filepath.Join(dirs[0], "d/e"), 0o755)) // root-owned: nobody may not create in it
	if _, e := p.Create(ctx, nobody, "d/e/f", unix.O_WRONLY, 0o644); e != unix.EACCES {
		t.Fatalf("create as nobody in a root dir: %v, want EACCES", e)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "d")); err == nil {
		t.Fatal("the failed create left cloned parents on b1")
	}
}
