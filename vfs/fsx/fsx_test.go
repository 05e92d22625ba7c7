package fsx

import (
	"flag"
	"testing"

	"golang.org/x/sys/unix"
)

var long = flag.Bool("long", false, "run millions of operations")

// TestNative runs the tester on a plain directory: Linux is the oracle, so
// this checks the tester itself.
func TestNative(t *testing.T) {
	n := 3000
	if *long {
		n = 1_000_000
	}
	for _, seed := range []uint64{1, 2, 3} {
		res, err := Run(Config{Dir: t.TempDir(), Seed: seed, Ops: n, CheckEvery: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.Ops != n || len(res.Counts) != len(ops) {
			t.Fatalf("ran %d ops over %d kinds: %v", res.Ops, len(res.Counts), res.Counts)
		}
	}
}

// TestDetectsCorruption makes sure a wrong file is reported: the model and
// the file are made to disagree behind the tester's back.
func TestDetectsCorruption(t *testing.T) {
	dir := t.TempDir()
	tr := &tester{cfg: Config{Dir: dir, MaxSize: 4096}, path: dir + "/f", src: dir + "/s"}
	fd, err := unix.Open(tr.path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	tr.fd = fd
	defer tr.teardown()
	tr.model = []byte("hello")
	if err := tr.checkSize(); err == nil {
		t.Fatal("size mismatch not detected")
	}
}
