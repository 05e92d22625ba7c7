package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

const ctlPrefix = "user.mergerfs."

func ctlCommand() *cli.Command {
	return &cli.Command{
		Name:      "ctl",
		Usage:     "read and change a running pool's options through its control file (mfs or mergerfs)",
		ArgsUsage: "MOUNTPOINT list | get KEY | set KEY VALUE | branches [list | add BRANCH | remove PATTERN]",
		Description: "Works on the .mergerfs control file of an mfs or mergerfs mount, as mergerfs.ctl does.\n" +
			"Changes take effect at once and last until the pool is unmounted.",
		Action: func(c *cli.Context) error {
			if err := rejectStrayFlags(c); err != nil {
				return usageError{err}
			}
			a := c.Args().Slice()
			if len(a) < 2 {
				return usagef("usage: mfs ctl MOUNTPOINT list | get KEY | set KEY VALUE | branches [list|add BRANCH|remove PATTERN]")
			}
			ctl := filepath.Join(a[0], ".mergerfs")
			var st unix.Stat_t
			if err := unix.Stat(ctl, &st); err != nil {
				return fmt.Errorf("%s is not an mfs or mergerfs mount (no control file: %v)", a[0], err)
			}
			w := c.App.Writer
			switch verb, rest := a[1], a[2:]; {
			case verb == "list" && len(rest) == 0:
				keys, err := ctlKeys(ctl)
				if err != nil {
					return err
				}
				for _, k := range keys {
					v, err := ctlGet(ctl, k)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "%s=%s\n", k, v)
				}
			case verb == "get" && len(rest) == 1:
				v, err := ctlGet(ctl, rest[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(w, v)
			case verb == "set" && len(rest) == 2:
				return ctlSet(ctl, rest[0], rest[1])
			case verb == "branches" && (len(rest) == 0 || len(rest) == 1 && rest[0] == "list"):
				v, err := ctlGet(ctl, "branches")
				if err != nil {
					return err
				}
				for _, b := range strings.Split(v, ":") {
					fmt.Fprintln(w, b)
				}
			case verb == "branches" && len(rest) == 2 && rest[0] == "add":
				return ctlSet(ctl, "branches", "+>"+rest[1])
			case verb == "branches" && len(rest) == 2 && rest[0] == "remove":
				return ctlSet(ctl, "branches", "-"+rest[1])
			default:
				return usagef("mfs ctl: unknown request %q; want list, get KEY, set KEY VALUE, branches [list|add BRANCH|remove PATTERN]", strings.Join(a[1:], " "))
			}
			return nil
		},
	}
}

func ctlKeys(ctl string) ([]string, error) {
	n, err := unix.Listxattr(ctl, nil)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", ctl, err)
	}
	buf := make([]byte, n)
	n, err = unix.Listxattr(ctl, buf)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", ctl, err)
	}
	var keys []string
	for _, k := range strings.Split(string(buf[:n]), "\x00") {
		if strings.HasPrefix(k, ctlPrefix) {
			keys = append(keys, strings.TrimPrefix(k, ctlPrefix))
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func ctlGet(ctl, key string) (string, error) {
	name := ctlPrefix + key
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Getxattr(ctl, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return "", ctlError(ctl, key, "", err)
		}
		return string(buf[:n]), nil
	}
}

func ctlSet(ctl, key, value string) error {
	if err := unix.Setxattr(ctl, ctlPrefix+key, []byte(value), 0); err != nil {
		return ctlError(ctl, key, value, err)
	}
	return nil
}

// ctlError turns the control file's errnos into what the user should do.
func ctlError(ctl, key, value string, err error) error {
	switch {
	case errors.Is(err, unix.ENODATA):
		if _, ok := config.Lookup(key); !ok {
			if _, perr := config.Parse([]string{key + "=x"}); perr != nil {
				return usageError{perr}
			}
		}
		return usagef("the pool does not know option %q (an older mergerfs?); see 'mfs ctl MOUNTPOINT list'", key)
	case errors.Is(err, unix.EROFS):
		return usagef("%s can not be changed while mounted; set it at mount time with -o %s=...", key, key)
	case errors.Is(err, unix.EINVAL):
		// The pool's reason, found again here: with the mountpoint known,
		// the same checks run (a branch inside or above it).
		mnt, _ := filepath.Abs(filepath.Dir(ctl))
		if _, perr := config.Parse([]string{"mountpoint=" + mnt, key + "=" + value}); perr != nil {
			return usageError{perr}
		}
		return usagef("the pool refused %s=%s as invalid", key, value)
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("changing %s needs root: %w", key, err)
	}
	return fmt.Errorf("%s: %w", key, err)
}
