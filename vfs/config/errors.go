package config

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// UnknownOptionError reports a key that is neither an mfs option nor a
// recognised mount(8)/kernel option.
type UnknownOptionError struct {
	Key        string // as written
	Suggestion string // closest visible option name, or ""
}

func (e *UnknownOptionError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("unknown option %q (did you mean %q?); see 'mfs options'", e.Key, e.Suggestion)
	}
	return fmt.Sprintf("unknown option %q; see 'mfs options'", e.Key)
}

// Errno returns ENODATA (ENOATTR), what the control file reports.
func (e *UnknownOptionError) Errno() unix.Errno { return unix.ENODATA }

// InvalidValueError reports a value that the option's parser rejected.
type InvalidValueError struct {
	Key      string   // as written
	Option   string   // canonical option name
	Value    string   // as written
	Expected string   // the expected form, e.g. "BOOL (true|false|...)"
	Valid    []string // the accepted values, for enumerations and policies
	Err      error    // underlying cause, if any (e.g. a *BranchError)
}

func (e *InvalidValueError) Error() string {
	name := e.Option
	if e.Key != "" && e.Key != e.Option {
		name = fmt.Sprintf("%s (%s)", e.Key, e.Option)
	}
	s := fmt.Sprintf("invalid value %q for option %s", e.Value, name)
	switch {
	case e.Err != nil:
		s += ": " + e.Err.Error()
	case len(e.Valid) > 0:
		s += ": want one of " + strings.Join(e.Valid, ", ")
	case e.Expected != "":
		s += ": want " + e.Expected
	}
	return s
}

func (e *InvalidValueError) Unwrap() error { return e.Err }

// Errno returns EINVAL.
func (e *InvalidValueError) Errno() unix.Errno { return unix.EINVAL }

// ReadOnlyError reports an attempt to set an option that cannot be set now:
// a read-only option at runtime, or a value mfs reports (pid, version,
// srcmounts) at any time.
type ReadOnlyError struct {
	Key    string
	Option string
	Always bool // true for reported values that can never be set
}

func (e *ReadOnlyError) Error() string {
	if e.Always {
		return fmt.Sprintf("option %q is reported by mfs and cannot be set", e.Key)
	}
	return fmt.Sprintf("option %q is read-only at runtime; set it at mount time", e.Key)
}

// Errno returns EROFS.
func (e *ReadOnlyError) Errno() unix.Errno { return unix.EROFS }

// ConfigFileError reports a problem with a config= file: it could not be
// read, it nests too deep (Err is unix.ELOOP), or Line holds a bad option.
type ConfigFileError struct {
	Path string
	Line int // 1-based; 0 when the whole file is at fault
	Err  error
}

func (e *ConfigFileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config file %s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("config file %s: %v", e.Path, e.Err)
}

func (e *ConfigFileError) Unwrap() error { return e.Err }

// Errno returns what setting config through the control file reports: the
// open error (ENOENT, EACCES, ...) or ELOOP for the file itself, and EINVAL
// when any line failed, as mergerfs does.
func (e *ConfigFileError) Errno() unix.Errno {
	if e.Line > 0 {
		return unix.EINVAL
	}
	if errors.Is(e.Err, unix.ELOOP) {
		return unix.ELOOP
	}
	var en unix.Errno
	if errors.As(e.Err, &en) {
		return en
	}
	return unix.EINVAL
}

// errLoop is the cause of a ConfigFileError for nesting beyond maxConfigDepth.
type errLoop struct{}

func (errLoop) Error() string {
	return fmt.Sprintf("config files nested more than %d levels deep (ELOOP); check for an include cycle", maxConfigDepth)
}

func (errLoop) Is(target error) bool { return target == unix.ELOOP }

// errnoOf maps an error from this package to the errno the control file
// returns: the Errno method of the outermost typed error, else EINVAL.
func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var typed interface{ Errno() unix.Errno }
	if errors.As(err, &typed) {
		return typed.Errno()
	}
	return unix.EINVAL
}
