package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/policy"
)

// defaults242 is what each listed key reads as right after Default(): the
// mergerfs 2.42 defaults in control-file syntax.
var defaults242 = map[string]string{
	"branches": "", "mountpoint": "", "config": "",
	"minfreespace": "4294967295", "moveonenospc": "pfrd",
	"category.create": "pfrd", "category.action": "epall", "category.search": "ff",
	"func.access": "ff", "func.chmod": "epall", "func.chown": "epall", "func.create": "pfrd",
	"func.getattr": "ff", "func.getxattr": "ff", "func.link": "epall", "func.listxattr": "ff",
	"func.mkdir": "pfrd", "func.mknod": "pfrd", "func.open": "ff", "func.readlink": "ff",
	"func.removexattr": "epall", "func.rename": "epall", "func.rmdir": "epall", "func.setxattr": "epall",
	"func.symlink": "pfrd", "func.truncate": "epall", "func.unlink": "epall", "func.utimens": "epall",
	"func.readdir": "seq", "inodecalc": "hybrid-hash", "dropcacheonclose": "false",
	"direct-io-allow-mmap": "true", "symlinkify": "false", "symlinkify-timeout": "3600",
	"nullrw": "false", "ignorepponrename": "false", "lazy-umount-mountpoint": "false",
	"branches-mount-timeout": "0", "branches-mount-timeout-fail": "false", "export-support": "true",
	"kernel-permissions-check": "true", "security-capability": "true", "xattr": "passthrough",
	"link-cow": "false", "statfs": "base", "statfs-ignore": "none", "nfsopenhack": "off",
	"follow-symlinks": "never", "link-exdev": "passthrough", "rename-exdev": "passthrough",
	"readahead": "0", "posix-acl": "false", "async-read": "true",
	"fuse-msg-size":     strconv.FormatUint((MiB+pageSize-1)/pageSize, 10),
	"read-thread-count": "0", "process-thread-count": "-1", "process-thread-queue-depth": "2",
	"pin-threads": "false", "flush-on-close": "opened-for-write", "scheduling-priority": "-10",
	"proxy-ioprio": "false", "fsname": "", "cache.attr": "1", "cache.entry": "1",
	"cache.negative-entry": "0", "cache.statfs": "0", "cache.files": "off",
	"cache.files.process-names": "rtorrent|qbittorrent-nox", "cache.writeback": "false",
	"cache.symlinks": "false", "cache.readdir": "false", "parallel-direct-writes": "true",
	"passthrough.io": "off", "passthrough.max-stack-depth": "1", "never-forget-nodes": "false",
	"allow-idmap": "true", "handle-killpriv": "true", "handle-killpriv-v2": "true",
	"debug": "false", "log.file": "", "pid": "0", "version": "",
}

func TestDefault(t *testing.T) {
	o := Default()
	keys := Keys()
	if len(keys) != len(defaults242) {
		t.Errorf("Keys() has %d keys, defaults242 %d", len(keys), len(defaults242))
	}
	for _, k := range keys {
		want, ok := defaults242[k]
		if !ok {
			t.Errorf("listed key %q has no expected default", k)
			continue
		}
		if got, errno := o.Get(k); errno != 0 || got != want {
			t.Errorf("Default Get(%q) = %q, %v; want %q", k, got, errno, want)
		}
	}
	// Typed spot checks.
	if o.MinFreeSpace != 4*GiB-1 || o.MoveOnENOSPC != (MoveOnENOSPC{true, "pfrd"}) ||
		o.Func[policy.FuncCreate] != "pfrd" || o.Func[policy.FuncUnlink] != "epall" ||
		o.Func[policy.FuncGetattr] != "ff" || o.CacheFiles != CacheFilesOff ||
		o.CacheAttr != time.Second || o.SymlinkifyTimeout != time.Hour ||
		o.Readdir != (Readdir{Mode: ReaddirSeq}) || o.UID != -1 || o.GID != -1 || o.Umask != -1 ||
		o.Subtype != "mfs" || o.PinThreads != PinThreadsNone || o.FuseMsgPages*pageSize < MiB {
		t.Errorf("unexpected typed defaults: %+v", o)
	}
	for f := policy.Func(0); f < policy.NumFuncs; f++ {
		if o.Func[f] != policy.DefaultPolicy(f.Category()) {
			t.Errorf("func.%s default %q", f, o.Func[f])
		}
	}
	if o2 := Default(); !reflect.DeepEqual(o, o2) {
		t.Error("Default() is not deterministic")
	}
}

// validValues lists, for every settable option of §2.3 (and the hidden
// settable ones), a valid value and what Get then returns.
func validValues(t *testing.T) []struct{ key, value, want string } {
	t.Helper()
	dir := makeLayout(t, "br/", "cfg")
	br := filepath.Join(dir, "br")
	cfg := filepath.Join(dir, "cfg")
	pages := func(n uint64) string { return strconv.FormatUint((n+pageSize-1)/pageSize, 10) }
	vs := []struct{ key, value, want string }{
		{"branches", br + "=NC,10G", br + "=NC,10G"},
		{"mountpoint", "/mnt/pool", "/mnt/pool"},
		{"config", cfg, cfg},
		{"minfreespace", "10G", "10737418240"},
		{"moveonenospc", "mfs", "mfs"},
		{"category.create", "epmfs", "epmfs"},
		{"category.action", "ff", "ff"},
		{"category.search", "newest", "newest"},
		{"func.readdir", "cosr:4:2", "cosr:4:2"},
		{"inodecalc", "path-hash32", "path-hash32"},
		{"dropcacheonclose", "true", "true"},
		{"direct-io-allow-mmap", "false", "false"},
		{"symlinkify", "yes", "true"},
		{"symlinkify-timeout", "60", "60"},
		{"nullrw", "on", "true"},
		{"ignorepponrename", "1", "true"},
		{"lazy-umount-mountpoint", "t", "true"},
		{"branches-mount-timeout", "30", "30"},
		{"branches-mount-timeout-fail", "true", "true"},
		{"export-support", "false", "false"},
		{"kernel-permissions-check", "no", "false"},
		{"security-capability", "off", "false"},
		{"xattr", "nosys", "nosys"},
		{"link-cow", "TRUE", "true"},
		{"statfs", "full", "full"},
		{"statfs-ignore", "nc", "nc"},
		{"nfsopenhack", "git", "git"},
		{"follow-symlinks", "directory", "directory"},
		{"link-exdev", "abs-pool-symlink", "abs-pool-symlink"},
		{"rename-exdev", "abs-symlink", "abs-symlink"},
		{"readahead", "1024", "1024"},
		{"posix-acl", "true", "true"},
		{"async-read", "false", "false"},
		{"fuse-msg-size", "4M", pages(4 * MiB)},
		{"read-thread-count", "-2", "-2"},
		{"process-thread-count", "4", "4"},
		{"process-thread-queue-depth", "8", "8"},
		{"pin-threads", "R1PPSP", "R1PPSP"},
		{"flush-on-close", "always", "always"},
		{"scheduling-priority", "19", "19"},
		{"proxy-ioprio", "true", "true"},
		{"fsname", "mypool", "mypool"},
		{"cache.attr", "120", "120"},
		{"cache.entry", "0.5", "0.5"},
		{"cache.negative-entry", "30", "30"},
		{"cache.statfs", "10", "10"},
		{"cache.files", "per-process", "per-process"},
		{"cache.files.process-names", "a|b c|", "a|b c"},
		{"cache.writeback", "true", "true"},
		{"cache.symlinks", "true", "true"},
		{"cache.readdir", "true", "true"},
		{"parallel-direct-writes", "false", "false"},
		{"passthrough.io", "rw", "rw"},
		{"passthrough.max-stack-depth", "2", "2"},
		{"never-forget-nodes", "true", "true"},
		{"allow-idmap", "false", "false"},
		{"handle-killpriv", "false", "false"},
		{"handle-killpriv-v2", "false", "false"},
		{"debug", "true", "true"},
		{"log.file", "/var/log/mfs.log", "/var/log/mfs.log"},
		{"uid", "1000", "1000"},
		{"gid", "100", "100"},
		{"umask", "022", "0022"},
		{"subtype", "mfs", "mfs"},
	}
	pols := policy.Names
	for f := policy.Func(0); f < policy.NumFuncs; f++ {
		p := pols[int(f)%len(pols)]
		vs = append(vs, struct{ key, value, want string }{"func." + f.String(), p, p})
	}
	return vs
}

// TestEveryOptionParses parses each option with a valid value, with its
// canonical and its underscore spelling, and checks the value read back. It
// also checks that the list covers every settable table entry.
func TestEveryOptionParses(t *testing.T) {
	vs := validValues(t)
	covered := map[string]bool{}
	for _, v := range vs {
		covered[v.key] = true
		for _, key := range []string{v.key, strings.ReplaceAll(v.key, "-", "_")} {
			t.Run(key, func(t *testing.T) {
				o, err := Parse([]string{key + "=" + v.value})
				if err != nil {
					t.Fatalf("Parse(%s=%s): %v", key, v.value, err)
				}
				if got, errno := o.Get(v.key); errno != 0 || got != v.want {
					t.Errorf("after %s=%s: Get(%q) = %q, %v; want %q", key, v.value, v.key, got, errno, v.want)
				}
				if got, _ := o.Get(key); got != v.want {
					t.Errorf("Get(%q) with the spelling used = %q, want %q", key, got, v.want)
				}
				if ek := o.ExplicitKeys(); len(ek) != 1 || ek[0] != v.key {
					t.Errorf("ExplicitKeys = %v, want [%s]", ek, v.key)
				}
			})
		}
	}
	for _, e := range Entries() {
		if e.NoOp || e.Reported || e.Name == "sync-read" {
			continue
		}
		if !covered[e.Name] {
			t.Errorf("option %q is not covered by validValues", e.Name)
		}
	}
}

// TestSpecOptionsPresent checks every option named in MERGERFS.md §2.3 is in
// the table with the spec's read-only flag.
func TestSpecOptionsPresent(t *testing.T) {
	ro := map[string]bool{
		"direct-io-allow-mmap": true, "nullrw": true, "branches-mount-timeout": true,
		"branches-mount-timeout-fail": true, "export-support": true, "kernel-permissions-check": true,
		"posix-acl": true, "async-read": true, "fuse-msg-size": true, "read-thread-count": true,
		"process-thread-count": true, "process-thread-queue-depth": true, "pin-threads": true,
		"scheduling-priority": true, "fsname": true, "cache.writeback": true, "cache.symlinks": true,
		"never-forget-nodes": true, "allow-idmap": true, "handle-killpriv": true,
		"handle-killpriv-v2": true, "pid": true, "version": true, "srcmounts": true, "mountpoint": true,
	}
	spec := []string{
		"branches", "mountpoint", "config", "minfreespace", "moveonenospc", "category.create",
		"category.action", "category.search", "func.readdir", "inodecalc", "dropcacheonclose",
		"direct-io-allow-mmap", "symlinkify", "symlinkify-timeout", "nullrw", "ignorepponrename",
		"lazy-umount-mountpoint", "branches-mount-timeout", "branches-mount-timeout-fail",
		"export-support", "kernel-permissions-check", "security-capability", "xattr", "link-cow",
		"statfs", "statfs-ignore", "nfsopenhack", "follow-symlinks", "link-exdev", "rename-exdev",
		"readahead", "posix-acl", "async-read", "fuse-msg-size", "read-thread-count",
		"process-thread-count", "process-thread-queue-depth", "pin-threads", "flush-on-close",
		"scheduling-priority", "proxy-ioprio", "fsname", "cache.attr", "cache.entry",
		"cache.negative-entry", "cache.statfs", "cache.files", "cache.files.process-names",
		"cache.writeback", "cache.symlinks", "cache.readdir", "parallel-direct-writes",
		"passthrough.io", "passthrough.max-stack-depth", "never-forget-nodes", "allow-idmap",
		"handle-killpriv", "handle-killpriv-v2", "debug", "log.file", "pid", "version", "srcmounts",
		"uid", "gid", "umask",
		"atomic-o-trunc", "auto-cache", "big-writes", "cache.open", "defaults", "direct-io",
		"gid-cache.expire-timeout", "gid-cache.remove-timeout", "hard-remove", "kernel-cache",
		"negative-entry", "nonempty", "splice-move", "splice-read", "splice-write", "no-splice-move",
		"no-splice-read", "no-splice-write", "use-ino",
	}
	for f := policy.Func(0); f < policy.NumFuncs; f++ {
		spec = append(spec, "func."+f.String())
	}
	for _, k := range spec {
		e, ok := Lookup(k)
		if !ok || e.Name != k {
			t.Errorf("spec option %q missing from the table", k)
			continue
		}
		if e.ReadOnly != ro[k] {
			t.Errorf("%s: ReadOnly = %v, spec says %v", k, e.ReadOnly, ro[k])
		}
	}
	for _, k := range []string{"srcmounts", "uid", "gid", "umask", "mount", "threads", "noforget", "remember", "remember-nodes"} {
		for _, lk := range Keys() {
			if lk == k {
				t.Errorf("hidden key %q is listed by Keys()", k)
			}
		}
	}
}

func TestBadValues(t *testing.T) {
	pols := policy.Names
	bools := []string{"true", "false"}
	for _, tc := range []struct {
		key, value string
		valid      []string // each must be listed in the message
		form       string   // or this must appear
	}{
		{"branches", "/x=rw", nil, "invalid mode"},
		{"mountpoint", "", nil, "PATH"},
		{"minfreespace", "4Q", nil, "SIZE"},
		{"minfreespace", "-1", nil, "SIZE"},
		{"minfreespace", "", nil, "SIZE"},
		{"moveonenospc", "bogus", append(bools, pols...), ""},
		{"category.create", "bogus", pols, ""},
		{"category.action", "EPALL", pols, ""},
		{"category.search", "eplup", pols, ""},
		{"func.readdir", "cosr:-1", nil, "seq|cosr[:N[:M]]|cor[:N[:M]]"},
		{"func.readdir", "cosr:a", nil, "cosr[:N[:M]]"},
		{"func.readdir", "cor:1:2:3", nil, "cor[:N[:M]]"},
		{"func.readdir", "seq:2", nil, "seq"},
		{"func.readdir", "posix", nil, "seq"},
		{"inodecalc", "hash", []string{"passthrough", "path-hash", "path-hash32", "devino-hash", "devino-hash32", "hybrid-hash", "hybrid-hash32"}, ""},
		{"dropcacheonclose", "maybe", nil, "BOOL"},
		{"direct-io-allow-mmap", "2", nil, "BOOL"},
		{"symlinkify", "", nil, "BOOL"},
		{"symlinkify-timeout", "-1", nil, "SECONDS"},
		{"symlinkify-timeout", "1h", nil, "SECONDS"},
		{"nullrw", "x", nil, "BOOL"},
		{"ignorepponrename", "x", nil, "BOOL"},
		{"lazy-umount-mountpoint", "x", nil, "BOOL"},
		{"branches-mount-timeout", "soon", nil, "SECONDS"},
		{"branches-mount-timeout-fail", "x", nil, "BOOL"},
		{"export-support", "x", nil, "BOOL"},
		{"kernel-permissions-check", "x", nil, "BOOL"},
		{"security-capability", "x", nil, "BOOL"},
		{"xattr", "none", []string{"passthrough", "noattr", "nosys"}, ""},
		{"link-cow", "x", nil, "BOOL"},
		{"statfs", "all", []string{"base", "full"}, ""},
		{"statfs-ignore", "all", []string{"none", "ro", "nc"}, ""},
		{"nfsopenhack", "on", []string{"off", "git", "all"}, ""},
		{"follow-symlinks", "always", []string{"never", "directory", "regular", "all"}, ""},
		{"link-exdev", "symlink", []string{"passthrough", "rel-symlink", "abs-base-symlink", "abs-pool-symlink"}, ""},
		{"rename-exdev", "symlink", []string{"passthrough", "rel-symlink", "abs-symlink"}, ""},
		{"readahead", "-1", nil, "UINT"},
		{"readahead", "1M", nil, "UINT"},
		{"posix-acl", "x", nil, "BOOL"},
		{"async-read", "x", nil, "BOOL"},
		{"fuse-msg-size", "0", nil, "PAGES|SIZE"},
		{"fuse-msg-size", "1X", nil, "PAGES|SIZE"},
		{"read-thread-count", "many", nil, "INT"},
		{"process-thread-count", "1.5", nil, "INT"},
		{"process-thread-queue-depth", "-1", nil, "UINT"},
		{"pin-threads", "r1l", []string{"false", "R1L", "R1P", "RP1L", "RP1P", "R1LP1L", "R1PP1P", "RPSL", "RPSP", "R1PPSP"}, ""},
		{"flush-on-close", "sometimes", []string{"never", "always", "opened-for-write"}, ""},
		{"scheduling-priority", "20", nil, "INT from -20 to 19"},
		{"scheduling-priority", "-21", nil, "INT from -20 to 19"},
		{"proxy-ioprio", "x", nil, "BOOL"},
		{"cache.attr", "x", nil, "SECONDS"},
		{"cache.entry", "-1", nil, "SECONDS"},
		{"cache.negative-entry", "1e3", nil, "SECONDS"},
		{"cache.statfs", "x", nil, "SECONDS"},
		{"cache.files", "libfusex", []string{"off", "partial", "full", "auto-full", "per-process"}, ""},
		{"cache.writeback", "x", nil, "BOOL"},
		{"cache.symlinks", "x", nil, "BOOL"},
		{"cache.readdir", "x", nil, "BOOL"},
		{"parallel-direct-writes", "x", nil, "BOOL"},
		{"passthrough.io", "on", []string{"off", "ro", "wo", "rw"}, ""},
		{"passthrough.max-stack-depth", "3", []string{"1", "2"}, ""},
		{"never-forget-nodes", "x", nil, "BOOL"},
		{"allow-idmap", "x", nil, "BOOL"},
		{"handle-killpriv", "x", nil, "BOOL"},
		{"handle-killpriv-v2", "x", nil, "BOOL"},
		{"debug", "x", nil, "BOOL"},
		{"uid", "-2", nil, "UINT|-1"},
		{"gid", "root", nil, "UINT|-1"},
		{"umask", "999", nil, "OCTAL|-1"},
		{"subtype", "", nil, "STR"},
		{"readdir", "fast", []string{"posix", "linux"}, ""},
		{"func.getattr", "bogus", pols, ""},
		{"threads", "x", nil, "INT"},
		{"sync_read", "x", nil, "BOOL"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			o, err := Parse([]string{tc.key + "=" + tc.value})
			if err == nil {
				t.Fatalf("Parse(%s=%s) succeeded: %+v", tc.key, tc.value, o)
			}
			var ive *InvalidValueError
			if !errors.As(err, &ive) {
				t.Fatalf("error %T is not *InvalidValueError: %v", err, err)
			}
			msg := err.Error()
			if ive.Key != tc.key || ive.Value != tc.value || !strings.Contains(msg, strconv.Quote(tc.value)) || !strings.Contains(msg, tc.key) {
				t.Errorf("error does not name key and value: %q (%+v)", msg, ive)
			}
			for _, v := range tc.valid {
				if !strings.Contains(msg, v) {
					t.Errorf("error %q does not list %q", msg, v)
				}
			}
			if tc.form != "" && !strings.Contains(msg, tc.form) {
				t.Errorf("error %q does not mention %q", msg, tc.form)
			}
			if ive.Errno() != unix.EINVAL {
				t.Errorf("Errno = %v", ive.Errno())
			}
		})
	}
}

func TestBareKeys(t *testing.T) {
	o, err := Parse([]string{"dropcacheonclose", "symlinkify", "moveonenospc", "noforget", "sync_read", "debug", "fsname"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.DropCacheOnClose || !o.Symlinkify || o.MoveOnENOSPC != (MoveOnENOSPC{true, "pfrd"}) ||
		!o.NeverForgetNodes || o.AsyncRead || !o.Debug || o.FSName != "" {
		t.Errorf("bare keys: %+v", o)
	}
	_, err = Parse([]string{"minfreespace"})
	var ive *InvalidValueError
	if !errors.As(err, &ive) || ive.Option != "minfreespace" {
		t.Errorf("bare minfreespace: %v", err)
	}
}

func TestAliases(t *testing.T) {
	for _, tc := range []struct {
		item, key, want string
	}{
		{"mount=/mnt/pool", "mountpoint", "/mnt/pool"},
		{"threads=6", "read-thread-count", "6"},
		{"noforget", "never-forget-nodes", "true"},
		{"noforget=false", "never-forget-nodes", "false"},
		{"remember=60", "never-forget-nodes", "true"},
		{"remember=-1", "never-forget-nodes", "true"},
		{"remember=0", "never-forget-nodes", "false"},
		{"remember_nodes=5", "never-forget-nodes", "true"},
		{"attr_timeout=7", "cache.attr", "7"},
		{"entry_timeout=0.25", "cache.entry", "0.25"},
		{"negative_timeout=9", "cache.negative-entry", "9"},
		{"sync_read", "async-read", "false"},
		{"sync_read=false", "async-read", "true"},
	} {
		t.Run(tc.item, func(t *testing.T) {
			o, err := Parse([]string{tc.item})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := o.Get(tc.key); got != tc.want {
				t.Errorf("Get(%q) = %q, want %q", tc.key, got, tc.want)
			}
			alias, _, _ := strings.Cut(tc.item, "=")
			if got, errno := o.Get(alias); errno != 0 || (alias != "sync_read" && got != tc.want) {
				t.Errorf("Get(alias %q) = %q, %v", alias, got, errno)
			}
		})
	}
}

func TestNoOps(t *testing.T) {
	def := Default()
	for _, e := range Entries() {
		if !e.NoOp {
			continue
		}
		under := strings.ReplaceAll(e.Name, "-", "_")
		for _, item := range []string{e.Name, under, under + "=1", e.Name + "=true", e.Name + "=anything"} {
			if e.Name == "readdir" {
				item = strings.SplitN(item, "=", 2)[0] + "=posix"
			}
			t.Run(item, func(t *testing.T) {
				o, err := Parse([]string{item})
				if err != nil {
					t.Fatalf("Parse(%q): %v", item, err)
				}
				o.explicit, def.explicit = nil, nil
				o.legacy = legacyCache{}
				if !reflect.DeepEqual(o, def) {
					t.Errorf("no-op %q changed the options", item)
				}
				if v, errno := o.Get(e.Name); errno != 0 || v != "" {
					t.Errorf("Get(%q) = %q, %v", e.Name, v, errno)
				}
				val := "1"
				if e.Name == "readdir" {
					val = "linux"
				}
				if errno := o.Set(e.Name, val); errno != 0 {
					t.Errorf("Set(%q) = %v", e.Name, errno)
				}
			})
		}
	}
	if _, err := Parse([]string{"readdir=linux"}); err != nil {
		t.Errorf("readdir=linux: %v", err)
	}
}

// Test2335Spellings feeds option strings an old fstab or Debian 2.33.5 docs
// would use and checks what they map to.
func Test2335Spellings(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want map[string]string
	}{
		{"async_read=false", map[string]string{"async-read": "false"}},
		{"cache.negative_entry=5", map[string]string{"cache.negative-entry": "5"}},
		{"fuse_msg_size=256", map[string]string{"fuse-msg-size": "256"}},
		{"fuse_msg_size=32", map[string]string{"fuse-msg-size": "32"}},
		{"link_cow=true,posix_acl=true", map[string]string{"link-cow": "true", "posix-acl": "true"}},
		{"security_capability=false,statfs_ignore=ro", map[string]string{"security-capability": "false", "statfs-ignore": "ro"}},
		{"symlinkify=true,symlinkify_timeout=10", map[string]string{"symlinkify": "true", "symlinkify-timeout": "10"}},
		{"threads=8", map[string]string{"read-thread-count": "8"}},
		{"cache.files=libfuse", map[string]string{"cache.files": "partial"}},
		{"cache.files=libfuse,direct_io", map[string]string{"cache.files": "off"}},
		{"direct_io,cache.files=libfuse", map[string]string{"cache.files": "off"}},
		{"kernel_cache,cache.files=libfuse", map[string]string{"cache.files": "full"}},
		{"cache.files=libfuse,auto_cache", map[string]string{"cache.files": "auto-full"}},
		{"cache.files=libfuse,kernel_cache,auto_cache", map[string]string{"cache.files": "full"}},
		{"cache.files=full,direct_io", map[string]string{"cache.files": "full"}},
		{"direct_io,kernel_cache,cache.files=partial", map[string]string{"cache.files": "partial"}},
		{"cache.files=libfuse,cache.files=off,direct_io", map[string]string{"cache.files": "off"}},
		{"cache.files=libfuse,kernel_cache,cache.files=auto-full,direct_io", map[string]string{"cache.files": "auto-full"}},
		{"moveonenospc=true", map[string]string{"moveonenospc": "pfrd"}},
		{"moveonenospc=false", map[string]string{"moveonenospc": "false"}},
		{"moveonenospc=mfs", map[string]string{"moveonenospc": "mfs"}},
		{"category.create=epmfs", map[string]string{"category.create": "epmfs", "func.mkdir": "epmfs"}},
		{"use_ino,hard_remove,big_writes,atomic_o_trunc,splice_move,splice_read,splice_write,no_splice_read", map[string]string{}},
		{"readdirplus=false,readdir=linux,log.metrics=false,cache.open=1", map[string]string{}},
		{"allow_other,use_ino,default_permissions,nonempty", map[string]string{}},
		{"minfreespace=50G,func.getattr=newest,dropcacheonclose=true", map[string]string{
			"minfreespace": "53687091200", "func.getattr": "newest", "dropcacheonclose": "true"}},
		{"srcmounts=/a", nil}, // reported, never settable
	} {
		t.Run(tc.opts, func(t *testing.T) {
			o, err := Parse(SplitOptionString(tc.opts))
			if tc.want == nil {
				if err == nil {
					t.Fatal("expected an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if got, _ := o.Get(k); got != want {
					t.Errorf("Get(%q) = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestMountWhitelist(t *testing.T) {
	words := []string{
		"allow_other", "allow_root", "default_permissions", "ro", "rw", "noatime", "atime", "relatime",
		"nodiratime", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync",
		"auto", "noauto", "user", "users", "nouser", "owner", "group", "nofail", "_netdev",
		"comment=x-gvfs-show", "comment=", "x-systemd.automount", "x-systemd.requires=/mnt/a",
		"x-systemd.mount-timeout=30", "x-mount.mkdir",
	}
	o, err := Parse(append(append([]string{"dropcacheonclose=true"}, words...), "fsname=pool"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.MountOpts, words) {
		t.Errorf("MountOpts = %q\nwant %q", o.MountOpts, words)
	}
	if !o.DropCacheOnClose || o.FSName != "pool" {
		t.Errorf("options around mount words lost: %+v", o)
	}
	if o.explicit["defaults"] {
		t.Error("defaults is a table no-op")
	}
	// defaults is a table no-op, not collected.
	if o, err := Parse([]string{"defaults"}); err != nil || len(o.MountOpts) != 0 {
		t.Errorf("defaults: %v %v", o, err)
	}
	for _, bad := range []string{"ro=1", "allow-other", "noatime=yes", "xsystemd.automount"} {
		var uoe *UnknownOptionError
		if _, err := Parse([]string{bad}); !errors.As(err, &uoe) {
			t.Errorf("Parse(%q) = %v, want *UnknownOptionError", bad, err)
		}
	}
	if errno := Default().Set("allow_other", ""); errno != unix.ENODATA {
		t.Errorf("runtime Set(allow_other) = %v, want ENODATA", errno)
	}
	if _, errno := Default().Get("noatime"); errno != unix.ENODATA {
		t.Errorf("Get(noatime) = %v, want ENODATA", errno)
	}
}

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want map[string]string
	}{
		{"func.rmdir=rand,category.action=ff", map[string]string{"func.rmdir": "ff", "category.action": "ff"}},
		{"category.action=ff,func.rmdir=rand", map[string]string{"func.rmdir": "rand", "func.unlink": "ff", "category.action": "ff,rand"}},
		{"category.search=newest,func.getattr=ff,func.open=lus", map[string]string{"category.search": "ff,lus,newest"}},
		{"cache.files=full,cache.files=off", map[string]string{"cache.files": "off"}},
		{"minfreespace=1G,minfreespace=2G", map[string]string{"minfreespace": "2147483648"}},
		{"moveonenospc=mfs,moveonenospc=false", map[string]string{"moveonenospc": "false"}},
		{"threads=2,read-thread-count=3", map[string]string{"read-thread-count": "3"}},
		{"read_thread_count=3,threads=2", map[string]string{"read-thread-count": "2"}},
		{"category.create=mfs,func.create=ff,category.create=lfs", map[string]string{"category.create": "lfs"}},
	} {
		t.Run(tc.opts, func(t *testing.T) {
			o, err := Parse(SplitOptionString(tc.opts))
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if got, _ := o.Get(k); got != want {
					t.Errorf("Get(%q) = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestSplitOptionString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a=1,b=2", []string{"a=1", "b=2"}},
		{",a,,b,", []string{"a", "b"}},
		{`fsname=a\,b,ro`, []string{"fsname=a,b", "ro"}},
		{`x=a\\,y`, []string{`x=a\`, "y"}},
		{`x=a\b`, []string{`x=a\b`}},
		{`trailing\`, []string{`trailing\`}},
		{"branches=/a:/b=RO,100G", []string{"branches=/a:/b=RO", "100G"}},
	} {
		if got := SplitOptionString(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitOptionString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A branch's per-branch minfreespace needs the escape on the command line.
	dir := makeLayout(t, "a/")
	o, err := Parse(SplitOptionString(`branches=` + dir + `/a=RO\,100G`))
	if err != nil || FormatBranches(o.Branches) != dir+"/a=RO,100G" {
		t.Errorf("escaped comma in branches: %v %v", o, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFile(t *testing.T) {
	dir := makeLayout(t, "b1/", "b2/", "mnt/")
	main := filepath.Join(dir, "conf", "main.conf")
	writeFile(t, main, fmt.Sprintf(`
# a comment
   # indented comment

branches=%s/b1=RW:%s/b2=RO,10G
mountpoint = %s/mnt
  dropcacheonclose  
cache.files=partial
security_capability=false
config=sub/inc.conf
func.rmdir=rand
`, dir, dir, dir))
	writeFile(t, filepath.Join(dir, "conf", "sub", "inc.conf"), "category.action=ff\nminfreespace=1G\nallow_other\n")

	o, err := Parse([]string{"func.rmdir=mfs", "config=" + main, "minfreespace=2G"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"branches":            dir + "/b1=RW:" + dir + "/b2=RO,10G",
		"mountpoint":          dir + "/mnt",
		"dropcacheonclose":    "true",
		"cache.files":         "partial",
		"security-capability": "false",
		"func.rmdir":          "rand", // file order: set after the include's category.action=ff
		"func.unlink":         "ff",
		"minfreespace":        "2147483648", // -o after config= wins
		"config":              main,
	}
	for k, w := range want {
		if got, _ := o.Get(k); got != w {
			t.Errorf("Get(%q) = %q, want %q", k, got, w)
		}
	}
	if !reflect.DeepEqual(o.MountOpts, []string{"allow_other"}) {
		t.Errorf("MountOpts = %q", o.MountOpts)
	}

	t.Run("nesting", func(t *testing.T) {
		chain := func(n int) string {
			d := t.TempDir()
			for i := 1; i <= n; i++ {
				body := fmt.Sprintf("read-thread-count=%d\n", i)
				if i < n {
					body += fmt.Sprintf("config=c%d\n", i+1)
				}
				writeFile(t, filepath.Join(d, fmt.Sprintf("c%d", i)), body)
			}
			return filepath.Join(d, "c1")
		}
		// The first file plus 5 levels of includes is allowed.
		o, err := Parse([]string{"config=" + chain(maxConfigDepth+1)})
		if err != nil {
			t.Fatalf("%d nested files: %v", maxConfigDepth+1, err)
		}
		if o.ReadThreadCount != maxConfigDepth+1 {
			t.Errorf("deepest file not applied: %d", o.ReadThreadCount)
		}
		_, err = Parse([]string{"config=" + chain(maxConfigDepth+2)})
		if !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), "ELOOP") {
			t.Errorf("%d nested files: %v, want ELOOP", maxConfigDepth+2, err)
		}
		var cfe *ConfigFileError
		if !errors.As(err, &cfe) {
			t.Errorf("not a *ConfigFileError: %T", err)
		}
		// A file including itself.
		self := filepath.Join(t.TempDir(), "self.conf")
		writeFile(t, self, "config=self.conf\n")
		if _, err := Parse([]string{"config=" + self}); !errors.Is(err, unix.ELOOP) {
			t.Errorf("self include: %v, want ELOOP", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		d := t.TempDir()
		bad := filepath.Join(d, "bad.conf")
		writeFile(t, bad, "# ok\ncach.files=full\n\nminfreespace=lots\npid=3\ndebug=true\n")
		_, err := Parse([]string{"config=" + bad})
		if err == nil {
			t.Fatal("expected errors")
		}
		msg := err.Error()
		for _, m := range []string{bad + ":2", `did you mean "cache.files"`, bad + ":4", `"lots"`, bad + ":5", "pid"} {
			if !strings.Contains(msg, m) {
				t.Errorf("error %q does not mention %q", msg, m)
			}
		}
		var uoe *UnknownOptionError
		var ive *InvalidValueError
		var roe *ReadOnlyError
		if !errors.As(err, &uoe) || !errors.As(err, &ive) || !errors.As(err, &roe) {
			t.Errorf("typed errors not reachable through %v", err)
		}

		_, err = Parse([]string{"config=" + filepath.Join(d, "missing.conf")})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing file: %v", err)
		}
		_, err = Parse([]string{"config="})
		if !errors.As(err, &ive) {
			t.Errorf("empty config=: %v", err)
		}
		// A comma inside a line is part of the value, not a separator.
		comma := filepath.Join(d, "comma.conf")
		writeFile(t, comma, "func.rmdir=rand,category.action=ff\n")
		if _, err := Parse([]string{"config=" + comma}); !errors.As(err, &ive) {
			t.Errorf("comma line: %v", err)
		}
	})
}

func TestUnknownKeySuggestions(t *testing.T) {
	for _, tc := range []struct{ key, suggestion string }{
		{"cach.files", "cache.files"},
		{"cache_file", "cache.files"},
		{"minfreespce", "minfreespace"},
		{"func.getatr", "func.getattr"},
		{"moveonenospace", "moveonenospc"},
		{"dropcache", "dropcacheonclose"},
		{"category.creat", "category.create"},
		{"statfs_ignor", "statfs-ignore"},
		{"Branches", "branches"},
		{"xyzzy", ""},
		{"completely-unrelated-thing", ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, err := Parse([]string{tc.key + "=1"})
			var uoe *UnknownOptionError
			if !errors.As(err, &uoe) {
				t.Fatalf("Parse(%s) = %v, want *UnknownOptionError", tc.key, err)
			}
			if uoe.Suggestion != tc.suggestion || uoe.Key != tc.key {
				t.Errorf("suggestion for %q = %q, want %q", tc.key, uoe.Suggestion, tc.suggestion)
			}
			if !strings.Contains(err.Error(), "see 'mfs options'") {
				t.Errorf("message %q lacks the pointer to 'mfs options'", err)
			}
			if uoe.Errno() != unix.ENODATA {
				t.Errorf("Errno = %v", uoe.Errno())
			}
		})
	}
	_, err := Parse([]string{"cach.files=full"})
	if want := `unknown option "cach.files" (did you mean "cache.files"?); see 'mfs options'`; err == nil || err.Error() != want {
		t.Errorf("message = %v, want %s", err, want)
	}
}

func TestParseReportsEveryError(t *testing.T) {
	_, err := Parse([]string{"nope", "minfreespace=x", "version=1", "srcmounts=/a", "cache.files=full"})
	var uoe *UnknownOptionError
	var ive *InvalidValueError
	var roe *ReadOnlyError
	if !errors.As(err, &uoe) || !errors.As(err, &ive) || !errors.As(err, &roe) {
		t.Fatalf("Parse error %v lacks typed errors", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 4 {
		t.Errorf("got %d errors, want 4: %v", n, err)
	}
	if !roe.Always || roe.Errno() != unix.EROFS {
		t.Errorf("reported key error: %+v", roe)
	}
}

// TestGetSetRoundTrip writes every listed key's current value back through
// the control-file interface: read-only keys give EROFS, others succeed and
// read back the same value.
func TestGetSetRoundTrip(t *testing.T) {
	dir := makeLayout(t, "a/", "b/")
	cfg := filepath.Join(dir, "rt.conf")
	writeFile(t, cfg, "dropcacheonclose=true\n")
	start, err := Parse([]string{"branches=" + dir + "/a=RO,5G:" + dir + "/b", "mountpoint=/mnt/x", "config=" + cfg, "func.open=newest"})
	if err != nil {
		t.Fatal(err)
	}
	start.PID, start.Version = 1234, "mfs 0.1"
	for _, variant := range []struct {
		name string
		o    *Options
	}{{"default", Default()}, {"configured", start}} {
		for _, k := range Keys() {
			t.Run(variant.name+"/"+k, func(t *testing.T) {
				o := variant.o.Clone()
				v, errno := o.Get(k)
				if errno != 0 {
					t.Fatalf("Get(%q): %v", k, errno)
				}
				e, _ := Lookup(k)
				before := o.Clone()
				got := o.Set(k, v)
				switch {
				case e.ReadOnly:
					if got != unix.EROFS {
						t.Errorf("Set(%q, %q) = %v, want EROFS", k, v, got)
					}
					if !reflect.DeepEqual(o, before) {
						t.Errorf("failed Set(%q) changed the options", k)
					}
				case k == "config" && v == "":
					if got != unix.EINVAL {
						t.Errorf("Set(config, \"\") with no previous file = %v, want EINVAL", got)
					}
				case strings.HasPrefix(k, "category.") && strings.Contains(v, ","):
					// A mixed category reads as a set, which is not a policy
					// name (mergerfs behaves the same).
					if got != unix.EINVAL {
						t.Errorf("Set(%q, %q) = %v, want EINVAL", k, v, got)
					}
				default:
					if got != 0 {
						t.Fatalf("Set(%q, %q) = %v", k, v, got)
					}
					if v2, _ := o.Get(k); v2 != v {
						t.Errorf("Get(%q) after Set = %q, want %q", k, v2, v)
					}
				}
				if u := strings.ReplaceAll(k, "-", "_"); u != k {
					if v3, errno := o.Get(u); errno != 0 || v3 != v {
						t.Errorf("Get(%q) = %q, %v; want %q", u, v3, errno, v)
					}
				}
			})
		}
	}
	if v, _ := start.Get("pid"); v != "1234" {
		t.Errorf("pid = %q", v)
	}
	if v, _ := start.Get("version"); v != "mfs 0.1" {
		t.Errorf("version = %q", v)
	}
	if v, _ := start.Get("srcmounts"); v != dir+"/a:"+dir+"/b" {
		t.Errorf("srcmounts = %q", v)
	}
	if v, _ := start.Get("branches"); v != dir+"/a=RO,5G:"+dir+"/b=RW" {
		t.Errorf("branches = %q", v)
	}
}

// TestSetEveryValue sets every settable option at runtime to a new valid
// value, and to a bad one.
func TestSetEveryValue(t *testing.T) {
	for _, v := range validValues(t) {
		e, _ := Lookup(v.key)
		t.Run(v.key, func(t *testing.T) {
			o := Default()
			errno := o.Set(strings.ReplaceAll(v.key, "-", "_"), v.value)
			if e.ReadOnly {
				if errno != unix.EROFS {
					t.Errorf("Set(%q) = %v, want EROFS", v.key, errno)
				}
				if !reflect.DeepEqual(o, Default()) {
					t.Errorf("EROFS Set changed options")
				}
				return
			}
			if errno != 0 {
				t.Fatalf("Set(%q, %q) = %v", v.key, v.value, errno)
			}
			if got, _ := o.Get(v.key); got != v.want {
				t.Errorf("Get(%q) = %q, want %q", v.key, got, v.want)
			}
		})
	}
	// Bad values give EINVAL and change nothing.
	for _, kv := range [][2]string{
		{"minfreespace", "x"}, {"category.create", "bogus"}, {"func.getattr", ""}, {"xattr", "sometimes"},
		{"branches", "/a=XX"}, {"branches", "-<"}, {"moveonenospc", "maybe"}, {"cache.files", ""},
		{"dropcacheonclose", ""}, {"func.readdir", "cosr:x"},
	} {
		o := Default()
		if errno := o.Set(kv[0], kv[1]); errno != unix.EINVAL {
			t.Errorf("Set(%q, %q) = %v, want EINVAL", kv[0], kv[1], errno)
		}
		if !reflect.DeepEqual(o, Default()) {
			t.Errorf("failed Set(%q, %q) changed options", kv[0], kv[1])
		}
	}
}

func TestSetErrnos(t *testing.T) {
	o := Default()
	for _, tc := range []struct {
		key, value string
		want       unix.Errno
	}{
		{"nosuchkey", "1", unix.ENODATA},
		{"user.mergerfs.minfreespace", "1", unix.ENODATA},
		{"cmd.gc", "", unix.ENODATA},
		{"MINFREESPACE", "1", unix.ENODATA},
		{"pid", "1", unix.EROFS},
		{"version", "x", unix.EROFS},
		{"srcmounts", "/a", unix.EROFS},
		{"mountpoint", "/b", unix.EROFS},
		{"mount", "/b", unix.EROFS},
		{"threads", "4", unix.EROFS},
		{"noforget", "true", unix.EROFS},
		{"sync_read", "true", unix.EROFS},
		{"fuse_msg_size", "256", unix.EROFS},
		{"cache.writeback", "true", unix.EROFS},
		{"minfreespace", "1G", 0},
		{"cache.negative_entry", "3", 0},
		{"cache_files", "full", unix.ENODATA}, // '_' becomes '-', never '.'
		{"func_getattr", "ff", unix.ENODATA},
		{"statfs_ignore", "ro", 0},
		{"category.search", "all", 0},
		{"uid", "5", 0},
		{"use_ino", "", 0},
		{"config", "/nonexistent/mfs.conf", unix.ENOENT},
	} {
		if got := o.Set(tc.key, tc.value); got != tc.want {
			t.Errorf("Set(%q, %q) = %v, want %v", tc.key, tc.value, got, tc.want)
		}
	}
	for _, e := range Entries() {
		if e.ReadOnly {
			if got := Default().Set(e.Name, "x"); got != unix.EROFS {
				t.Errorf("Set(ro %q) = %v, want EROFS", e.Name, got)
			}
		}
	}
	if _, errno := o.Get("nosuchkey"); errno != unix.ENODATA {
		t.Errorf("Get(unknown) = %v", errno)
	}
	if v, _ := o.Get("minfreespace"); v != "1073741824" {
		t.Errorf("minfreespace prints %q, want a byte count", v)
	}
	if v, _ := o.Get("category.search"); v != "all" {
		t.Errorf("category.search = %q", v)
	}
	if err := o.SetErr("minfreespace", "big"); err == nil || !strings.Contains(err.Error(), `"big"`) {
		t.Errorf("SetErr = %v", err)
	}
}

func TestRuntimeBranches(t *testing.T) {
	dir := makeLayout(t, "a/", "b/", "c/")
	p := func(n string) string { return filepath.Join(dir, n) }
	o := Default()
	steps := []struct{ instr, want string }{
		{p("a") + ":" + p("b") + "=NC", p("a") + "=RW:" + p("b") + "=NC"},
		{"+>" + p("c") + "=RO,1G", p("a") + "=RW:" + p("b") + "=NC:" + p("c") + "=RO,1G"},
		{"-<", p("b") + "=NC:" + p("c") + "=RO,1G"},
		{"+<" + p("a"), p("a") + "=RW:" + p("b") + "=NC:" + p("c") + "=RO,1G"},
		{"-" + p("b"), p("a") + "=RW:" + p("c") + "=RO,1G"},
		{"->", p("a") + "=RW"},
		{"=" + p("{b,c}"), p("b") + "=RW:" + p("c") + "=RW"},
	}
	for _, s := range steps {
		if errno := o.Set("branches", s.instr); errno != 0 {
			t.Fatalf("Set(branches, %q) = %v", s.instr, errno)
		}
		if got, _ := o.Get("branches"); got != s.want {
			t.Errorf("after %q: branches = %q, want %q", s.instr, got, s.want)
		}
	}
	before, _ := o.Get("branches")
	if errno := o.Set("branches", "+>"+p("a")+"=bad"); errno != unix.EINVAL {
		t.Errorf("bad edit = %v, want EINVAL", errno)
	}
	if after, _ := o.Get("branches"); after != before {
		t.Errorf("failed edit changed branches: %q", after)
	}
}

func TestRuntimeConfig(t *testing.T) {
	d := t.TempDir()
	good := filepath.Join(d, "good.conf")
	writeFile(t, good, "dropcacheonclose=true\ncategory.create=mfs\n")
	withRO := filepath.Join(d, "ro.conf")
	writeFile(t, withRO, "symlinkify=true\ncache.writeback=true\n")

	o := Default()
	if errno := o.Set("config", good); errno != 0 {
		t.Fatalf("Set(config) = %v", errno)
	}
	if !o.DropCacheOnClose || o.Func[policy.FuncMkdir] != "mfs" || o.ConfigFile != good {
		t.Errorf("config not applied: %+v", o)
	}
	o.DropCacheOnClose = false
	if errno := o.Set("config", ""); errno != 0 || !o.DropCacheOnClose {
		t.Errorf("re-applying the last config: %v", errno)
	}
	before := o.Clone()
	// A file with a read-only key fails as a whole with EINVAL (as in
	// mergerfs); the descriptive error names the key.
	if errno := o.Set("config", withRO); errno != unix.EINVAL {
		t.Errorf("config with a read-only key = %v, want EINVAL", errno)
	}
	var roe *ReadOnlyError
	if err := o.SetErr("config", withRO); !errors.As(err, &roe) || roe.Option != "cache.writeback" {
		t.Errorf("SetErr(config) = %v", err)
	}
	loop := filepath.Join(d, "loop.conf")
	writeFile(t, loop, "config=loop.conf\n")
	if errno := o.Set("config", loop); errno != unix.EINVAL {
		t.Errorf("self-including config = %v, want EINVAL", errno)
	}
	if !reflect.DeepEqual(o, before) {
		t.Error("failed runtime config changed the options")
	}
}

func TestClone(t *testing.T) {
	dir := makeLayout(t, "a/")
	o, err := Parse([]string{"branches=" + dir + "/a", "allow_other", "cache.files.process-names=x|y", "debug"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Clone()
	if !reflect.DeepEqual(o, c) {
		t.Fatal("clone differs")
	}
	c.Branches[0].Mode = policy.RO
	c.MountOpts[0] = "changed"
	c.CacheFilesProcessNames[0] = "changed"
	c.explicit["x"] = true
	c.Func[0] = "rand"
	if o.Branches[0].Mode != policy.RW || o.MountOpts[0] != "allow_other" || o.CacheFilesProcessNames[0] != "x" ||
		o.explicit["x"] || o.Func[0] != "ff" {
		t.Error("clone shares state with the original")
	}
}

func TestKeysAndEntries(t *testing.T) {
	keys := Keys()
	if keys[0] != "branches" {
		t.Errorf("Keys()[0] = %q", keys[0])
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("duplicate key %q", k)
		}
		seen[k] = true
		e, ok := Lookup(k)
		if !ok || e.Hidden || e.NoOp {
			t.Errorf("listed key %q: %+v", k, e)
		}
	}
	es := Entries()
	es[0].Name = "changed"
	if len(es[0].Aliases) > 0 {
		es[0].Aliases[0] = "changed"
	}
	if Entries()[0].Name != "branches" {
		t.Error("Entries returns shared state")
	}
	for _, e := range Entries() {
		if e.Help == "" || e.Form == "" {
			t.Errorf("entry %q lacks help or form", e.Name)
		}
		if e.Name != NormalizeKey(e.Name) {
			t.Errorf("entry name %q is not normalised", e.Name)
		}
		if e.Default != "" && !e.NoOp {
			// The default must be accepted by the entry's own parser.
			if _, err := Parse([]string{e.Name + "=" + e.Default}); err != nil && !e.Reported {
				t.Errorf("default of %q does not parse: %v", e.Name, err)
			}
		}
	}
}

func TestHelp(t *testing.T) {
	h := Help()
	for _, k := range Keys() {
		if !strings.Contains(h, "\n  "+k) {
			t.Errorf("Help lacks %q", k)
		}
	}
	for _, want := range []string{
		"fuse-msg-size=PAGES|SIZE  [ro] [mount]", "default: 4294967295", "cache.files=off|partial|full|auto-full|per-process  [mount]",
		"default: opened-for-write", "threads → read-thread-count", "use-ino", "allow_other", "x-*", "Policies: all, epall",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("Help lacks %q", want)
		}
	}
	if strings.Contains(h, "\n  srcmounts") {
		t.Error("Help lists the hidden srcmounts")
	}
}

func TestApplyArgsAndValidate(t *testing.T) {
	dir := makeLayout(t, "a/", "b/", "c/", "mnt/")
	p := func(n string) string { return filepath.Join(dir, n) }

	o := Default()
	if err := o.ApplyArgs([]string{p("a") + ":" + p("b") + "=RO", p("c"), p("mnt")}); err != nil {
		t.Fatal(err)
	}
	if got := FormatBranches(o.Branches); got != p("a")+"=RW:"+p("b")+"=RO:"+p("c")+"=RW" || o.Mountpoint != p("mnt") {
		t.Errorf("ApplyArgs: %q, %q", got, o.Mountpoint)
	}
	if w, err := o.Validate(); err != nil || len(w) != 0 {
		t.Errorf("Validate: %v %v", w, err)
	}

	// With mountpoint= given, every positional is a branch.
	o, _ = Parse([]string{"mountpoint=" + p("mnt")})
	if err := o.ApplyArgs([]string{p("a"), p("b")}); err != nil || len(o.Branches) != 2 || o.Mountpoint != p("mnt") {
		t.Errorf("ApplyArgs with mountpoint=: %v %+v", err, o.Branches)
	}
	if err := Default().ApplyArgs([]string{p("a") + "=xx", p("mnt")}); err == nil {
		t.Error("bad branch argument accepted")
	}

	// Missing pieces and a branch that is the mountpoint.
	if _, err := Default().Validate(); err == nil || !strings.Contains(err.Error(), "no branches") || !strings.Contains(err.Error(), "no mountpoint") {
		t.Errorf("Validate(empty) = %v", err)
	}
	o = Default()
	_ = o.ApplyArgs([]string{p("a") + ":" + p("mnt"), p("mnt")})
	if _, err := o.Validate(); err == nil || !strings.Contains(err.Error(), "can not include the mountpoint") {
		t.Errorf("mount loop: %v", err)
	}
	// A mountpoint inside a branch, a branch inside the mountpoint (also
	// one that does not exist yet), and / as a branch.
	for _, tc := range []struct{ branches, mnt, want string }{
		{p("a"), p("a") + "/mnt", "is inside branch"},
		{p("mnt") + "/a:" + p("b"), p("mnt"), "is inside the mountpoint"},
		{p("b") + ":" + p("mnt") + "/later", p("mnt"), "is inside the mountpoint"},
		{"/", p("mnt"), "is inside branch /"},
	} {
		o = Default()
		_ = o.ApplyArgs([]string{tc.branches, tc.mnt})
		if _, err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("branches %s, mountpoint %s: %v, want %q", tc.branches, tc.mnt, err, tc.want)
		}
	}
	// A path naming no directory is skipped (as mergerfs does) with a notice
	// Validate passes on, naming what it is.
	o = Default()
	_ = o.ApplyArgs([]string{p("a") + ":/dev/null", p("mnt")})
	if w, err := o.Validate(); err != nil || len(o.Branches) != 1 || len(w) != 1 ||
		!strings.Contains(w[0], "/dev/null is a character device, not a directory: skipped") {
		t.Errorf("a device as a branch: branches %+v, warnings %q, %v", o.Branches, w, err)
	}
	// At run time (mountpoint known) the control file refuses the same.
	o = Default()
	_ = o.ApplyArgs([]string{p("a"), p("mnt")})
	if err := o.SetErr("branches", "+>"+p("mnt")+"/x"); err == nil || !strings.Contains(err.Error(), "inside the mountpoint") {
		t.Errorf("adding a branch inside the mountpoint at run time: %v", err)
	}
	if e := o.Set("branches", "+>"+p("mnt")+"/x"); e != unix.EINVAL {
		t.Errorf("setxattr of such branches: %v, want EINVAL", e)
	}
	if err := o.SetErr("branches", "+>"+p("b")); err != nil || len(o.Branches) != 2 {
		t.Errorf("adding a plain branch at run time: %v %+v", err, o.Branches)
	}

	// passthrough.io adjustments.
	o, _ = Parse([]string{"passthrough.io=rw", "cache.writeback=true", "uid=0"})
	_ = o.ApplyArgs([]string{p("a"), p("mnt")})
	w, err := o.Validate()
	if err != nil || o.CacheFiles != CacheFilesAutoFull || o.CacheWriteback || len(w) != 4 {
		t.Errorf("passthrough adjustments: %v %v %+v", w, err, o)
	}
}

// TestCopyOnWrite exercises the sharing pattern doc.go prescribes under the
// race detector: readers Get from a published *Options while a writer
// clones, sets and publishes.
func TestCopyOnWrite(t *testing.T) {
	dir := makeLayout(t, "a/", "b/")
	var cur atomic.Pointer[Options]
	o, err := Parse([]string{"branches=" + dir + "/a"})
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(o)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				snap := cur.Load()
				for _, k := range []string{"branches", "category.create", "minfreespace", "srcmounts"} {
					if _, errno := snap.Get(k); errno != 0 {
						t.Errorf("Get(%q): %v", k, errno)
					}
				}
			}
		}()
	}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				mu.Lock()
				next := cur.Load().Clone()
				_ = next.Set("category.create", policy.Names[i%len(policy.Names)])
				_ = next.Set("branches", "+>"+dir+"/b")
				_ = next.Set("branches", "->")
				_ = next.Set("minfreespace", strconv.Itoa(i))
				cur.Store(next)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got, _ := cur.Load().Get("branches"); got != dir+"/a=RW" {
		t.Errorf("branches = %q", got)
	}
}
