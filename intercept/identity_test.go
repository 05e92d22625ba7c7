package intercept

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRunTarIntoClonedDir: tar -x into a union directory that exists only
// on the second branch, with ff placing files on the first, clones the
// directory onto the first branch mid-extraction. tar compares the identity
// of "." before and after ("Directory renamed before its status could be
// extracted"), so a directory must keep its st_dev/st_ino under run.
func TestRunTarIntoClonedDir(t *testing.T) {
	f := newFixture(t, nil, []string{"keep"}, []string{"tx/"})
	src := filepath.Join(f.dir, "src")
	layout(t, src, "d1/f=1", "d1/d2/g=2", "h=3")
	archive := filepath.Join(f.dir, "t.tar")
	if out, err := exec.Command("tar", "-cf", archive, "-C", src, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar -c: %v: %s", err, out)
	}
	r := f.run(t, "sh", "-c", "tar -xf "+archive+" -C "+f.target+"/tx && stat -c %i "+f.target+"/tx && cat "+f.target+"/tx/d1/d2/g")
	if r.code != 0 {
		t.Fatalf("tar -x under run: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if !exists(filepath.Join(f.branches[0], "tx/d1/d2/g")) {
		t.Fatal("files did not land on branch 0 (the clone this test needs did not happen)")
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
