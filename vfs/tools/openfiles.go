package tools

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// devIno names an inode.
type devIno struct{ dev, ino uint64 }

// opener is one process holding a file open.
type opener struct {
	pid   int
	comm  string
	write bool
}

// openFiles is a snapshot of the files under the branches that processes
// hold open, from /proc/*/fd and /proc/*/fdinfo. It sees every process only
// when run as root (or with CAP_SYS_PTRACE); otherwise only the caller's
// own. Writable shared memory maps without an open descriptor are not seen.
type openFiles struct {
	byInode map[devIno][]opener
}

// scanOpenFiles reads /proc for descriptors whose path lies under one of
// roots. A missing /proc yields an empty snapshot (the execution-time lease
// check still guards moves).
func scanOpenFiles(roots []string) *openFiles {
	of := &openFiles{byInode: map[devIno][]opener{}}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return of
	}
	prefixes := make([]string, len(roots))
	for i, r := range roots {
		prefixes[i] = strings.TrimSuffix(r, "/") + "/"
	}
	under := func(p string) bool {
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
		return false
	}
	for _, pe := range procs {
		pid, err := strconv.Atoi(pe.Name())
		if err != nil {
			continue
		}
		fdDir := "/proc/" + pe.Name() + "/fd/"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or not ours to read
		}
		comm := ""
		for _, fe := range fds {
			link, err := os.Readlink(fdDir + fe.Name())
			if err != nil || !under(link) {
				continue
			}
			var st unix.Stat_t
			if unix.Stat(fdDir+fe.Name(), &st) != nil {
				continue
			}
			if comm == "" {
				if b, err := os.ReadFile("/proc/" + pe.Name() + "/comm"); err == nil {
					comm = strings.TrimSpace(string(b))
				}
			}
			key := devIno{uint64(st.Dev), st.Ino}
			of.byInode[key] = append(of.byInode[key], opener{pid: pid, comm: comm,
				write: fdWritable("/proc/" + pe.Name() + "/fdinfo/" + fe.Name())})
		}
	}
	return of
}

// fdWritable reads the "flags:" line of an fdinfo file (octal open flags).
func fdWritable(fdinfo string) bool {
	b, err := os.ReadFile(fdinfo)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "flags:"); ok {
			f, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && f&unix.O_ACCMODE != unix.O_RDONLY
		}
	}
	return false
}

// writer returns a process holding the inode open for writing.
func (of *openFiles) writer(dev, ino uint64) (opener, bool) {
	if of == nil {
		return opener{}, false
	}
	for _, o := range of.byInode[devIno{dev, ino}] {
		if o.write {
			return o, true
		}
	}
	return opener{}, false
}

// isOpen reports whether any process holds the inode open.
func (of *openFiles) isOpen(dev, ino uint64) bool {
	return of != nil && len(of.byInode[devIno{dev, ino}]) > 0
}

func (o opener) String() string {
	if o.comm != "" {
		return "pid " + strconv.Itoa(o.pid) + " (" + o.comm + ")"
	}
	return "pid " + strconv.Itoa(o.pid)
}
