package tools

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// InfoOptions tune CollectInfo.
type InfoOptions struct {
	// Version is the running mfs's version string.
	Version string
	// Mounts limits the bundle to these mount points; nil takes every
	// FUSE mount in /proc/mounts.
	Mounts []string
	// DryRun lists what would be read (the mounts, the files) without
	// reading control files or branches.
	DryRun bool
	// Timeout bounds the time one mount may take to answer (a hung FUSE
	// daemon blocks every call on its mount); 0 means 5 seconds.
	Timeout time.Duration
}

// Info is a support bundle for bug reports.
type Info struct {
	Version string      `json:"version"`
	Time    time.Time   `json:"time"`
	Uname   string      `json:"uname"`
	Mounts  []MountInfo `json:"mounts"`
	Fstab   []string    `json:"fstab,omitempty"` // lines that mention mergerfs or mfs
	Reads   []string    `json:"would_read,omitempty"`
	Errors  []string    `json:"errors,omitempty"`
}

// MountInfo is one FUSE mount of /proc/mounts and, for an mfs or mergerfs
// pool, its control-file keys and branches.
type MountInfo struct {
	Source   string            `json:"source"`
	Target   string            `json:"target"`
	FSType   string            `json:"fstype"`
	Options  string            `json:"options"`
	Control  map[string]string `json:"control,omitempty"`
	Error    string            `json:"error,omitempty"`
	Branches []BranchInfo      `json:"branches,omitempty"`
}

// BranchInfo is the statfs of one branch.
type BranchInfo struct {
	Path      string `json:"path"`
	Mode      string `json:"mode"`
	FSType    string `json:"fstype,omitempty"`
	Size      uint64 `json:"size"`
	Used      uint64 `json:"used"`
	Avail     uint64 `json:"avail"`
	Inodes    uint64 `json:"inodes"`
	FreeInode uint64 `json:"inodes_free"`
	Error     string `json:"error,omitempty"`
}

// mountEntry is one line of /proc/mounts.
type mountEntry struct{ source, target, fstype, options string }

// readMounts parses /proc/mounts (octal escapes like \040 decoded).
func readMounts() ([]mountEntry, error) {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 {
			continue
		}
		out = append(out, mountEntry{unescapeMount(fs[0]), unescapeMount(fs[1]), fs[2], fs[3]})
	}
	return out, sc.Err()
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// CollectInfo gathers the support bundle: the mfs version, uname, every
// FUSE mount (or opt.Mounts) with, for pools, all user.mergerfs.* keys of
// the control file and the statfs of each branch, and the fstab lines that
// mention mergerfs or mfs. Errors are recorded in the bundle, not returned:
// a partial bundle is still worth sending.
func CollectInfo(opt InfoOptions) *Info {
	in := &Info{Version: opt.Version, Time: time.Now().UTC()}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		in.Uname = strings.Join([]string{cstr(u.Sysname[:]), cstr(u.Nodename[:]), cstr(u.Release[:]), cstr(u.Version[:]), cstr(u.Machine[:])}, " ")
	}
	in.Reads = append(in.Reads, "uname(2)", "/proc/mounts", "/etc/fstab")
	mounts, err := readMounts()
	if err != nil {
		in.Errors = append(in.Errors, "read /proc/mounts: "+err.Error())
	}
	want := map[string]bool{}
	for _, m := range opt.Mounts {
		if a, err := filepath.Abs(m); err == nil {
			want[a] = true
		}
	}
	for _, m := range mounts {
		if len(want) > 0 {
			if !want[m.target] {
				continue
			}
		} else if m.fstype != "fuse" && !strings.HasPrefix(m.fstype, "fuse.") {
			continue
		}
		mi := MountInfo{Source: m.source, Target: m.target, FSType: m.fstype, Options: m.options}
		ctl := filepath.Join(m.target, ControlFile)
		if opt.DryRun {
			in.Reads = append(in.Reads, ctl+" (user.mergerfs.* xattrs)", "statfs of the branches of "+m.target)
			in.Mounts = append(in.Mounts, mi)
			continue
		}
		in.Mounts = append(in.Mounts, collectBounded(mi, ctl, mounts, opt.Timeout))
	}
	if b, err := os.ReadFile("/etc/fstab"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			t := strings.TrimSpace(l)
			if t != "" && !strings.HasPrefix(t, "#") && (strings.Contains(t, "mergerfs") || strings.Contains(t, "mfs")) {
				in.Fstab = append(in.Fstab, t)
			}
		}
	}
	if !opt.DryRun {
		in.Reads = nil
	}
	return in
}

// collectBounded runs mi.collect with a deadline. A call stuck in a hung
// FUSE mount cannot be cancelled: its goroutine is left behind, blocked,
// and the bundle records the hang instead.
func collectBounded(mi MountInfo, ctl string, mounts []mountEntry, timeout time.Duration) MountInfo {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ch := make(chan MountInfo, 1)
	go func() {
		m := mi
		m.collect(ctl, mounts)
		ch <- m
	}()
	select {
	case m := <-ch:
		return m
	case <-time.After(timeout):
		mi.Error = fmt.Sprintf("no answer within %v: the mount's daemon may be hung", timeout)
		return mi
	}
}

// collect reads the control file's keys and the branches' statfs.
func (mi *MountInfo) collect(ctl string, mounts []mountEntry) {
	keys, err := listxattr(ctl)
	if err != nil {
		if err == unix.ENOENT {
			mi.Error = "no " + ControlFile + " control file: not an mfs or mergerfs pool"
		} else {
			mi.Error = "list " + ctl + ": " + err.Error()
		}
		return
	}
	mi.Control = map[string]string{}
	for _, k := range keys {
		if !strings.HasPrefix(k, "user.mergerfs.") {
			continue
		}
		v, err := getxattr(ctl, k)
		if err != nil {
			v = "<error: " + err.Error() + ">"
		}
		mi.Control[strings.TrimPrefix(k, "user.mergerfs.")] = v
	}
	spec := mi.Control["branches"]
	if spec == "" {
		spec = mi.Control["srcmounts"]
	}
	bs, err := parseBranchValue(spec)
	if err != nil {
		mi.Error = "branches: " + err.Error()
		return
	}
	for _, b := range bs {
		bi := BranchInfo{Path: b.Path, Mode: b.Mode.String()}
		var fs unix.Statfs_t
		if err := statfs(b.Path, &fs); err != nil {
			bi.Error = err.Error()
		} else {
			bsz := uint64(fs.Frsize)
			if bsz == 0 {
				bsz = uint64(fs.Bsize)
			}
			bi.Size, bi.Avail = fs.Blocks*bsz, fs.Bavail*bsz
			bi.Used = (fs.Blocks - fs.Bfree) * bsz
			bi.Inodes, bi.FreeInode = fs.Files, fs.Ffree
			bi.FSType = mountType(b.Path, mounts)
		}
		mi.Branches = append(mi.Branches, bi)
	}
}

// mountType returns the fstype of the mount that holds p (longest target
// prefix in /proc/mounts).
func mountType(p string, mounts []mountEntry) string {
	best, typ := -1, ""
	for _, m := range mounts {
		t := strings.TrimSuffix(m.target, "/")
		if (p == m.target || strings.HasPrefix(p, t+"/") || m.target == "/") && len(t) > best {
			best, typ = len(t), m.fstype
		}
	}
	return typ
}

func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Text writes the bundle for people (and for pasting into an issue).
func (in *Info) Text(w io.Writer) {
	fmt.Fprintf(w, "mfs collect-info, %s\n", in.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "version: mfs %s\n", in.Version)
	fmt.Fprintf(w, "uname:   %s\n", in.Uname)
	if len(in.Reads) > 0 {
		fmt.Fprintln(w, "would read:")
		for _, r := range in.Reads {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
	if len(in.Mounts) == 0 {
		fmt.Fprintln(w, "no FUSE mounts")
	}
	for _, m := range in.Mounts {
		fmt.Fprintf(w, "\nmount %s (%s, from %s)\n  options: %s\n", m.Target, m.FSType, m.Source, m.Options)
		if m.Error != "" {
			fmt.Fprintf(w, "  %s\n", m.Error)
		}
		keys := make([]string, 0, len(m.Control))
		for k := range m.Control {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s=%s\n", k, m.Control[k])
		}
		for _, b := range m.Branches {
			if b.Error != "" {
				fmt.Fprintf(w, "  branch %s=%s: %s\n", b.Path, b.Mode, b.Error)
				continue
			}
			fmt.Fprintf(w, "  branch %s=%s %s: %s used of %s (%.1f%%), %s free, inodes %d free of %d\n",
				b.Path, b.Mode, b.FSType, HumanBytes(int64(b.Used)), HumanBytes(int64(b.Size)),
				pct(b.Used, b.Avail), HumanBytes(int64(b.Avail)), b.FreeInode, b.Inodes)
		}
	}
	if len(in.Fstab) > 0 {
		fmt.Fprintln(w, "\nfstab:")
		for _, l := range in.Fstab {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	for _, e := range in.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}
