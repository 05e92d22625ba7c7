package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DiskIO is the traffic of the block device holding the branches over one
// timed run (the seed's disk I/O bytes): the device's sector counters
// from /proc/diskstats, with the file system's dirty data written back
// (syncfs) before the run starts and again after it ends, so the figure
// is what the run made the disk do, whenever the kernel chose to write it,
// and not the leftovers of the set-up. It counts every process using the
// device, so it is only as clean as the machine is quiet.
type DiskIO struct {
	Device     string `json:"device"`
	ReadBytes  int64  `json:"read_bytes"`
	WriteBytes int64  `json:"write_bytes"`
}

// diskCounter reads the counters of the device under one directory.
type diskCounter struct {
	dir          string
	major, minor uint32
	name         string
}

// sectorBytes is the unit of /proc/diskstats, whatever the device's own
// sector size (Documentation/admin-guide/iostats.rst).
const sectorBytes = 512

// newDiskCounter finds the block device dir is on. It fails with a reason
// a report can print when there is none (tmpfs, overlayfs, a FUSE or
// network file system).
func newDiskCounter(dir string) (*diskCounter, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return nil, fmt.Errorf("disk I/O: %w", err)
	}
	major, minor := unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev))
	b, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		return nil, fmt.Errorf("disk I/O: %w", err)
	}
	name, _, _, ok := parseDiskstats(string(b), major, minor)
	if !ok {
		return nil, fmt.Errorf("disk I/O: %s is on device %d:%d (%s), which is not a block device in /proc/diskstats", dir, major, minor, fsTypeOf(dir))
	}
	return &diskCounter{dir: dir, major: major, minor: minor, name: name}, nil
}

// sample writes the file system's dirty data back, then reads the
// device's sectors read and written.
func (d *diskCounter) sample() (read, written int64, err error) {
	fd, err := unix.Open(d.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("disk I/O: %w", err)
	}
	err = unix.Syncfs(fd)
	unix.Close(fd)
	if err != nil {
		return 0, 0, fmt.Errorf("disk I/O: syncfs %s: %w", d.dir, err)
	}
	b, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		return 0, 0, fmt.Errorf("disk I/O: %w", err)
	}
	_, r, w, ok := parseDiskstats(string(b), d.major, d.minor)
	if !ok {
		return 0, 0, fmt.Errorf("disk I/O: device %s (%d:%d) left /proc/diskstats", d.name, d.major, d.minor)
	}
	return r * sectorBytes, w * sectorBytes, nil
}

// parseDiskstats finds the line of device major:minor in the text of
// /proc/diskstats and returns its name and sectors read (field 6) and
// written (field 10).
func parseDiskstats(text string, major, minor uint32) (name string, read, written int64, ok bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != strconv.FormatUint(uint64(major), 10) || f[1] != strconv.FormatUint(uint64(minor), 10) {
			continue
		}
		r, err1 := strconv.ParseInt(f[5], 10, 64)
		w, err2 := strconv.ParseInt(f[9], 10, 64)
		if err1 != nil || err2 != nil {
			return "", 0, 0, false
		}
		return f[2], r, w, true
	}
	return "", 0, 0, false
}
