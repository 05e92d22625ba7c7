package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// entry is one parsed layout line.
type entry struct {
	path   string
	kind   byte // 'd', 'f', 'l', 'p'
	data   []byte
	fill   int64 // "*SIZE" content: bytes allocated with fallocate (they read as zeros)
	target string
	mode   uint32 // 0 = default (0755 dirs, 0644 files)
	uid    int
	gid    int
	owner  bool
	xattrs [][2]string
	mtime  int64
	hasMt  bool
}

var modeSuffix = regexp.MustCompile(`:(0[0-7]{3,4})$`)

// parseLine parses one makefs line (grammar in doc.go).
func parseLine(line string) (entry, error) {
	var e entry
	rest := line
	// Trailing attribute tokens: @MTIME, ~UID:GID, [NAME=VALUE].
	for {
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			break
		}
		tok := rest[i+1:]
		switch {
		case strings.HasPrefix(tok, "@"):
			n, err := strconv.ParseInt(tok[1:], 10, 64)
			if err != nil {
				return e, fmt.Errorf("layout %q: bad mtime %q", line, tok)
			}
			e.mtime, e.hasMt = n, true
		case strings.HasPrefix(tok, "~"):
			u, g, ok := strings.Cut(tok[1:], ":")
			uid, err1 := strconv.Atoi(u)
			gid, err2 := strconv.Atoi(g)
			if !ok || err1 != nil || err2 != nil {
				return e, fmt.Errorf("layout %q: bad owner %q", line, tok)
			}
			e.uid, e.gid, e.owner = uid, gid, true
		case strings.HasPrefix(tok, "[") && strings.HasSuffix(tok, "]") && strings.Contains(tok, "="):
			k, v, _ := strings.Cut(tok[1:len(tok)-1], "=")
			e.xattrs = append([][2]string{{k, v}}, e.xattrs...)
		default:
			goto entryPart
		}
		rest = rest[:i]
	}
entryPart:
	if p, t, ok := strings.Cut(rest, " -> "); ok {
		e.path, e.kind, e.target = p, 'l', t
		return e, nil
	}
	if m := modeSuffix.FindStringSubmatch(rest); m != nil {
		n, _ := strconv.ParseUint(m[1], 8, 32)
		e.mode = uint32(n)
		rest = rest[:len(rest)-len(m[0])]
	}
	if strings.HasSuffix(rest, "/") {
		e.path, e.kind = strings.TrimSuffix(rest, "/"), 'd'
		return e, nil
	}
	if strings.HasSuffix(rest, "|") {
		e.path, e.kind = strings.TrimSuffix(rest, "|"), 'p'
		return e, nil
	}
	name, content, _ := strings.Cut(rest, "=")
	e.path, e.kind = name, 'f'
	if strings.HasPrefix(content, "*") {
		n, err := config.ParseSize(content[1:])
		if err != nil {
			return e, fmt.Errorf("layout %q: bad fill size: %v", line, err)
		}
		e.fill = int64(n)
	} else {
		e.data = []byte(content)
	}
	return e, nil
}

// populate creates the layout lines below dir. Parents are created 0755.
// Times are applied last, so creating later entries does not move them.
func populate(dir string, lines []string) error {
	var timed []entry
	for _, l := range lines {
		e, err := parseLine(l)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, e.path)
		if e.path != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
		switch e.kind {
		case 'l':
			if err := unix.Symlink(e.target, p); err != nil {
				return fmt.Errorf("layout %q: %w", l, err)
			}
		case 'd':
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			mode := e.mode
			if mode == 0 {
				mode = 0o755
			}
			if err := unix.Chmod(p, mode); err != nil {
				return err
			}
		case 'p':
			mode := e.mode
			if mode == 0 {
				mode = 0o644
			}
			if err := unix.Mkfifo(p, mode); err != nil {
				return fmt.Errorf("layout %q: %w", l, err)
			}
		case 'f':
			if err := os.WriteFile(p, e.data, 0o644); err != nil {
				return err
			}
			if e.fill > 0 {
				if err := fallocate(p, e.fill); err != nil {
					return fmt.Errorf("layout %q: %w", l, err)
				}
			}
			mode := e.mode
			if mode == 0 {
				mode = 0o644
			}
			if err := unix.Chmod(p, mode); err != nil {
				return err
			}
		}
		if e.owner {
			if err := unix.Lchown(p, e.uid, e.gid); err != nil {
				return fmt.Errorf("layout %q: %w", l, err)
			}
		}
		for _, x := range e.xattrs {
			if err := unix.Lsetxattr(p, x[0], []byte(x[1]), 0); err != nil {
				return fmt.Errorf("layout %q: setxattr %s: %w", l, x[0], err)
			}
		}
		if e.hasMt {
			timed = append(timed, e)
		}
	}
	for _, e := range timed {
		ts := []unix.Timespec{{Sec: e.mtime}, {Sec: e.mtime}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, e.path), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("layout %q: utimens: %w", e.path, err)
		}
	}
	return nil
}

// fallocate gives the file at p size bytes of allocated space: cheaper than
// writing them, and counted as used space all the same.
func fallocate(p string, size int64) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fallocate(fd, 0, 0, size)
}

// env is a case's populated branches.
type env struct {
	dirs []string
	spec UnionSpec
}

// setup builds the case's branch directories below a fresh t.TempDir:
// tmpfs mounts for sized branches (unmounted in t.Cleanup), layouts, then
// read-only remounts.
func setup(t *testing.T, c Case) env {
	t.Helper()
	root := t.TempDir()
	var en env
	for i, b := range c.Branches {
		dir := filepath.Join(root, fmt.Sprintf("b%d", i))
		en.dirs = append(en.dirs, dir)
		mode := b.Mode
		if mode == "" {
			mode = "RW"
		}
		en.spec.Branches = append(en.spec.Branches, BranchSpec{Dir: dir, Mode: mode, MinFree: b.MinFree})
		if b.Missing {
			continue
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if b.Size != "" {
			mountTmpfs(t, dir, b.Size)
		}
		if err := populate(dir, b.Layout); err != nil {
			t.Fatalf("branch %d: %v", i, err)
		}
		if b.ROFS {
			if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				t.Fatalf("branch %d: remount read-only: %v", i, err)
			}
		}
	}
	en.spec.Options = append([]string(nil), c.Opts...)
	return en
}

// mountTmpfs mounts a tmpfs of size on dir and unmounts it in t.Cleanup
// (registered after the TempDir's removal, so it runs first).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0755")
	if err != nil {
		requireMount(t, err)
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			// Something still holds it (a leaked fd): detach, and fail.
			unix.Unmount(dir, unix.MNT_DETACH)
			t.Errorf("unmount %s: %v (was a branch fd leaked?)", dir, err)
		}
	})
}

// requireMount is the one environment gate of the package: tmpfs-backed
// branches need CAP_SYS_ADMIN. Without it the case is skipped with the
// reason, except under CI=true, where it fails.
func requireMount(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, unix.EPERM) {
		return
	}
	msg := fmt.Sprintf("tmpfs-backed branches need CAP_SYS_ADMIN (run as root): mount: %v", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
