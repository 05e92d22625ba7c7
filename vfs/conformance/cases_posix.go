package conformance

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// px builds a POSIX case: one RW branch on the shared filesystem, default
// options, run against the Linux oracle and every union target alike.
func px(name string, layout []string, op Op, want Expect, place ...Where) Case {
	return Case{Name: "posix/" + name, Branches: bs(rw(layout...)), Opts: o(), Op: op, Want: want, Place: place, POSIX: true}
}

// L is a layout.
func L(lines ...string) []string { return lines }

func manyFiles(n int) []string {
	var l []string
	for i := 0; i < n; i++ {
		l = append(l, fmt.Sprintf("d/entry-with-a-longish-name-%03d", i))
	}
	return l
}

func manyNames(n int) []string {
	var l []string
	for i := 0; i < n; i++ {
		l = append(l, fmt.Sprintf("entry-with-a-longish-name-%03d", i))
	}
	return l
}

func posixCases() []Case {
	ok := Expect{}
	cs := []Case{
		// stat / lstat / access
		px("lstat-file", L("f=hello"), lstat("f"), st("f 0644 size=5 nlink=1 uid=0 gid=0")),
		px("lstat-dir", L("d/:0750"), lstat("d"), st("d 0750")),
		px("lstat-root", nil, lstat(""), st("d 0755")),
		px("lstat-symlink", L("f=hi", "l -> f"), lstat("l"), st("l size=1")),
		px("stat-follows-symlink", L("f=hi", "l -> f"), stat("l"), st("f size=2")),
		px("stat-symlink-chain", L("f=abc", "l1 -> f", "l2 -> l1"), stat("l2"), st("f size=3")),
		px("stat-missing", nil, lstat("nope"), fail(unix.ENOENT)),
		px("stat-missing-parent", nil, lstat("d/x"), fail(unix.ENOENT)),
		px("stat-through-file", L("f"), lstat("f/x"), fail(unix.ENOTDIR)),
		px("stat-trailing-slash-on-file", L("f"), lstat("f/"), fail(unix.ENOTDIR)),
		px("stat-dangling-symlink", L("l -> nope"), stat("l"), fail(unix.ENOENT)),
		px("stat-symlink-loop", L("a -> b", "b -> a"), stat("a"), fail(unix.ELOOP)),
		px("stat-mtime", L("f @1000000"), lstat("f"), st("f mtime=1000000")),
		px("stat-owner", L("f ~1234:5678"), lstat("f"), st("f uid=1234 gid=5678")),
		px("lstat-fifo", L("p|:0600"), lstat("p"), st("p 0600")),
		px("access-exists", L("f"), access("f", unix.F_OK), ok),
		px("access-missing", nil, access("f", unix.F_OK), fail(unix.ENOENT)),

		// open + read
		px("read-file", L("f=hello"), read("f"), out("hello")),
		px("read-empty", L("f"), read("f"), out("")),
		px("read-via-symlink-dir", L("d/f=x", "l -> d"), read("l/f"), out("x")),
		px("read-via-symlink", L("f=x", "l -> f"), read("l"), out("x")),
		px("read-missing", nil, read("f"), fail(unix.ENOENT)),
		px("read-missing-parent", nil, read("d/f"), fail(unix.ENOENT)),
		px("read-nofollow-symlink", L("f=x", "l -> f"), readf("l", unix.O_NOFOLLOW), fail(unix.ELOOP)),
		px("read-dir", L("d/"), read("d"), fail(unix.EISDIR)),
		px("read-o-directory-on-file", L("f"), readf("f", unix.O_DIRECTORY), fail(unix.ENOTDIR)),
		px("open-dir-for-write", L("d/"), openw("d", 0, ""), fail(unix.EISDIR)),

		// create + write
		px("create", L("d/"), create("d/f", "data"), ok, at("d/f", 0).file("data").perm(0o644)),
		px("create-mode", nil, createm("f", 0o600, ""), ok, at("f", 0).file("").perm(0o600)),
		px("create-excl-exists", L("f=old"), create("f", "new"), fail(unix.EEXIST), at("f", 0).file("old")),
		px("create-excl-dir", L("d/"), create("d", ""), fail(unix.EEXIST)),
		px("create-excl-on-symlink", L("l -> f"), create("l", ""), fail(unix.EEXIST), nowhere("f")),
		px("create-missing-parent", nil, create("d/f", ""), fail(unix.ENOENT), nowhere("d")),
		px("create-parent-is-file", L("f"), create("f/g", ""), fail(unix.ENOTDIR)),
		px("create-trunc-existing", L("f=old content"), openw("f", unix.O_CREAT|unix.O_TRUNC, "new"), ok, at("f", 0).file("new")),
		px("create-existing-dir", L("d/"), openw("d", unix.O_CREAT, ""), fail(unix.EISDIR)),
		px("create-through-dangling-symlink", L("l -> f"), openw("l", unix.O_CREAT, "x"), ok,
			at("f", 0).file("x"), at("l", 0).link("f")),
		px("write-existing-no-trunc", L("f=abcdef"), openw("f", 0, "XY"), ok, at("f", 0).file("XYcdef")),
		px("write-missing-no-creat", nil, openw("f", 0, "x"), fail(unix.ENOENT), nowhere("f")),
		px("write-rdwr", L("f=abc"), Op{Kind: "write", Path: "f", Flags: unix.O_RDWR, Data: "Z"}, ok, at("f", 0).file("Zbc")),

		// mkdir / mknod
		px("mkdir", nil, mkdir("d", 0o750), ok, at("d", 0).dir().perm(0o750)),
		px("mkdir-nested", L("a/"), mkdir("a/b", 0o700), ok, at("a/b", 0).dir().perm(0o700)),
		px("mkdir-exists", L("d/"), mkdir("d", 0o755), fail(unix.EEXIST)),
		px("mkdir-over-file", L("f"), mkdir("f", 0o755), fail(unix.EEXIST)),
		px("mkdir-over-dangling-symlink", L("l -> nope"), mkdir("l", 0o755), fail(unix.EEXIST), nowhere("nope")),
		px("mkdir-missing-parent", nil, mkdir("a/b", 0o755), fail(unix.ENOENT), nowhere("a")),
		px("mkdir-under-file", L("f"), mkdir("f/d", 0o755), fail(unix.ENOTDIR)),
		px("mknod-fifo", nil, mkfifo("p", 0o640), ok, at("p", 0).fifo().perm(0o640)),
		px("mknod-exists", L("f"), mkfifo("f", 0o644), fail(unix.EEXIST)),
		px("mknod-missing-parent", nil, mkfifo("d/p", 0o644), fail(unix.ENOENT)),

		// symlink / readlink
		px("symlink", nil, symlink("target", "l"), ok, at("l", 0).link("target")),
		px("symlink-absolute-target", nil, symlink("/abs/where", "l"), ok, at("l", 0).link("/abs/where")),
		px("symlink-exists", L("f"), symlink("x", "f"), fail(unix.EEXIST)),
		px("symlink-missing-parent", nil, symlink("x", "d/l"), fail(unix.ENOENT)),
		px("readlink", L("l -> some/where"), readlink("l"), out("some/where")),
		px("readlink-file", L("f"), readlink("f"), fail(unix.EINVAL)),
		px("readlink-dir", L("d/"), readlink("d"), fail(unix.EINVAL)),
		px("readlink-missing", nil, readlink("l"), fail(unix.ENOENT)),

		// link
		{Name: "posix/link", Branches: bs(rw("f=x")), Opts: o(), POSIX: true,
			Op: link("f", "g"), After: []Step{{lstat("g"), st("f nlink=2 size=1")}},
			Place: places(at("f", 0).file("x"), at("g", 0).file("x"))},
		px("link-exists", L("f", "g"), link("f", "g"), fail(unix.EEXIST)),
		px("link-dir", L("d/"), link("d", "e"), fail(unix.EPERM), nowhere("e")),
		px("link-missing", nil, link("f", "g"), fail(unix.ENOENT)),
		px("link-missing-new-parent", L("f"), link("f", "d/g"), fail(unix.ENOENT)),
		px("link-symlink-itself", L("l -> nope"), link("l", "m"), ok, at("m", 0).link("nope")),

		// unlink / rmdir
		px("unlink", L("f"), unlink("f"), ok, nowhere("f")),
		px("unlink-dir", L("d/"), unlink("d"), fail(unix.EISDIR), at("d", 0)),
		px("unlink-missing", nil, unlink("f"), fail(unix.ENOENT)),
		px("unlink-missing-parent", nil, unlink("d/f"), fail(unix.ENOENT)),
		px("unlink-symlink-keeps-target", L("f", "l -> f"), unlink("l"), ok, nowhere("l"), at("f", 0)),
		px("unlink-fifo", L("p|"), unlink("p"), ok, nowhere("p")),
		px("rmdir", L("d/"), rmdir("d"), ok, nowhere("d")),
		px("rmdir-not-empty", L("d/f"), rmdir("d"), fail(unix.ENOTEMPTY), at("d/f", 0)),
		px("rmdir-file", L("f"), rmdir("f"), fail(unix.ENOTDIR), at("f", 0)),
		px("rmdir-missing", nil, rmdir("d"), fail(unix.ENOENT)),
		px("rmdir-symlink-to-dir", L("d/", "l -> d"), rmdir("l"), fail(unix.ENOTDIR), at("l", 0), at("d", 0)),

		// rename
		px("rename-file", L("a=x"), rename("a", "b"), ok, nowhere("a"), at("b", 0).file("x")),
		px("rename-into-dir", L("a=x", "d/"), rename("a", "d/a"), ok, nowhere("a"), at("d/a", 0).file("x")),
		px("rename-over-file", L("a=new", "b=old"), rename("a", "b"), ok, nowhere("a"), at("b", 0).file("new")),
		px("rename-file-over-dir", L("a", "d/"), rename("a", "d"), fail(unix.EISDIR), at("a", 0), at("d", 0).dir()),
		px("rename-dir-over-file", L("d/", "f"), rename("d", "f"), fail(unix.ENOTDIR), at("d", 0).dir(), at("f", 0).file("")),
		px("rename-dir-over-empty-dir", L("d/x", "e/"), rename("d", "e"), ok, nowhere("d"), at("e/x", 0)),
		px("rename-dir-over-nonempty-dir", L("d/", "e/x"), rename("d", "e"), fail(unix.ENOTEMPTY), at("d", 0), at("e/x", 0)),
		px("rename-dir-into-itself", L("d/"), rename("d", "d/sub"), fail(unix.EINVAL), at("d", 0), nowhere("d/sub")),
		px("rename-missing", nil, rename("a", "b"), fail(unix.ENOENT)),
		px("rename-missing-dest-parent", L("a"), rename("a", "d/b"), fail(unix.ENOENT), at("a", 0)),
		px("rename-same-name", L("a=x"), rename("a", "a"), ok, at("a", 0).file("x")),
		px("rename-symlink", L("l -> t"), rename("l", "m"), ok, nowhere("l"), at("m", 0).link("t")),
		px("rename-noreplace", L("a=1"), rename2("a", "b", unix.RENAME_NOREPLACE), ok, nowhere("a"), at("b", 0).file("1")),
		px("rename-noreplace-exists", L("a=1", "b=2"), rename2("a", "b", unix.RENAME_NOREPLACE), fail(unix.EEXIST),
			at("a", 0).file("1"), at("b", 0).file("2")),
		px("rename-exchange", L("a=1", "b=2"), rename2("a", "b", unix.RENAME_EXCHANGE), ok,
			at("a", 0).file("2"), at("b", 0).file("1")),
		px("rename-exchange-file-and-dir", L("a=1", "d/x"), rename2("a", "d", unix.RENAME_EXCHANGE), ok,
			at("a/x", 0), at("d", 0).file("1")),
		px("rename-exchange-missing", L("a=1"), rename2("a", "b", unix.RENAME_EXCHANGE), fail(unix.ENOENT), at("a", 0).file("1")),

		// chmod / chown / utimens / truncate
		px("chmod", L("f"), chmod("f", 0o600), ok, at("f", 0).perm(0o600)),
		px("chmod-dir", L("d/"), chmod("d", 0o700), ok, at("d", 0).perm(0o700)),
		px("chmod-setgid-sticky", L("d/"), chmod("d", 0o3775), ok, at("d", 0).perm(0o3775)),
		px("chmod-follows-symlink", L("f", "l -> f"), chmod("l", 0o600), ok, at("f", 0).perm(0o600)),
		px("chmod-missing", nil, chmod("f", 0o600), fail(unix.ENOENT)),
		px("lchown", L("f"), lchown("f", 1000, 1001), ok, at("f", 0).owner(1000, 1001)),
		px("lchown-keep-gid", L("f ~5:6"), lchown("f", 7, -1), ok, at("f", 0).owner(7, 6)),
		px("lchown-symlink-itself", L("f", "l -> f"), lchown("l", 1000, 1000), ok,
			at("l", 0).owner(1000, 1000), at("f", 0).owner(0, 0)),
		px("lchown-missing", nil, lchown("f", 1, 1), fail(unix.ENOENT)),
		px("utimens", L("f"), utimens("f", 1000, 2000), ok, at("f", 0).mtime(2000)),
		px("utimens-omit-mtime", L("f @5000"), utimens("f", 1000, omitTime), ok, at("f", 0).mtime(5000)),
		px("utimens-symlink-itself", L("f @5000", "l -> f"), utimens("l", 1, 7000), ok,
			at("l", 0).mtime(7000), at("f", 0).mtime(5000)),
		px("utimens-missing", nil, utimens("f", 1, 2), fail(unix.ENOENT)),
		px("truncate-shrink", L("f=hello"), truncate("f", 2), ok, at("f", 0).file("he")),
		px("truncate-extend", L("f=hi"), truncate("f", 4), ok, at("f", 0).file("hi\x00\x00")),
		px("truncate-dir", L("d/"), truncate("d", 0), fail(unix.EISDIR)),
		px("truncate-missing", nil, truncate("f", 0), fail(unix.ENOENT)),
		px("truncate-follows-symlink", L("f=hello", "l -> f"), truncate("l", 1), ok, at("f", 0).file("h")),
		px("truncate-negative", L("f=hello"), truncate("f", -1), fail(unix.EINVAL), at("f", 0).file("hello")),

		// readdir
		px("readdir", L("d/a", "d/b/", "d/c -> a", "d/b/inner"), readdir("d"),
			Expect{Names: []string{"a", "b", "c"}, Types: map[string]byte{"a": 'f', "b": 'd', "c": 'l'}}),
		px("readdir-root", L("x", "y/"), readdir(""), names("x", "y")),
		px("readdir-empty", L("d/"), readdir("d"), names()),
		px("readdir-many", manyFiles(120), readdir("d"), names(manyNames(120)...)),
		px("readdir-file", L("f"), readdir("f"), fail(unix.ENOTDIR)),
		px("readdir-missing", nil, readdir("d"), fail(unix.ENOENT)),
		px("readdir-via-symlink", L("d/x", "l -> d"), readdir("l"), names("x")),

		// xattrs
		{Name: "posix/setxattr-getxattr", Branches: bs(rw("f")), Opts: o(), POSIX: true,
			Op: setxattr("f", "user.k", "v", 0), After: []Step{{getxattr("f", "user.k"), out("v")}},
			Place: places(at("f", 0).xattr("user.k", "v"))},
		px("getxattr", L("f [user.k=val]"), getxattr("f", "user.k"), out("val")),
		px("getxattr-dir", L("d/ [user.k=dv]"), getxattr("d", "user.k"), out("dv")),
		px("getxattr-size", L("f [user.k=val]"), getxattrN("f", "user.k", 0), Expect{N: num(3)}),
		px("getxattr-erange", L("f [user.k=value]"), getxattrN("f", "user.k", 2), fail(unix.ERANGE)),
		px("getxattr-missing-attr", L("f"), getxattr("f", "user.nope"), fail(unix.ENODATA)),
		px("getxattr-missing-file", nil, getxattr("f", "user.k"), fail(unix.ENOENT)),
		px("listxattr", L("f [user.a=1] [user.b=2]"), listxattr("f"), Expect{Has: []string{"user.a", "user.b"}}),
		px("listxattr-size", L("f [user.a=1]"), Op{Kind: "listxattr", Path: "f", Buf: 0}, Expect{N: num(7)}),
		px("listxattr-erange", L("f [user.a=1]"), Op{Kind: "listxattr", Path: "f", Buf: 3}, fail(unix.ERANGE)),
		px("setxattr-create-exists", L("f [user.k=1]"), setxattr("f", "user.k", "2", unix.XATTR_CREATE), fail(unix.EEXIST),
			at("f", 0).xattr("user.k", "1")),
		px("setxattr-replace-missing", L("f"), setxattr("f", "user.k", "2", unix.XATTR_REPLACE), fail(unix.ENODATA)),
		px("setxattr-replace", L("f [user.k=1]"), setxattr("f", "user.k", "2", unix.XATTR_REPLACE), ok,
			at("f", 0).xattr("user.k", "2")),
		px("setxattr-user-on-symlink", L("l -> x"), setxattr("l", "user.k", "v", 0), fail(unix.EPERM)),
		px("setxattr-missing-file", nil, setxattr("f", "user.k", "v", 0), fail(unix.ENOENT)),
		{Name: "posix/removexattr", Branches: bs(rw("f [user.k=1]")), Opts: o(), POSIX: true,
			Op: removexattr("f", "user.k"), After: []Step{{getxattr("f", "user.k"), fail(unix.ENODATA)}}},
		px("removexattr-missing", L("f"), removexattr("f", "user.k"), fail(unix.ENODATA)),

		// statfs
		px("statfs", nil, statfs(""), Expect{Statfs: &StatfsWant{Sum: []int{0}}}),
		px("statfs-missing", nil, statfs("nope"), fail(unix.ENOENT)),
	}
	return cs
}
