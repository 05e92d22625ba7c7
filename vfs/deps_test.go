package vfs

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoFrontEndImports keeps vfs independent of the front ends: policy and
// placement live here, and neither FUSE, seccomp nor the CLI may leak in.
func TestNoFrontEndImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := map[string]string{
		"github.com/hanwen/go-fuse":            "FUSE belongs to fusemode",
		"github.com/seccomp/libseccomp-golang": "seccomp belongs to intercept",
		"github.com/urfave/cli":                "the CLI belongs to cmd/mfs",
		"github.com/mfs-union/mfs/fusemode":    "vfs must not import a front end",
		"github.com/mfs-union/mfs/intercept":   "vfs must not import a front end",
	}
	for _, dep := range strings.Fields(string(out)) {
		for prefix, why := range forbidden {
			if strings.HasPrefix(dep, prefix) {
				t.Errorf("vfs depends on %s: %s", dep, why)
			}
		}
	}
}
