package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mfs-union/mfs/vfs/policy"
)

// A codec converts one option between its text form and its typed field.
// set must validate completely before it writes, so a rejected value leaves
// the Options untouched. bare is true when the option was given without '='
// (only possible on the command line and in config files).
type codec struct {
	form   string   // expected form, for help and errors
	values []string // accepted values of an enumeration, for help and errors
	set    func(o *Options, v string, bare bool) error
	get    func(o *Options) string
}

// errBad means "the value does not have the expected form"; the caller turns
// it into an *InvalidValueError listing codec.form / codec.values.
var errBad = errors.New("bad value")

// Short value forms shown by Help; formLong spells them out for errors and
// Help's legend.
const (
	formBool = "BOOL"
	formSize = "SIZE"
	formSecs = "SECONDS"
	formUint = "UINT"
	formInt  = "INT"
)

var formLong = []struct{ form, long string }{
	{formBool, "true|false, yes|no, on|off, 1|0 or t|f; a bare key means true"},
	{formSize, "digits with an optional B, K, M, G or T suffix (powers of 1024), e.g. 4G"},
	{formSecs, "a non-negative number of seconds, e.g. 1 or 0.5"},
	{formUint, "a non-negative integer"},
	{formInt, "an integer"},
	{"POLICY", "a policy name"},
	{"PAGES|SIZE", "a page count (plain digits, e.g. 256) or a SIZE in bytes with a suffix, e.g. 1M"},
}

// describeForm expands a short form for an error message.
func describeForm(form string) string {
	for _, f := range formLong {
		if f.form == form {
			return form + " (" + f.long + ")"
		}
	}
	return form
}

// parseBool accepts mergerfs's BOOL spellings (any case). A bare key means true.
func parseBool(v string, bare bool) (bool, error) {
	if bare {
		return true, nil
	}
	switch strings.ToLower(v) {
	case "true", "t", "1", "on", "yes":
		return true, nil
	case "false", "f", "0", "off", "no":
		return false, nil
	}
	return false, errBad
}

func fmtBool(b bool) string { return strconv.FormatBool(b) }

func boolCodec(field func(*Options) *bool) codec {
	return codec{
		form: formBool,
		set: func(o *Options, v string, bare bool) error {
			b, err := parseBool(v, bare)
			if err != nil {
				return err
			}
			*field(o) = b
			return nil
		},
		get: func(o *Options) string { return fmtBool(*field(o)) },
	}
}

func sizeCodec(field func(*Options) *uint64) codec {
	return codec{
		form: formSize,
		set: func(o *Options, v string, _ bool) error {
			n, err := ParseSize(v)
			if err != nil {
				return errBad
			}
			*field(o) = n
			return nil
		},
		get: func(o *Options) string { return strconv.FormatUint(*field(o), 10) },
	}
}

func uintCodec(field func(*Options) *uint64, unit string) codec {
	form := formUint
	if unit != "" {
		form += " (" + unit + ")"
	}
	return codec{
		form: form,
		set: func(o *Options, v string, _ bool) error {
			if !allDigits(v) {
				return errBad
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return errBad
			}
			*field(o) = n
			return nil
		},
		get: func(o *Options) string { return strconv.FormatUint(*field(o), 10) },
	}
}

// intCodec parses a decimal integer in [lo, hi].
func intCodec(field func(*Options) *int, lo, hi int) codec {
	form := formInt
	switch {
	case lo == 0 && hi == math.MaxInt:
		form = formUint
	case lo != math.MinInt || hi != math.MaxInt:
		form = fmt.Sprintf("%s from %d to %d", formInt, lo, hi)
	}
	return codec{
		form: form,
		set: func(o *Options, v string, _ bool) error {
			n, ok := parseInt(v)
			if !ok || n < lo || n > hi {
				return errBad
			}
			*field(o) = n
			return nil
		},
		get: func(o *Options) string { return strconv.Itoa(*field(o)) },
	}
}

// parseSecs accepts a non-negative decimal number of seconds.
func parseSecs(v string) (time.Duration, error) {
	whole, frac, hasFrac := strings.Cut(v, ".")
	if !allDigits(whole) || (hasFrac && !allDigits(frac)) {
		return 0, errBad
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f*float64(time.Second) > math.MaxInt64 {
		return 0, errBad
	}
	return time.Duration(f * float64(time.Second)), nil
}

func fmtSecs(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func secsCodec(field func(*Options) *time.Duration) codec {
	return codec{
		form: formSecs,
		set: func(o *Options, v string, _ bool) error {
			d, err := parseSecs(v)
			if err != nil {
				return err
			}
			*field(o) = d
			return nil
		},
		get: func(o *Options) string { return fmtSecs(*field(o)) },
	}
}

func enumCodec[T ~string](field func(*Options) *T, values ...T) codec {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return codec{
		form:   strings.Join(names, "|"),
		values: names,
		set: func(o *Options, v string, _ bool) error {
			for _, val := range values {
				if string(val) == v {
					*field(o) = val
					return nil
				}
			}
			return errBad
		},
		get: func(o *Options) string { return string(*field(o)) },
	}
}

// strCodec stores any string; nonEmpty rejects "".
func strCodec(field func(*Options) *string, form string, nonEmpty bool) codec {
	return codec{
		form: form,
		set: func(o *Options, v string, _ bool) error {
			if nonEmpty && v == "" {
				return errBad
			}
			*field(o) = v
			return nil
		},
		get: func(o *Options) string { return *field(o) },
	}
}

func funcCodec(f policy.Func) codec {
	return codec{
		form:   "POLICY",
		values: policy.Names,
		set: func(o *Options, v string, _ bool) error {
			if !policy.Valid(v) {
				return errBad
			}
			o.Func[f] = v
			return nil
		},
		get: func(o *Options) string { return o.Func[f] },
	}
}

// categoryCodec sets every function of the category; reading it shows the
// distinct policies of those functions, sorted and joined by ','.
func categoryCodec(c policy.Category) codec {
	return codec{
		form:   "POLICY",
		values: policy.Names,
		set: func(o *Options, v string, _ bool) error {
			if !policy.Valid(v) {
				return errBad
			}
			for f := policy.Func(0); f < policy.NumFuncs; f++ {
				if f.Category() == c {
					o.Func[f] = v
				}
			}
			return nil
		},
		get: func(o *Options) string {
			seen := map[string]bool{}
			var vals []string
			for f := policy.Func(0); f < policy.NumFuncs; f++ {
				if f.Category() == c && !seen[o.Func[f]] {
					seen[o.Func[f]] = true
					vals = append(vals, o.Func[f])
				}
			}
			sort.Strings(vals)
			return strings.Join(vals, ",")
		},
	}
}

var readdirCodec = codec{
	form: "seq|cosr[:N[:M]]|cor[:N[:M]]",
	set: func(o *Options, v string, _ bool) error {
		r, ok := parseReaddir(v)
		if !ok {
			return errBad
		}
		o.Readdir = r
		return nil
	},
	get: func(o *Options) string { return o.Readdir.String() },
}

// moveonenospcCodec: BOOL or a policy name; true means pfrd (mergerfs ≥2.41;
// 2.33.5 used mfs).
var moveonenospcCodec = codec{
	form:   formBool + "|POLICY",
	values: append([]string{"true", "false"}, policy.Names...),
	set: func(o *Options, v string, bare bool) error {
		if b, err := parseBool(v, bare); err == nil {
			o.MoveOnENOSPC = MoveOnENOSPC{Enabled: b}
			if b {
				o.MoveOnENOSPC.Policy = policy.DefaultPolicy(policy.CatCreate)
			}
			return nil
		}
		if !policy.Valid(v) {
			return errBad
		}
		o.MoveOnENOSPC = MoveOnENOSPC{Enabled: true, Policy: v}
		return nil
	},
	get: func(o *Options) string { return o.MoveOnENOSPC.String() },
}

// pageSize is the system page size, used to turn fuse-msg-size bytes into pages.
var pageSize = uint64(os.Getpagesize())

// fuseMsgSizeCodec: plain digits are pages (2.33.5's meaning); a SIZE with a
// unit suffix is bytes, rounded up to whole pages. Printed as pages.
var fuseMsgSizeCodec = codec{
	form: "PAGES|SIZE",
	set: func(o *Options, v string, _ bool) error {
		n, err := ParseSize(v)
		if err != nil || n == 0 {
			return errBad
		}
		pages := n
		if !allDigits(v) {
			pages = n/pageSize + min(n%pageSize, 1)
		}
		o.FuseMsgPages = pages
		return nil
	},
	get: func(o *Options) string { return strconv.FormatUint(o.FuseMsgPages, 10) },
}

var pinThreadsValues = []PinThreads{
	PinThreadsR1L, PinThreadsR1P, PinThreadsRP1L, PinThreadsRP1P, PinThreadsR1LP1L,
	PinThreadsR1PP1P, PinThreadsRPSL, PinThreadsRPSP, PinThreadsR1PPSP,
}

// pinThreadsCodec: one of the strategies, or false/"" for none. mergerfs
// ignores unknown strategies silently; mfs rejects them so typos show.
var pinThreadsCodec = func() codec {
	vals := []string{"false"}
	for _, p := range pinThreadsValues {
		vals = append(vals, string(p))
	}
	return codec{
		form:   strings.Join(vals, "|"),
		values: vals,
		set: func(o *Options, v string, _ bool) error {
			if v == "" || v == "false" {
				o.PinThreads = PinThreadsNone
				return nil
			}
			for _, p := range pinThreadsValues {
				if string(p) == v {
					o.PinThreads = p
					return nil
				}
			}
			return errBad
		},
		get: func(o *Options) string {
			if o.PinThreads == PinThreadsNone {
				return "false"
			}
			return string(o.PinThreads)
		},
	}
}()

// cacheFilesCodec accepts the 2.42 modes plus 2.33.5's "libfuse", which is
// resolved from the legacy direct_io/kernel_cache/auto_cache flags (see
// legacyCache.resolve) and stored as the equivalent modern mode.
var cacheFilesCodec = func() codec {
	c := enumCodec(func(o *Options) *CacheFiles { return &o.CacheFiles },
		CacheFilesOff, CacheFilesPartial, CacheFilesFull, CacheFilesAutoFull, CacheFilesPerProcess)
	set := c.set
	c.set = func(o *Options, v string, bare bool) error {
		if v == "libfuse" {
			o.legacy.libfuse = true
			o.CacheFiles = o.legacy.resolve()
			return nil
		}
		if err := set(o, v, bare); err != nil {
			return err
		}
		o.legacy.libfuse = false
		return nil
	}
	return c
}()

// legacyCache remembers 2.33.5's libfuse caching flags so that
// cache.files=libfuse keeps its old meaning in any option order.
type legacyCache struct {
	libfuse, directIO, kernelCache, autoCache bool
}

// resolve maps libfuse mode to a modern cache.files mode the way libfuse
// combined the flags: direct_io bypasses the cache, else kernel_cache keeps
// it, else auto_cache keeps it until the file changes, else the page cache
// is used but dropped on open.
func (l legacyCache) resolve() CacheFiles {
	switch {
	case l.directIO:
		return CacheFilesOff
	case l.kernelCache:
		return CacheFilesFull
	case l.autoCache:
		return CacheFilesAutoFull
	}
	return CacheFilesPartial
}

// legacyFlagCodec is a no-op flag that also feeds cache.files=libfuse. Like
// every no-op it accepts any value; only an explicit BOOL false clears it.
func legacyFlagCodec(flag func(*legacyCache) *bool) codec {
	return codec{
		form: "flag",
		set: func(o *Options, v string, bare bool) error {
			b, err := parseBool(v, bare)
			*flag(&o.legacy) = b || err != nil
			if o.legacy.libfuse {
				o.CacheFiles = o.legacy.resolve()
			}
			return nil
		},
		get: func(o *Options) string { return "" },
	}
}

// noopCodec accepts any value and does nothing, like mergerfs's placeholder
// entries: rejecting a value that is ignored anyway would only break mounts.
var noopCodec = codec{
	form: "flag",
	set:  func(*Options, string, bool) error { return nil },
	get:  func(*Options) string { return "" },
}

// noopEnumCodec validates one of values and does nothing.
func noopEnumCodec(values ...string) codec {
	return codec{
		form:   strings.Join(values, "|"),
		values: values,
		set: func(_ *Options, v string, _ bool) error {
			for _, val := range values {
				if v == val {
					return nil
				}
			}
			return errBad
		},
		get: func(*Options) string { return "" },
	}
}

// neverForgetCodec accepts a bare flag or BOOL, and for the libfuse aliases
// remember/remember-nodes a number of seconds: non-zero means keep nodes.
var neverForgetCodec = codec{
	form: formBool + " (remember=N: non-zero seconds mean true)",
	set: func(o *Options, v string, bare bool) error {
		if b, err := parseBool(v, bare); err == nil {
			o.NeverForgetNodes = b
			return nil
		}
		n, ok := parseInt(v)
		if !ok {
			return errBad
		}
		o.NeverForgetNodes = n != 0
		return nil
	},
	get: func(o *Options) string { return fmtBool(o.NeverForgetNodes) },
}

// syncReadCodec is 2.33.5's sync_read flag: the inverse of async-read.
var syncReadCodec = codec{
	form: formBool,
	set: func(o *Options, v string, bare bool) error {
		b, err := parseBool(v, bare)
		if err != nil {
			return err
		}
		o.AsyncRead = !b
		return nil
	},
	get: func(o *Options) string { return fmtBool(!o.AsyncRead) },
}

// idCodec is a uid/gid override: a 32-bit id, or -1 for unset.
func idCodec(field func(*Options) *int64) codec {
	return codec{
		form: "UINT|-1",
		set: func(o *Options, v string, _ bool) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < -1 || n > math.MaxUint32-1 {
				return errBad
			}
			*field(o) = n
			return nil
		},
		get: func(o *Options) string { return strconv.FormatInt(*field(o), 10) },
	}
}

var umaskCodec = codec{
	form: "OCTAL|-1",
	set: func(o *Options, v string, _ bool) error {
		if v == "-1" {
			o.Umask = -1
			return nil
		}
		n, err := strconv.ParseUint(v, 8, 32)
		if err != nil || n > 0o777 {
			return errBad
		}
		o.Umask = int64(n)
		return nil
	},
	get: func(o *Options) string {
		if o.Umask < 0 {
			return "-1"
		}
		return fmt.Sprintf("%04o", o.Umask)
	},
}

var processNamesCodec = codec{
	form: "NAME[|NAME...]",
	set: func(o *Options, v string, _ bool) error {
		var names []string
		for _, n := range strings.Split(v, "|") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		o.CacheFilesProcessNames = names
		return nil
	},
	get: func(o *Options) string { return strings.Join(o.CacheFilesProcessNames, "|") },
}

// branchesCodec applies an edit instruction (plain LIST replaces).
var branchesCodec = codec{
	form: "PATH[=RW|RO|NC[,SIZE]][:...]",
	set: func(o *Options, v string, _ bool) error {
		nb, notes, err := editBranches(o.Branches, v)
		if err != nil {
			return err
		}
		o.Notices = append(o.Notices, notes...)
		if o.Mountpoint != "" {
			// A running pool: a lexical check only (a stat through the
			// mount would be a request to ourselves).
			mp := filepath.Clean(o.Mountpoint)
			for _, b := range nb {
				if err := nesting(mp, b.Path, false); err != nil {
					return err
				}
			}
		}
		o.Branches = nb
		return nil
	},
	get: func(o *Options) string { return FormatBranches(o.Branches) },
}

// reported is a value mfs computes; it has no setter.
func reported(get func(o *Options) string) codec {
	return codec{form: "(reported by mfs)", get: get}
}
