package conformance

import (
	"strings"

	"golang.org/x/sys/unix"
)

// readdirCases: merged listings (MERGERFS.md §4.8).
func readdirCases() []Case {
	c := func(name string, br []Branch, opts []string, op Op, want Expect) Case {
		return Case{Name: "readdir/" + name, Branches: br, Opts: opts, Op: op, Want: want}
	}
	merged := func() []Branch {
		return bs(rw("d/a", "d/same=0", "d/sub/"), ro("d/b", "d/same=1"), nc("d/c -> a", "d/sub/x"))
	}
	return []Case{
		c("merge-dedupe", merged(), o(), readdir("d"), Expect{Names: []string{"a", "b", "c", "same", "sub"},
			Types: map[string]byte{"a": 'f', "b": 'f', "c": 'l', "same": 'f', "sub": 'd'}}),
		c("first-branch-wins-dtype", bs(rw("x"), rw("x/")), o(), readdir(""),
			Expect{Names: []string{"x"}, Types: map[string]byte{"x": 'f'}}),
		c("first-branch-wins-dtype-dir", bs(rw("x/"), rw("x")), o(), readdir(""),
			Expect{Names: []string{"x"}, Types: map[string]byte{"x": 'd'}}),
		c("dir-on-one-branch", bs(rw(), rw("d/only"), rw()), o(), readdir("d"), names("only")),
		c("empty-everywhere", bs(rw("d/"), rw("d/")), o(), readdir("d"), names()),
		c("missing-enoent", bs(rw(), rw()), o(), readdir("d"), fail(unix.ENOENT)),
		c("root-hides-control-file", bs(rw(".mergerfs=real", "x"), rw("y")), o(), readdir(""),
			Expect{Names: []string{"x", "y"}, Lacks: []string{".mergerfs"}}),
		c("subdir-lists-dot-mergerfs-name", bs(rw("d/.mergerfs"), rw()), o(), readdir("d"), names(".mergerfs")),
		c("many-across-branches", bs(rw(manyFiles(70)[:40]...), rw(manyFiles(70)[30:]...)), o(), readdir("d"),
			names(manyNames(70)...)),
		c("cosr-same-as-seq", merged(), o("func.readdir=cosr"), readdir("d"),
			Expect{Names: []string{"a", "b", "c", "same", "sub"}, Types: map[string]byte{"same": 'f', "c": 'l'}}),
		c("cosr-threads", merged(), o("func.readdir=cosr:2:1"), readdir("d"),
			Expect{Names: []string{"a", "b", "c", "same", "sub"}}),
		c("cor-names", merged(), o("func.readdir=cor"), readdir("d"), Expect{Names: []string{"a", "b", "c", "same", "sub"}}),
		c("missing-branch-skipped", bs(rw().missing(), rw("d/x")), o(), readdir("d"), names("x")),
		{Name: "readdir/no-branch-placeholder", Doc: "no branch holds the root: one fake entry, and a fake root",
			Branches: bs(rw().missing(), rw().missing()), Opts: o(), Op: readdir(""),
			Want:  names("error: no valid mergerfs branch found, check config"),
			After: []Step{{lstat(""), st("d 0755")}}},
	}
}

// statfsCases: summing per device (MERGERFS.md §4.9).
func statfsCases() []Case {
	c := func(name string, br []Branch, opts []string, p string, sum []int, noAvail ...int) Case {
		return Case{Name: "statfs/" + name, Branches: br, Opts: opts, Op: statfs(p),
			Want: Expect{Statfs: &StatfsWant{Sum: sum, NoAvail: noAvail}}}
	}
	return []Case{
		c("same-device-counted-once", bs(rw(), rw(), ro()), o(), "", []int{0}),
		c("tmpfs-summed", bs(rw().tmpfs("8M"), rw().tmpfs("16M")), o(), "", []int{0, 1}),
		c("shared-and-tmpfs-summed", bs(rw(), rw().tmpfs("8M"), rw()), o(), "", []int{0, 1}),
		c("path-ignored-in-base-mode", bs(rw("d/").tmpfs("8M"), rw().tmpfs("16M")), o(), "d", []int{0, 1}),
		c("full-only-where-path-exists", bs(rw().tmpfs("8M"), rw("d/").tmpfs("16M"), rw("d/").tmpfs("4M")),
			o("statfs=full"), "d", []int{1, 2}),
		c("full-root", bs(rw().tmpfs("8M"), rw().tmpfs("16M")), o("statfs=full"), "", []int{0, 1}),
		c("ignore-ro-zeroes-ro-and-nc", bs(rw().tmpfs("8M"), ro().tmpfs("16M"), nc().tmpfs("4M")), o("statfs-ignore=ro"),
			"", []int{0, 1, 2}, 1, 2),
		c("ignore-nc-zeroes-nc-only", bs(rw().tmpfs("8M"), ro().tmpfs("16M"), nc().tmpfs("4M")), o("statfs-ignore=nc"),
			"", []int{0, 1, 2}, 2),
		c("ignore-none", bs(rw().tmpfs("8M"), ro().tmpfs("16M"), nc().tmpfs("4M")), o("statfs-ignore=none"),
			"", []int{0, 1, 2}),
		c("missing-branch-skipped", bs(rw().missing(), rw().tmpfs("8M")), o(), "", []int{1}),
		c("rofs-tagged-ro-always-ignored", bs(rw().tmpfs("8M"), ro().tmpfs("16M").rofs()), o(), "", []int{0, 1}, 1),
		c("rofs-tagged-rw-counted", bs(rw().tmpfs("8M"), rw().tmpfs("16M").rofs()), o(), "", []int{0, 1}),
		c("used-space-reported", bs(rw("fill=*3M").tmpfs("8M"), rw("fill=*1M").tmpfs("4M")), o(), "", []int{0, 1}),
	}
}

// controlCases: the .mergerfs control file (MERGERFS.md §4.10).
func controlCases() []Case {
	ok := Expect{}
	const cf = ".mergerfs"
	c := func(name string, br []Branch, opts []string, op Op, want Expect, after ...Step) Case {
		return Case{Name: "control/" + name, Branches: br, Opts: opts, Op: op, Want: want, After: after}
	}
	two := func() []Branch { return bs(rw("a=0"), ro("a=1", "b=1")) }
	key := func(k string) string { return "user.mergerfs." + k }
	return []Case{
		c("stat", two(), o(), lstat(cf), st("f 0664 size=0 nlink=1")),
		c("stat-follow", two(), o(), stat(cf), st("f 0664 size=0")),
		c("listxattr-keys", two(), o(), listxattr(cf), Expect{
			Has: []string{key("branches"), key("minfreespace"), key("category.create"), key("category.action"),
				key("category.search"), key("func.getattr"), key("func.readdir"), key("moveonenospc"), key("version"),
				key("pid"), key("statfs-ignore"), key("xattr")},
			Lacks: []string{key("srcmounts"), key("cmd.gc"), key("basepath")}}),
		c("getxattr-category", two(), o("category.create=ff"), getxattr(cf, key("category.create")), out("ff")),
		c("getxattr-category-mixed", two(), o("category.create=ff", "func.mkdir=mfs"), getxattr(cf, key("category.create")),
			out("ff,mfs")),
		c("getxattr-action-default", two(), o(), getxattr(cf, key("category.action")), out("epall")),
		c("getxattr-create-default-pfrd", two(), o(), getxattr(cf, key("func.create")), out("pfrd")),
		c("getxattr-minfreespace", two(), o(), getxattr(cf, key("minfreespace")), out("1048576")),
		c("getxattr-minfreespace-default", two(), nil, getxattr(cf, key("minfreespace")), out("4294967295")),
		c("getxattr-branches", two(), o(), getxattr(cf, key("branches")), out("{0}=RW:{1}=RO")),
		c("getxattr-branches-own-minfree", bs(rw(), nc().minfree("2G")), o(), getxattr(cf, key("branches")), out("{0}=RW:{1}=NC,2G")),
		c("getxattr-srcmounts-hidden-but-readable", two(), o(), getxattr(cf, key("srcmounts")), out("{0}:{1}")),
		c("getxattr-underscore-normalised", two(), o(), getxattr(cf, key("cache.negative_entry")), out("0")),
		c("getxattr-unknown-key-enodata", two(), o(), getxattr(cf, key("nosuchkey")), fail(unix.ENODATA)),
		c("getxattr-foreign-name-enodata", two(), o(), getxattr(cf, "user.other"), fail(unix.ENODATA)),
		c("getxattr-size", two(), o("category.create=epmfs"), getxattrN(cf, key("func.create"), 0), Expect{N: num(5)}),
		c("getxattr-erange", two(), o("category.create=epmfs"), getxattrN(cf, key("func.create"), 2), fail(unix.ERANGE)),
		{Name: "control/setxattr-category-create", Branches: bs(rw("d/"), rw("d/")), Opts: o("category.create=lfs"),
			Op: setxattr(cf, key("category.create"), "ff", 0),
			After: []Step{{getxattr(cf, key("func.create")), out("ff")}, {getxattr(cf, key("func.mkdir")), out("ff")},
				{create("d/f", "x"), ok}},
			Place: places(at("d/f", 0))},
		c("setxattr-func-getattr", bs(rw("f=0"), rw("f=11")), o(), setxattr(cf, key("func.getattr"), "lfs", 0), ok,
			Step{getxattr(cf, key("func.getattr")), out("lfs")}),
		c("setxattr-minfreespace", two(), o(), setxattr(cf, key("minfreespace"), "2M", 0), ok,
			Step{getxattr(cf, key("minfreespace")), out("2097152")}),
		{Name: "control/setxattr-branches-remove", Branches: bs(rw("a=0"), rw("only1=1")), Opts: o(),
			Op:    setxattr(cf, key("branches"), "-{1}", 0),
			After: []Step{{read("only1"), fail(unix.ENOENT)}, {getxattr(cf, key("branches")), out("{0}=RW")}}},
		{Name: "control/setxattr-branches-replace", Branches: bs(rw("a=0"), rw("only1=1")), Opts: o(),
			Op:    setxattr(cf, key("branches"), "{1}=RO", 0),
			After: []Step{{read("only1"), out("1")}, {read("a"), fail(unix.ENOENT)}, {getxattr(cf, key("branches")), out("{1}=RO")}}},
		c("setxattr-readonly-key-erofs", two(), o(), setxattr(cf, key("async-read"), "false", 0), fail(unix.EROFS)),
		c("setxattr-version-erofs", two(), o(), setxattr(cf, key("version"), "1", 0), fail(unix.EROFS)),
		c("setxattr-pid-erofs", two(), o(), setxattr(cf, key("pid"), "1", 0), fail(unix.EROFS)),
		c("setxattr-bad-value-einval", two(), o(), setxattr(cf, key("category.create"), "bogus", 0), fail(unix.EINVAL),
			Step{getxattr(cf, key("func.create")), out("pfrd")}),
		c("setxattr-bad-minfreespace-einval", two(), o(), setxattr(cf, key("minfreespace"), "12Q", 0), fail(unix.EINVAL)),
		c("setxattr-eplup-einval", two(), o(), setxattr(cf, key("func.create"), "eplup", 0), fail(unix.EINVAL)),
		c("setxattr-unknown-key-enodata", two(), o(), setxattr(cf, key("nosuchkey"), "1", 0), fail(unix.ENODATA)),
		c("setxattr-foreign-name-enodata", two(), o(), setxattr(cf, "user.other", "1", 0), fail(unix.ENODATA)),
		c("setxattr-create-flag-eexist", two(), o(), setxattr(cf, key("minfreespace"), "2M", unix.XATTR_CREATE), fail(unix.EEXIST),
			Step{getxattr(cf, key("minfreespace")), out("1048576")}),
		{Name: "control/setxattr-create-flag-unknown-key-enodata", Doc: "mergerfs checks the key before XATTR_CREATE",
			Branches: two(), Opts: o(), Op: setxattr(cf, key("nosuchkey"), "1", unix.XATTR_CREATE), Want: fail(unix.ENODATA)},
		c("setxattr-cmd-gc", two(), o(), setxattr(cf, key("cmd.gc"), "", 0), ok),
		c("setxattr-cmd-unknown-enodata", two(), o(), setxattr(cf, key("cmd.nosuch"), "", 0), fail(unix.ENODATA)),
		c("works-with-xattr-nosys", two(), o("xattr=nosys"), getxattr(cf, key("xattr")), out("nosys")),
		c("create-eexist", two(), o(), create(cf, ""), fail(unix.EEXIST)),
		c("mkdir-eexist", two(), o(), mkdir(cf, 0o755), fail(unix.EEXIST)),
	}
}

// pathKeyCases: user.mergerfs.basepath|relpath|fullpath|allpaths on any path.
func pathKeyCases() []Case {
	c := func(name string, br []Branch, opts []string, op Op, want Expect) Case {
		return Case{Name: "pathkeys/" + name, Branches: br, Opts: opts, Op: op, Want: want}
	}
	k := func(s string) string { return "user.mergerfs." + s }
	spread := func() []Branch { return bs(rw("d/"), rw("d/f=1"), ro("d/f=2")) }
	return []Case{
		c("basepath", spread(), o(), getxattr("d/f", k("basepath")), out("{1}")),
		c("relpath", spread(), o(), getxattr("d/f", k("relpath")), out("/d/f")),
		c("fullpath", spread(), o(), getxattr("d/f", k("fullpath")), out("{1}/d/f")),
		c("allpaths-nul-separated", spread(), o(), getxattr("d/f", k("allpaths")), out("{1}/d/f\x00{2}/d/f")),
		c("allpaths-dir", spread(), o(), getxattr("d", k("allpaths")), out("{0}/d\x00{1}/d\x00{2}/d")),
		c("basepath-follows-func-getxattr", bs(rw("f @100"), rw("f @300"), rw("f @200")), o("func.getxattr=newest"),
			getxattr("f", k("basepath")), out("{1}")),
		c("fullpath-dir", spread(), o(), getxattr("d", k("fullpath")), out("{0}/d")),
		c("size-query", spread(), o(), getxattrN("d/f", k("relpath"), 0), Expect{N: num(4)}),
		c("erange", spread(), o(), getxattrN("d/f", k("relpath"), 2), fail(unix.ERANGE)),
		c("missing-path-enoent", spread(), o(), getxattr("d/nope", k("relpath")), fail(unix.ENOENT)),
		c("basepath-missing-enoent", spread(), o(), getxattr("nope", k("basepath")), fail(unix.ENOENT)),
		{Name: "pathkeys/unknown-key-enodata", Doc: "every user.mergerfs.* name on a path is answered by mergerfs, never by the branch file",
			Branches: bs(rw("f [user.mergerfs.custom=x]")), Opts: o(), Op: getxattr("f", k("custom")), Want: fail(unix.ENODATA)},
		c("not-listed", spread(), o(), listxattr("d/f"), Expect{Lacks: []string{k("basepath"), k("relpath"), k("fullpath"), k("allpaths")}}),
		c("noattr-hides-them", spread(), o("xattr=noattr"), getxattr("d/f", k("basepath")), fail(unix.ENODATA)),
		c("nosys-hides-them", spread(), o("xattr=nosys"), getxattr("d/f", k("basepath")), fail(unix.ENOSYS)),
	}
}

// xattrCases: xattr= and security-capability= (MERGERFS.md §2.3).
func xattrCases() []Case {
	ok := Expect{}
	c := func(name string, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: "xattr/" + name, Branches: bs(rw("f [user.k=v]"), rw("f [user.k=w]")), Opts: opts,
			Op: op, Want: want, Place: place}
	}
	return []Case{
		c("passthrough-get", o(), getxattr("f", "user.k"), out("v")),
		c("noattr-get", o("xattr=noattr"), getxattr("f", "user.k"), fail(unix.ENODATA)),
		c("noattr-set", o("xattr=noattr"), setxattr("f", "user.k", "x", 0), fail(unix.ENODATA), in("f", 0).xattr("user.k", "v")),
		c("noattr-remove", o("xattr=noattr"), removexattr("f", "user.k"), fail(unix.ENODATA), in("f", 0).xattr("user.k", "v")),
		c("noattr-list-empty", o("xattr=noattr"), listxattr("f"), Expect{N: num(0)}),
		c("nosys-get", o("xattr=nosys"), getxattr("f", "user.k"), fail(unix.ENOSYS)),
		c("nosys-set", o("xattr=nosys"), setxattr("f", "user.k", "x", 0), fail(unix.ENOSYS), in("f", 0).xattr("user.k", "v")),
		c("nosys-list", o("xattr=nosys"), listxattr("f"), fail(unix.ENOSYS)),
		c("nosys-remove", o("xattr=nosys"), removexattr("f", "user.k"), fail(unix.ENOSYS)),
		c("security-capability-off-get", o("security-capability=false"), getxattr("f", "security.capability"), fail(unix.ENODATA)),
		c("security-capability-off-set", o("security-capability=false"),
			setxattr("f", "security.capability", "\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 0),
			fail(unix.ENODATA)),
		c("security-capability-off-other-names-pass", o("security-capability=false"), getxattr("f", "user.k"), out("v")),
		c("security-capability-on-passes-through", o(), getxattr("f", "security.capability"), fail(unix.ENODATA)),
		c("set-then-get", o(), setxattr("f", "user.n", "1", 0), ok, at("f", 0, 1).xattr("user.n", "1")),
	}
}

// symlinkCases: symlinks in the union namespace and follow-symlinks.
func symlinkCases() []Case {
	ok := Expect{}
	c := func(name string, br []Branch, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: name, Branches: br, Opts: opts, Op: op, Want: want, Place: place}
	}
	return []Case{
		c("symlink/resolves-across-branches", bs(rw("lnk -> d"), rw("d/f=x")), o(), read("lnk/f"), out("x")),
		c("symlink/stat-follows-into-other-branch", bs(rw("lnk -> d"), rw("d/")), o(), stat("lnk"), st("d")),
		c("symlink/dotdot-target", bs(rw("a/lnk -> ../b/f"), rw("b/f=x")), o(), read("a/lnk"), out("x")),
		c("symlink/exists-elsewhere-eexist", bs(rw(), rw("l -> x")), o("category.create=ff"), symlink("y", "l"),
			fail(unix.EEXIST), at("l", 1).link("x")),
		c("symlink/mkdir-exists-elsewhere-eexist", bs(rw(), rw("d/")), o("category.create=ff"), mkdir("d", 0o755),
			fail(unix.EEXIST), at("d", 1)),
		c("symlink/mknod-exists-elsewhere-eexist", bs(rw(), rw("p")), o("category.create=ff"), mkfifo("p", 0o644),
			fail(unix.EEXIST), at("p", 1)),
		c("symlink/create-exists-elsewhere-opens-it", bs(rw(), rw("f=old")), o("category.create=ff"),
			openw("f", unix.O_CREAT|unix.O_TRUNC, "new"), ok, at("f", 1).file("new")),
		c("follow/never", bs(rw("d/", "l -> d")), o("follow-symlinks=never"), lstat("l"), st("l")),
		c("follow/directory-dir", bs(rw("d/:0700", "l -> d")), o("follow-symlinks=directory"), lstat("l"), st("d 0700")),
		c("follow/directory-file", bs(rw("f", "l -> f")), o("follow-symlinks=directory"), lstat("l"), st("l")),
		c("follow/regular-file", bs(rw("f=abc", "l -> f")), o("follow-symlinks=regular"), lstat("l"), st("f size=3")),
		c("follow/regular-dir", bs(rw("d/", "l -> d")), o("follow-symlinks=regular"), lstat("l"), st("l")),
		c("follow/all-dir", bs(rw("d/", "l -> d")), o("follow-symlinks=all"), lstat("l"), st("d")),
		c("follow/all-file", bs(rw("f=ab", "l -> f")), o("follow-symlinks=all"), lstat("l"), st("f size=2")),
		c("follow/all-dangling", bs(rw("l -> nope")), o("follow-symlinks=all"), lstat("l"), st("l")),
		c("follow/all-fifo-not-followed", bs(rw("p|", "l -> p")), o("follow-symlinks=all"), lstat("l"), st("l")),
		c("follow/directory-readdir-through-link", bs(rw("d/f=x", "l -> d")), o("follow-symlinks=directory"), readdir("l"),
			names("f")),
		c("follow/regular-open-reads-target", bs(rw("f=x", "l -> f")), o("follow-symlinks=regular"), read("l"), out("x")),
		c("follow/directory-path-through-link", bs(rw("d/f=x", "l -> d")), o("follow-symlinks=directory"), read("l/f"), out("x")),
		{Name: "follow/rmdir-unlinks-followed-link", Doc: "rmdir of a symlink reported as a directory removes the link",
			Branches: bs(rw("d/", "l -> d")), Opts: o("follow-symlinks=directory"), Op: rmdir("l"),
			Place: places(nowhere("l"), at("d", 0).dir())},
		c("follow/all-unlink-removes-link", bs(rw("f=x", "l -> f")), o("follow-symlinks=all"), unlink("l"), ok,
			nowhere("l"), at("f", 0).file("x")),
		c("follow/never-rmdir-link-enotdir", bs(rw("d/", "l -> d")), o(), rmdir("l"), fail(unix.ENOTDIR), at("l", 0)),
	}
}

// inodeCases: inode numbers per front end (inodecalc on a mount, the branch
// file's own st_ino under `mfs run`).
func inodeCases() []Case {
	lnk := func(name, calc string, extra ...string) Case {
		return Case{Name: "inode/" + name, Branches: bs(rw("a=x"), rw()), Opts: o(append([]string{"category.create=ff"}, extra...)...),
			Op: link("a", "b"), Place: places(at("b", 0)),
			After: []Step{{lstat("b"), Expect{Stat: "f nlink=2", Ino: map[InodeMode]string{InodeCalc: calc, InodeReal: "same:a"}}}}}
	}
	file1 := func() []Branch { return bs(rw(), rw("f")) }
	// branchSwitch stats d from branch 0, then switches func.getattr so the
	// same directory is reported from branch 1 (lfs: the smaller tmpfs).
	branchSwitch := func(name, calc string, opts ...string) Case {
		return Case{Name: "inode/" + name, Branches: bs(rw("d/").tmpfs("16M"), rw("d/").tmpfs("8M")), Opts: o(opts...), Op: lstat("d"),
			Want: Expect{Ino: map[InodeMode]string{InodeReal: "branch:0"}},
			After: []Step{
				{setxattr(".mergerfs", "user.mergerfs.func.getattr", "lfs", 0), Expect{}},
				{lstat("d"), Expect{Ino: map[InodeMode]string{InodeCalc: calc, InodeReal: "branch:1"}}},
			}}
	}
	st := func(name string, br []Branch, opts []string, p string, rules map[InodeMode]string) Case {
		return Case{Name: "inode/" + name, Branches: br, Opts: opts, Op: lstat(p), Want: Expect{Ino: rules}}
	}
	return []Case{
		lnk("hybrid-hash-hardlinks-agree", "same:a"),
		lnk("devino-hash-hardlinks-agree", "same:a", "inodecalc=devino-hash"),
		lnk("path-hash-hardlinks-differ", "diff:a", "inodecalc=path-hash"),
		lnk("passthrough-hardlinks-agree", "same:a", "inodecalc=passthrough"),
		st("passthrough-is-branch-ino", file1(), o("inodecalc=passthrough"), "f",
			map[InodeMode]string{InodeCalc: "branch:1", InodeReal: "branch:1"}),
		st("real-ino-from-getattr-branch", bs(rw("f"), rw("f")), o("func.getattr=newest"), "f",
			map[InodeMode]string{InodeReal: "branch:1"}),
		st("path-hash32-fits", file1(), o("inodecalc=path-hash32"), "f", map[InodeMode]string{InodeCalc: "lt32", InodeReal: "branch:1"}),
		st("devino-hash32-fits", file1(), o("inodecalc=devino-hash32"), "f", map[InodeMode]string{InodeCalc: "lt32", InodeReal: "branch:1"}),
		st("hybrid-hash32-fits", file1(), o("inodecalc=hybrid-hash32"), "f", map[InodeMode]string{InodeCalc: "lt32", InodeReal: "branch:1"}),
		branchSwitch("hybrid-hash-dir-keeps-number-across-branches", "prev", "inodecalc=hybrid-hash"),
		branchSwitch("path-hash-dir-keeps-number-across-branches", "prev", "inodecalc=path-hash"),
		branchSwitch("devino-hash-dir-number-follows-branch", "notprev", "inodecalc=devino-hash"),
		{Name: "inode/readdir-agrees-with-stat", Doc: "the runner checks d_ino == st_ino for every entry",
			Branches: bs(rw("d/a", "d/s/"), rw("d/b", "d/a")), Opts: o("inodecalc=hybrid-hash"), Op: readdir("d"),
			Want: names("a", "b", "s")},
		{Name: "inode/readdir-agrees-with-stat-path-hash", Branches: bs(rw("d/a", "d/s/"), rw("d/b")), Opts: o("inodecalc=path-hash"),
			Op: readdir("d"), Want: names("a", "b", "s")},
	}
}

// ioCases: open for write through the union, moveonenospc, link-cow.
func ioCases() []Case {
	ok := Expect{}
	big := strings.Repeat("y", 512<<10)
	return []Case{
		{Name: "io/write-existing-on-second-branch", Branches: bs(rw("d/"), rw("d/f=old")), Opts: o("category.create=ff"),
			Op: openw("d/f", unix.O_TRUNC, "new"), Place: places(at("d/f", 1).file("new"))},
		{Name: "io/open-policy-picks-copy", Doc: "func.open=lfs writes the copy on the fuller branch (sizes differ: on one shared filesystem the figures would tie and race with other writers)",
			Branches: bs(rw("f=0").tmpfs("8M"), rw("f=1").tmpfs("4M")), Opts: o("func.open=lfs"),
			Op: openw("f", 0, "X"), Place: places(in("f", 0).file("0"), in("f", 1).file("X"))},
		{Name: "io/append", Branches: bs(rw("f=ab")), Opts: o(), Op: openw("f", unix.O_APPEND, "cd"),
			Place: places(at("f", 0).file("abcd"))},
		{Name: "io/moveonenospc-moves-file", Doc: "a write that hits ENOSPC moves the file to a branch with room and retries",
			Branches: bs(rw("d/", "d/f=small").tmpfs("256K"), rw().tmpfs("4M")),
			Opts:     o("category.create=ff", "moveonenospc=mfs"), Op: openw("d/f", 0, big), Want: ok,
			Place: places(at("d/f", 1).file(big), at("d", 0, 1))},
		{Name: "io/moveonenospc-off-enospc", Branches: bs(rw("d/", "d/f=small").tmpfs("256K"), rw().tmpfs("4M")),
			Opts: o("category.create=ff", "moveonenospc=false"), Op: openw("d/f", 0, big), Want: fail(unix.ENOSPC),
			Place: places(at("d/f", 0))},
		{Name: "io/link-cow-breaks-hardlink", Branches: bs(rw("f=old")), Opts: o("link-cow=true"),
			Op: link("f", "g"), After: []Step{{openw("g", unix.O_TRUNC, "new"), ok}},
			Place: places(at("f", 0).file("old"), at("g", 0).file("new"))},
		{Name: "io/no-link-cow-writes-through", Branches: bs(rw("f=old")), Opts: o(),
			Op: link("f", "g"), After: []Step{{openw("g", unix.O_TRUNC, "new"), ok}},
			Place: places(at("f", 0).file("new"), at("g", 0).file("new"))},
		{Name: "io/cache-statfs-keeps-stale-choice", Doc: "cache.statfs: policies see the statvfs figures of the first call",
			Branches: bs(rw("d/").tmpfs("4M"), rw("d/").tmpfs("3M")), Opts: o("category.create=mfs", "cache.statfs=3600"),
			Op: create("d/big", strings.Repeat("z", 2<<20)), After: []Step{{create("d/next", "n"), ok}},
			Place: places(at("d/big", 0), at("d/next", 0))},
		{Name: "io/no-cache-statfs-sees-new-space", Branches: bs(rw("d/").tmpfs("4M"), rw("d/").tmpfs("3M")),
			Opts: o("category.create=mfs", "cache.statfs=0"),
			Op:   create("d/big", strings.Repeat("z", 2<<20)), After: []Step{{create("d/next", "n"), ok}},
			Place: places(at("d/big", 0), at("d/next", 1))},
		{Name: "io/read-after-create-through-union", Branches: bs(rw("d/"), rw("d/")), Opts: o("category.create=lfs"),
			Op: create("d/f", "hello"), After: []Step{{read("d/f"), out("hello")}, {lstat("d/f"), st("f 0644 size=5")}}},
	}
}
