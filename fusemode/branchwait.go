package fusemode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// branches-mount-timeout (MERGERFS.md §4.12): before mounting, mfs waits up
// to that long for every branch to look mounted, so a pool assembled at boot
// does not start on the empty directories its disks will be mounted on. As
// mergerfs does, it first runs `mount BRANCH` once for each branch that is
// not mounted yet (an fstab entry with noauto gets mounted that way; any
// failure is only logged), then polls every third of a second. A branch
// looks mounted when, in this order:
//
//  1. it has the xattr user.mergerfs.branch, or contains a file
//     .mergerfs.branch: mounted;
//  2. it has the xattr user.mergerfs.branch_mounts_here, or contains
//     .mergerfs.branch_mounts_here: the empty mount point, not mounted;
//  3. otherwise: mounted if its st_dev differs from the pool mount point's
//     (taken before mounting, so the filesystem the mount point lives on).
//
// When the time runs out, branches-mount-timeout-fail makes Mount fail with
// an error naming the branches; without it the mount goes ahead with a
// warning.

const branchPollInterval = 333 * time.Millisecond

// branchState says whether a branch looks mounted, and why not.
func branchState(path string, mountDev uint64) (bool, string) {
	if _, err := unix.Lgetxattr(path, "user.mergerfs.branch", nil); err == nil {
		return true, ""
	}
	if pathExists(filepath.Join(path, ".mergerfs.branch")) {
		return true, ""
	}
	if _, err := unix.Lgetxattr(path, "user.mergerfs.branch_mounts_here", nil); err == nil {
		return false, "it carries the user.mergerfs.branch_mounts_here xattr: the filesystem meant to be mounted there is not"
	}
	if pathExists(filepath.Join(path, ".mergerfs.branch_mounts_here")) {
		return false, "it contains .mergerfs.branch_mounts_here: the filesystem meant to be mounted there is not"
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, err.Error()
	}
	if st.Dev != mountDev {
		return true, ""
	}
	return false, "it is on the same filesystem as the mount point and has no user.mergerfs.branch marker"
}

func pathExists(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil
}

// waitBranches applies branches-mount-timeout for a pool to be mounted at
// mountpoint.
func waitBranches(o *config.Options, mountpoint string, log *slog.Logger) error {
	if o.BranchesMountTimeout <= 0 {
		return nil
	}
	deadline := time.Now().Add(o.BranchesMountTimeout)
	var mst unix.Stat_t
	if err := unix.Stat(mountpoint, &mst); err != nil {
		log.Error("fusemode: branches-mount-timeout: stat of the mount point", "mountpoint", mountpoint, "err", err)
	}
	var waiting []string
	for _, b := range o.Branches {
		if ok, _ := branchState(b.Path, mst.Dev); !ok {
			waiting = append(waiting, b.Path)
		}
	}
	for _, p := range waiting {
		tryMount(p, deadline, log)
	}
	why := map[string]string{}
	for first := true; ; first = false {
		rest := waiting[:0]
		for _, p := range waiting {
			if ok, reason := branchState(p, mst.Dev); ok {
				log.Info("fusemode: branch is ready", "branch", p)
			} else {
				why[p] = reason
				rest = append(rest, p)
				if first {
					log.Info("fusemode: branch is not ready, waiting", "branch", p, "why", reason)
				}
			}
		}
		waiting = rest
		if len(waiting) == 0 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(min(branchPollInterval, time.Until(deadline)))
	}
	if len(waiting) == 0 {
		return nil
	}
	var errs []error
	for _, p := range waiting {
		errs = append(errs, fmt.Errorf("branch %s: %s", p, why[p]))
	}
	err := fmt.Errorf("branches-mount-timeout=%s: %d branch(es) did not look mounted in time: %w",
		o.BranchesMountTimeout, len(waiting), errors.Join(errs...))
	if o.BranchesMountTimeoutFail {
		return fmt.Errorf("%w; mount them, mark them with user.mergerfs.branch, or set branches-mount-timeout-fail=false", err)
	}
	log.Warn("fusemode: mounting anyway (branches-mount-timeout-fail=false)", "err", err)
	return nil
}

// tryMount runs `mount PATH` as mergerfs does (an fstab entry for the branch
// gets mounted); the outcome is only logged.
func tryMount(path string, deadline time.Time, log *slog.Logger) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mount", path)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		log.Info("fusemode: mount of a branch failed", "branch", path, "err", err, "output", strings.TrimSpace(string(out)))
		return
	}
	log.Info("fusemode: mounted branch", "branch", path)
}
