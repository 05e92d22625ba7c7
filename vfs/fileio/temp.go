package fileio

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// TempPrefix starts every temporary name this package creates. mergerfs
// uses ".<name>_XXXXXX"; mfs uses a fixed prefix instead so that leftovers
// can be recognised (IsTempName) and cleaned (CleanTemps) without guessing.
const TempPrefix = ".mfs-tmp."

const (
	nameMax   = 255 // NAME_MAX, in bytes
	suffixLen = 12  // hex digits of the random suffix (48 bits)
	// maxTempBase is how many bytes of the original name fit:
	// prefix + base + "." + suffix ≤ NAME_MAX.
	maxTempBase = nameMax - len(TempPrefix) - 1 - suffixLen
)

// TempName returns a fresh temporary name for name in the same directory:
// TempPrefix, name cut to fit, ".", and 12 random hex digits. The result is
// at most NAME_MAX (255) bytes. A long name is cut at a UTF-8 character
// boundary (never inside a multi-byte sequence) and never to nothing.
func TempName(name string) string {
	base := name
	if len(base) > maxTempBase {
		cut := maxTempBase
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		if cut == 0 { // not UTF-8 at all: cut by bytes
			cut = maxTempBase
		}
		base = base[:cut]
	}
	if base == "" {
		base = "_"
	}
	const hex = "0123456789abcdef"
	var b [len(TempPrefix) + maxTempBase + 1 + suffixLen]byte
	n := copy(b[:], TempPrefix)
	n += copy(b[n:], base)
	b[n] = '.'
	n++
	r := rand.Uint64()
	for i := 0; i < suffixLen; i++ {
		b[n] = hex[r&15]
		r >>= 4
		n++
	}
	return string(b[:n])
}

// IsTempName reports whether name has the shape TempName produces.
func IsTempName(name string) bool {
	if len(name) < len(TempPrefix)+2+suffixLen || !strings.HasPrefix(name, TempPrefix) {
		return false
	}
	dot := len(name) - suffixLen - 1
	if name[dot] != '.' {
		return false
	}
	for i := dot + 1; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CleanTemps removes temporary files (IsTempName, regular files only) in dir
// whose last change is at least olderThan ago, and returns the names it
// removed. It is meant for startup and for pool tools, to reclaim the space
// held by copies that a crash or kill interrupted.
//
// Age is taken from the later of ctime and mtime: CopyFileAt sets the temp
// file's mtime to the source's (possibly years old) just before the rename,
// while ctime always moves with the copy's progress and cannot be set. A
// copy in progress writes continuously, so any olderThan well above the
// longest pause of a copy (a few minutes is plenty) never removes live work;
// olderThan 0 removes every temp file, live or not.
//
// dir is read through its own descriptor (openat "."), so the caller's
// directory offset is untouched. Entries that vanish meanwhile are skipped;
// other errors are collected and the first one is returned with the names
// removed so far.
func CleanTemps(dir int, olderThan time.Duration) (removed []string, err error) {
	return cleanTemps(dir, time.Now().Add(-olderThan))
}

func cleanTemps(dir int, cutoff time.Time) (removed []string, err error) {
	fd, err := openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("fileio: clean temps: open directory: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dir")
	defer f.Close()
	var first error
	for {
		names, rerr := f.Readdirnames(256)
		for _, name := range names {
			if !IsTempName(name) {
				continue
			}
			var st unix.Stat_t
			if err := fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if err != unix.ENOENT && first == nil {
					first = fmt.Errorf("fileio: clean temps: stat %q: %w", name, err)
				}
				continue
			}
			if st.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			changed := time.Unix(st.Ctim.Unix())
			if m := time.Unix(st.Mtim.Unix()); m.After(changed) {
				changed = m
			}
			if changed.After(cutoff) {
				continue
			}
			if err := unlinkat(dir, name); err != nil {
				if err != unix.ENOENT && first == nil {
					first = fmt.Errorf("fileio: clean temps: unlink %q: %w", name, err)
				}
				continue
			}
			removed = append(removed, name)
		}
		if rerr != nil {
			if rerr != io.EOF && first == nil {
				first = fmt.Errorf("fileio: clean temps: read directory: %w", rerr)
			}
			break
		}
	}
	return removed, first
}
