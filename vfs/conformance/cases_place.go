package conformance

import (
	"golang.org/x/sys/unix"
)

// filterCases: RO/NC/minfreespace/read-only-fs filtering and the error
// precedence EROFS > ENOSPC > ENOENT (MERGERFS.md §3.2).
func filterCases() []Case {
	ok := Expect{}
	c := func(name string, br []Branch, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: "filter/" + name, Branches: br, Opts: opts, Op: op, Want: want, Place: place}
	}
	return []Case{
		c("create-skips-ro", bs(ro("d/"), rw("d/")), o("category.create=ff"), create("d/f", "x"), ok, at("d/f", 1)),
		c("create-skips-nc", bs(nc("d/"), rw("d/")), o("category.create=ff"), create("d/f", "x"), ok, at("d/f", 1)),
		c("create-all-ro-erofs", bs(ro("d/"), ro("d/")), o("category.create=ff"), create("d/f", "x"), fail(unix.EROFS), nowhere("d/f")),
		c("create-all-nc-erofs", bs(nc("d/"), nc("d/")), o("category.create=mfs"), create("d/f", "x"), fail(unix.EROFS), nowhere("d/f")),
		c("mkdir-all-ro-erofs", bs(ro(), ro()), o("category.create=ff"), mkdir("d", 0o755), fail(unix.EROFS), nowhere("d")),
		c("erofs-beats-enospc", bs(ro("d/"), rw("d/").tmpfs("4M")), []string{"minfreespace=8M", "category.create=ff"},
			create("d/f", "x"), fail(unix.EROFS)),
		c("erofs-beats-enospc-either-order", bs(rw("d/").tmpfs("4M"), ro("d/")), []string{"minfreespace=8M", "category.create=mfs"},
			create("d/f", "x"), fail(unix.EROFS)),
		c("enospc-beats-enoent", bs(rw("d/").tmpfs("4M"), rw().tmpfs("16M")), []string{"minfreespace=8M", "category.create=epff"},
			create("d/f", "x"), fail(unix.ENOSPC), nowhere("d/f")),
		c("enospc-beats-enoent-either-order", bs(rw().tmpfs("16M"), rw("d/").tmpfs("4M")), []string{"minfreespace=8M", "category.create=eplfs"},
			create("d/f", "x"), fail(unix.ENOSPC)),
		c("erofs-beats-enoent", bs(rw(), ro("d/"), rw()), o("category.create=epff"), create("d/f", "x"), fail(unix.EROFS)),
		c("nc-parent-is-erofs", bs(nc("d/"), rw()), o("category.create=epmfs"), create("d/f", "x"), fail(unix.EROFS)),
		c("parent-missing-everywhere-enoent", bs(ro(), rw(), nc()), o("category.create=ff"), create("d/f", "x"), fail(unix.ENOENT)),
		c("minfreespace-global", bs(rw("d/").tmpfs("4M"), rw("d/").tmpfs("16M")), []string{"minfreespace=8M", "category.create=ff"},
			create("d/f", "x"), ok, at("d/f", 1)),
		c("minfreespace-all-full-enospc", bs(rw("d/").tmpfs("4M"), rw("d/").tmpfs("4M")), []string{"minfreespace=8M", "category.create=ff"},
			create("d/f", "x"), fail(unix.ENOSPC), nowhere("d/f")),
		c("minfreespace-counts-used-space", bs(rw("d/", "fill=*6M").tmpfs("12M"), rw("d/").tmpfs("10M")),
			[]string{"minfreespace=8M", "category.create=ff"}, create("d/f", "x"), ok, at("d/f", 1)),
		c("minfreespace-branch-lower-than-global", bs(rw("d/").tmpfs("8M").minfree("1M"), rw("d/").tmpfs("16M")),
			[]string{"minfreespace=100G", "category.create=mfs"}, create("d/f", "x"), ok, at("d/f", 0)),
		c("minfreespace-branch-higher-than-global", bs(rw("d/").tmpfs("8M").minfree("10M"), rw("d/").tmpfs("8M")),
			[]string{"minfreespace=1M", "category.create=ff"}, create("d/f", "x"), ok, at("d/f", 1)),
		c("minfreespace-mkdir-all-skips-full", bs(rw("p/").tmpfs("4M"), rw("p/").tmpfs("16M"), rw("p/").tmpfs("16M")),
			[]string{"minfreespace=8M", "func.mkdir=all"}, mkdir("p/d", 0o755), ok, at("p/d", 1, 2)),
		c("minfreespace-mfs-skips-full-largest", bs(rw("d/").tmpfs("8M"), rw("d/").tmpfs("16M").minfree("20M")),
			o("category.create=mfs"), create("d/f", "x"), ok, at("d/f", 0)),
		c("minfreespace-ignored-by-action", bs(rw("f").tmpfs("4M"), rw("f").tmpfs("4M")), []string{"minfreespace=100G"},
			unlink("f"), ok, nowhere("f")),
		c("minfreespace-ignored-by-search", bs(rw("f=x").tmpfs("4M")), []string{"minfreespace=100G"}, read("f"), out("x")),
		c("default-minfreespace-4g-fills-small-branches", bs(rw("d/").tmpfs("8M"), rw("d/").tmpfs("8M")), nil,
			create("d/f", "x"), fail(unix.ENOSPC)),
		c("rofs-create-skipped", bs(rw("d/").tmpfs("8M").rofs(), rw("d/")), o("category.create=ff"),
			create("d/f", "x"), ok, at("d/f", 1)),
		c("rofs-create-only-erofs", bs(rw("d/").tmpfs("8M").rofs()), o("category.create=ff"), create("d/f", "x"), fail(unix.EROFS)),
		c("rofs-mkdir-all-skips", bs(rw("p/").tmpfs("8M").rofs(), rw("p/")), o("func.mkdir=all"), mkdir("p/d", 0o755), ok,
			at("p/d", 1)),
		c("rofs-action-skipped", bs(rw("f").tmpfs("8M").rofs(), rw("f")), o(), unlink("f"), ok, at("f", 0)),
		c("rofs-action-only-erofs", bs(rw("f").tmpfs("8M").rofs(), rw()), o(), unlink("f"), fail(unix.EROFS), at("f", 0)),
		c("rofs-search-sees-it", bs(rw("f=ro").tmpfs("8M").rofs(), rw()), o(), read("f"), out("ro")),
		c("rofs-open-for-write-erofs", bs(rw("f=ro").tmpfs("8M").rofs(), rw()), o(), openw("f", 0, "x"), fail(unix.EROFS),
			at("f", 0).file("ro")),
		c("action-ro-only-erofs", bs(ro("f"), rw()), o(), unlink("f"), fail(unix.EROFS), at("f", 0)),
		c("action-nc-eligible", bs(nc("f"), rw("f")), o(), unlink("f"), ok, nowhere("f")),
		c("action-chmod-ro-only-erofs", bs(ro("f")), o(), chmod("f", 0o600), fail(unix.EROFS), at("f", 0).perm(0o644)),
		c("search-sees-ro", bs(ro("f=ro"), rw()), o(), read("f"), out("ro")),
		{Name: "filter/ro-branch-file-still-opens-for-write", Doc: "RO only removes a branch from create and action policies; open is a search",
			Branches: bs(ro("f=old"), rw()), Opts: o(), Op: openw("f", unix.O_TRUNC, "new"), Place: places(at("f", 0).file("new"))},
	}
}

// cloneCases: path preservation and clonepath (MERGERFS.md §4.1).
func cloneCases() []Case {
	ok := Expect{}
	c := func(name string, br []Branch, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: "clone/" + name, Branches: br, Opts: opts, Op: op, Want: want, Place: place}
	}
	return []Case{
		c("copies-each-missing-dir-mode", bs(rw(), rw("a/:0700", "a/b/:0750")), o("category.create=ff"),
			create("a/b/f", "x"), ok, at("a/b/f", 0).file("x"), at("a", 0, 1).dir().perm(0o700), at("a/b", 0, 1).perm(0o750)),
		c("copies-owner", bs(rw(), rw("a/ ~1000:1001", "a/b/ ~1002:1003")), o("category.create=ff"),
			create("a/b/f", "x"), ok, at("a", 0, 1).owner(1000, 1001), at("a/b", 0, 1).owner(1002, 1003), at("a/b/f", 0).owner(0, 0)),
		c("copies-xattrs", bs(rw(), rw("a/ [user.tag=blue]")), o("category.create=ff"),
			create("a/f", "x"), ok, at("a", 0, 1).xattr("user.tag", "blue")),
		c("copies-times", bs(rw(), rw("a/ @1000", "a/b/ @2000")), o("category.create=ff"),
			create("a/b/f", "x"), ok, at("a", 0, 1).mtime(1000)),
		c("copies-setgid-sticky", bs(rw(), rw("a/:03775")), o("category.create=ff"),
			create("a/f", "x"), ok, at("a", 0, 1).perm(0o3775)),
		c("keeps-existing-dirs", bs(rw("a/:0711"), rw("a/:0700", "a/b/:0750")), o("category.create=ff"),
			create("a/b/f", "x"), ok, at("a", 0, 1), in("a", 0).perm(0o711), at("a/b", 0, 1).perm(0o750)),
		c("source-is-getattr-branch", bs(rw(), rw("d/:0700 @100"), rw("d/:0711 @200")),
			o("category.create=ff", "func.getattr=newest"), create("d/f", "x"), ok, at("d/f", 0), in("d", 0).perm(0o711)),
		c("ep-never-clones", bs(rw(), rw("a/b/")), o("category.create=epff"), create("a/b/f", "x"), ok,
			at("a/b/f", 1), at("a", 1)),
		c("mkdir-ff", bs(rw(), rw("p/:0700")), o("category.create=ff"), mkdir("p/d", 0o755), ok,
			at("p/d", 0).perm(0o755), at("p", 0, 1).perm(0o700)),
		c("mknod-ff", bs(rw(), rw("p/:0700")), o("category.create=ff"), mkfifo("p/q", 0o644), ok,
			at("p/q", 0).fifo(), at("p", 0, 1).perm(0o700)),
		c("create-into-ro-only-parent", bs(ro("d/:0700"), rw()), o("category.create=ff"), create("d/f", "x"), ok,
			at("d/f", 1), at("d", 0, 1).perm(0o700)),
		c("does-not-clone-into-missing-branch", bs(rw().missing(), rw("d/")), o("category.create=ff"),
			create("d/f", "x"), ok, at("d/f", 1)),
	}
}

// removeCases: unlink and rmdir across branches (MERGERFS.md §4.6).
func removeCases() []Case {
	ok := Expect{}
	c := func(name string, br []Branch, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: name, Branches: br, Opts: opts, Op: op, Want: want, Place: place}
	}
	return []Case{
		c("unlink/epall-every-copy", bs(rw("f"), rw(), rw("f")), o(), unlink("f"), ok, nowhere("f")),
		{Name: "unlink/ro-copy-reappears", Doc: "no whiteouts: the RO branch's copy stays and is visible again",
			Branches: bs(rw("f=rw"), ro("f=ro")), Opts: o(), Op: unlink("f"),
			After: []Step{{read("f"), out("ro")}}, Place: places(at("f", 1))},
		c("unlink/nc-copy-removed", bs(nc("f"), rw("f")), o(), unlink("f"), ok, nowhere("f")),
		c("unlink/all-fail-first-error", bs(rw("x/"), rw("x/")), o(), unlink("x"), fail(unix.EISDIR), at("x", 0, 1)),
		c("unlink/only-on-second", bs(rw("d/"), rw("d/f")), o(), unlink("d/f"), ok, nowhere("d/f"), at("d", 0, 1)),
		{Name: "unlink/union-shows-dir-eisdir", Doc: "the union shows x as a directory: EISDIR as on Linux, and no copy is touched",
			Branches: bs(rw("x/"), rw("x=1")), Opts: o(), Op: unlink("x"), Want: fail(unix.EISDIR),
			Place: places(at("x", 0, 1), in("x", 1).file("1"))},
		c("unlink/missing-everywhere", bs(rw("d/"), rw("d/")), o(), unlink("d/f"), fail(unix.ENOENT)),
		c("rmdir/epall-every-copy", bs(rw("d/"), rw("d/"), rw()), o(), rmdir("d"), ok, nowhere("d")),
		{Name: "rmdir/enotempty-wins-over-success", Doc: "2.42: ENOTEMPTY/EEXIST beat a success on another branch",
			Branches: bs(rw("d/"), rw("d/x")), Opts: o(), Op: rmdir("d"), Want: fail(unix.ENOTEMPTY),
			Place: places(at("d", 1), at("d/x", 1))},
		c("rmdir/enotempty-first-branch", bs(rw("d/x"), rw("d/")), o(), rmdir("d"), fail(unix.ENOTEMPTY), at("d", 0)),
		c("rmdir/ro-copy-stays", bs(rw("d/"), ro("d/")), o(), rmdir("d"), ok, at("d", 1)),
		c("rmdir/ro-only-erofs", bs(ro("d/"), rw()), o(), rmdir("d"), fail(unix.EROFS), at("d", 0)),
		c("rmdir/any-success-wins", bs(rw("d/"), rw("d")), o(), rmdir("d"), ok, at("d", 1).file("")),
		{Name: "rmdir/union-shows-file-enotdir", Doc: "the union shows d as a file: ENOTDIR as on Linux, and no copy is touched",
			Branches: bs(rw("d=1"), rw("d/")), Opts: o(), Op: rmdir("d"), Want: fail(unix.ENOTDIR),
			Place: places(at("d", 0, 1), in("d", 1).dir())},
		c("rmdir/ff-action-first-only", bs(rw("d/"), rw("d/")), o("func.rmdir=ff"), rmdir("d"), ok, at("d", 1)),
		c("rmdir/root-ebusy", bs(rw(), rw()), o(), rmdir(""), fail(unix.EBUSY)),
		c("rmdir/missing", bs(rw(), rw()), o(), rmdir("d"), fail(unix.ENOENT)),
	}
}

// renameCases: both algorithms (MERGERFS.md §4.4) and rename-exdev.
func renameCases() []Case {
	ok := Expect{}
	pp := func(extra ...string) []string { return o(append([]string{"category.create=epff"}, extra...)...) }
	cp := func(extra ...string) []string { return o(append([]string{"category.create=ff"}, extra...)...) }
	c := func(name string, br []Branch, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: "rename/" + name, Branches: br, Opts: opts, Op: op, Want: want, Place: place}
	}
	exdevTarget := "../.mergerfs_rename_exdev/a"
	return []Case{
		// path-preserving
		c("pp-on-every-branch", bs(rw("a=0"), rw("a=1")), pp(), rename("a", "b"), ok,
			nowhere("a"), at("b", 0, 1), in("b", 0).file("0"), in("b", 1).file("1")),
		c("pp-removes-target-elsewhere", bs(rw("a=new"), rw("b=old")), pp(), rename("a", "b"), ok,
			nowhere("a"), at("b", 0).file("new")),
		{Name: "rename/pp-removes-target-on-ro-branch", Doc: "the removal pass visits RO-mode branches too",
			Branches: bs(rw("a=new"), ro("b=old")), Opts: pp(), Op: rename("a", "b"),
			Place: places(nowhere("a"), at("b", 0).file("new"))},
		c("pp-missing-parent-exdev", bs(rw("a=x"), rw("d/")), pp(), rename("a", "d/a"), fail(unix.EXDEV),
			at("a", 0), nowhere("d/a")),
		{Name: "rename/pp-any-failure-is-exdev", Doc: "path-preserving rename turns every total failure into EXDEV " +
			"(here ENOENT: the new parent is not on the branch holding old)",
			Branches: bs(rw("x=1"), rw("d/")), Opts: pp(), Op: rename("x", "d/x"), Want: fail(unix.EXDEV),
			Place: places(at("x", 0), nowhere("d/x"))},
		{Name: "rename/dir-over-nonempty-dir-enotempty", Doc: "rename(2)'s ENOTEMPTY is checked on the union's view " +
			"before any branch is touched (mergerfs's pp mode would say EXDEV)",
			Branches: bs(rw("x/", "y/z")), Opts: pp(), Op: rename("x", "y"), Want: fail(unix.ENOTEMPTY),
			Place: places(at("x", 0), at("y/z", 0))},
		{Name: "rename/pp-partial-removes-old-where-it-failed",
			Doc:      "a branch whose rename fails loses its copy of old once another branch succeeded",
			Branches: bs(rw("a=0", "d/"), rw("a=1")), Opts: pp(), Op: rename("a", "d/a"),
			Place: places(nowhere("a"), at("d/a", 0).file("0"))},
		{Name: "rename/pp-old-on-ro-branch-stays",
			Branches: bs(ro("a=ro"), rw("a=rw")), Opts: pp(), Op: rename("a", "b"),
			After: []Step{{read("a"), out("ro")}}, Place: places(at("a", 0), at("b", 1).file("rw"))},
		c("pp-ro-only-erofs", bs(ro("a"), rw()), pp(), rename("a", "b"), fail(unix.EROFS), at("a", 0), nowhere("b")),
		c("pp-missing-enoent", bs(rw(), rw()), pp(), rename("a", "b"), fail(unix.ENOENT)),
		c("pp-dir-with-contents", bs(rw("d/x"), rw("d/y")), pp(), rename("d", "e"), ok,
			nowhere("d"), at("e/x", 0), at("e/y", 1)),
		{Name: "rename/pp-ff-action-leaves-other-copy", Doc: "old stays where the action policy did not pick it",
			Branches: bs(rw("a=0"), rw("a=1")), Opts: pp("func.rename=ff"), Op: rename("a", "b"),
			Place: places(at("a", 1).file("1"), at("b", 0).file("0"))},

		// create-path
		c("cp-clones-new-parent", bs(rw("a=x"), rw("d/:0700")), cp(), rename("a", "d/a"), ok,
			nowhere("a"), at("d/a", 0).file("x"), at("d", 0, 1).perm(0o700)),
		c("cp-clones-deep-parent", bs(rw("a=x"), rw("p/q/")), cp(), rename("a", "p/q/a"), ok,
			nowhere("a"), at("p/q/a", 0), at("p/q", 0, 1)),
		c("cp-removes-target-elsewhere", bs(rw("a=new"), rw("b=old"), rw("b=old2")), cp(), rename("a", "b"), ok,
			nowhere("a"), at("b", 0).file("new")),
		c("cp-total-failure-first-error", bs(rw("x/", "y/z")), cp(), rename("x", "y"), fail(unix.ENOTEMPTY),
			at("x", 0), at("y/z", 0)),
		c("cp-on-every-branch", bs(rw("a=0"), rw("a=1", "d/")), cp(), rename("a", "d/a"), ok,
			nowhere("a"), at("d/a", 0, 1), at("d", 0, 1)),
		c("cp-clones-parent-from-ro-branch", bs(ro("d/:0750"), rw("a=x")), cp(), rename("a", "d/a"), ok,
			nowhere("a"), at("d/a", 1).file("x"), at("d", 0, 1).perm(0o750)),
		c("cp-missing-new-parent-everywhere", bs(rw("a"), rw()), cp(), rename("a", "d/a"), fail(unix.ENOENT), at("a", 0)),
		c("ignorepponrename-uses-create-path", bs(rw("a=x"), rw("d/")), pp("ignorepponrename=true"), rename("a", "d/a"), ok,
			nowhere("a"), at("d/a", 0), at("d", 0, 1)),
		c("default-pfrd-is-create-path", bs(rw("a=x"), rw("d/")), o(), rename("a", "d/a"), ok, at("d/a", 0), at("d", 0, 1)),

		// flags and cross-branch type rules
		c("noreplace-target-elsewhere-eexist", bs(rw("a=1"), rw("b=2")), cp(), rename2("a", "b", unix.RENAME_NOREPLACE),
			fail(unix.EEXIST), at("a", 0), at("b", 1)),
		c("exchange-keeps-other-branches", bs(rw("a=1", "b=2"), rw("b=3")), cp(), rename2("a", "b", unix.RENAME_EXCHANGE), ok,
			at("a", 0).file("2"), at("b", 0, 1), in("b", 0).file("1"), in("b", 1).file("3")),
		c("same-path-noop", bs(rw("a=0"), rw("a=1")), cp(), rename("a", "a"), ok, at("a", 0, 1)),
		c("root-ebusy", bs(rw("a"), rw()), cp(), rename("", "x"), fail(unix.EBUSY)),
		c("dir-into-itself-einval", bs(rw("d/"), rw("d/")), cp(), rename("d", "d/e"), fail(unix.EINVAL), at("d", 0, 1)),
		{Name: "rename/file-over-dir-elsewhere-eisdir", Doc: "the union sees a directory at the target: EISDIR as on Linux",
			Branches: bs(rw("a=x"), rw("d/")), Opts: cp(), Op: rename("a", "d"), Want: fail(unix.EISDIR),
			Place: places(at("a", 0), at("d", 1).dir())},
		{Name: "rename/dir-over-file-elsewhere-enotdir", Doc: "the union sees a file at the target: ENOTDIR as on Linux",
			Branches: bs(rw("d/"), rw("f=x")), Opts: cp(), Op: rename("d", "f"), Want: fail(unix.ENOTDIR),
			Place: places(at("d", 0), at("f", 1).file("x"))},
		{Name: "rename/dir-over-nonempty-dir-elsewhere-enotempty",
			Doc: "deliberate difference: mergerfs renames on the branch holding old and so merges d into the " +
				"non-empty e on another branch; mfs checks the union's e first and says ENOTEMPTY, as rename(2) does",
			Branches: bs(rw("d/x"), rw("e/y")), Opts: cp(), Op: rename("d", "e"), Want: fail(unix.ENOTEMPTY),
			Place: places(at("d/x", 0), at("e/y", 1), nowhere("e/x"))},

		// rename-exdev
		{Name: "rename/exdev-rel-symlink", Doc: "old is parked in .mergerfs_rename_exdev and new links to it",
			Branches: bs(rw("a=data"), rw("d/")), Opts: pp("rename-exdev=rel-symlink"), Op: rename("a", "d/a"),
			After: []Step{{read("d/a"), out("data")}},
			Place: places(nowhere("a"), at(".mergerfs_rename_exdev/a", 0).file("data"), at("d/a", 1).link(exdevTarget),
				at(".mergerfs_rename_exdev", 0).perm(0o1777))},
		{Name: "rename/exdev-abs-symlink",
			Branches: bs(rw("a=data"), rw("d/")), Opts: pp("rename-exdev=abs-symlink"), Op: rename("a", "d/a"),
			After: []Step{{readlink("d/a"), out("{mnt}/.mergerfs_rename_exdev/a")}, {read("d/a"), out("data")}},
			Place: places(nowhere("a"), at(".mergerfs_rename_exdev/a", 0), at("d/a", 1))},
		{Name: "rename/exdev-rel-symlink-nested-old",
			Branches: bs(rw("s/a=data"), rw("d/e/")), Opts: pp("rename-exdev=rel-symlink"), Op: rename("s/a", "d/e/a"),
			After: []Step{{read("d/e/a"), out("data")}},
			Place: places(nowhere("s/a"), at(".mergerfs_rename_exdev/s/a", 0), at("d/e/a", 1).link("../../.mergerfs_rename_exdev/s/a"))},
		c("exdev-passthrough", bs(rw("a=data"), rw("d/")), pp("rename-exdev=passthrough"), rename("a", "d/a"),
			fail(unix.EXDEV), at("a", 0), nowhere(".mergerfs_rename_exdev")),
		c("exdev-option-unused-without-exdev", bs(rw("a=data", "d/"), rw()), pp("rename-exdev=rel-symlink"), rename("a", "d/a"),
			ok, at("d/a", 0).file("data"), nowhere(".mergerfs_rename_exdev")),
	}
}

// linkCases: hard links (MERGERFS.md §4.5) and link-exdev.
func linkCases() []Case {
	ok := Expect{}
	pp := func(extra ...string) []string { return o(append([]string{"category.create=epff"}, extra...)...) }
	cp := func(extra ...string) []string { return o(append([]string{"category.create=ff"}, extra...)...) }
	c := func(name string, br []Branch, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: "link/" + name, Branches: br, Opts: opts, Op: op, Want: want, Place: place}
	}
	return []Case{
		c("epall-every-branch", bs(rw("f=0"), rw("f=1"), rw()), cp(), link("f", "g"), ok,
			at("g", 0, 1), in("g", 0).file("0"), in("g", 1).file("1")),
		{Name: "link/nlink-through-union", Branches: bs(rw("f=0"), rw()), Opts: cp(), Op: link("f", "g"),
			After: []Step{{lstat("g"), st("f nlink=2")}}, Place: places(at("g", 0))},
		c("pp-missing-parent-exdev", bs(rw("f"), rw("d/")), pp(), link("f", "d/g"), fail(unix.EXDEV), nowhere("d/g")),
		c("cp-clones-parent", bs(rw("f=x"), rw("d/:0700")), cp(), link("f", "d/g"), ok,
			at("d/g", 0).file("x"), at("d", 0, 1).perm(0o700)),
		c("ro-only-erofs", bs(ro("f"), rw()), cp(), link("f", "g"), fail(unix.EROFS), nowhere("g")),
		c("missing-enoent", bs(rw(), rw()), cp(), link("f", "g"), fail(unix.ENOENT)),
		c("target-exists-elsewhere-eexist", bs(rw("f"), rw("g=other")), cp(), link("f", "g"), fail(unix.EEXIST),
			at("g", 1).file("other")),
		c("ro-copy-not-linked", bs(ro("f"), rw("f")), cp(), link("f", "g"), ok, at("g", 1)),
		c("ff-action-first-only", bs(rw("f"), rw("f")), cp("func.link=ff"), link("f", "g"), ok, at("g", 0)),
		{Name: "link/exdev-rel-symlink", Branches: bs(rw("f=data"), rw("d/")), Opts: pp("link-exdev=rel-symlink"),
			Op: link("f", "d/g"), After: []Step{{read("d/g"), out("data")}},
			Place: places(at("d/g", 1).link("../f"), at("f", 0).file("data"))},
		{Name: "link/exdev-abs-base-symlink", Branches: bs(rw("f=data"), rw("d/")), Opts: pp("link-exdev=abs-base-symlink"),
			Op: link("f", "d/g"), Place: places(at("d/g", 1).link("{0}/f"))},
		{Name: "link/exdev-abs-pool-symlink", Branches: bs(rw("f=data"), rw("d/")), Opts: pp("link-exdev=abs-pool-symlink"),
			Op: link("f", "d/g"), After: []Step{{read("d/g"), out("data")}},
			Place: places(at("d/g", 1).link("{mnt}/f"))},
		c("exdev-passthrough", bs(rw("f=data"), rw("d/")), pp("link-exdev=passthrough"), link("f", "d/g"), fail(unix.EXDEV),
			nowhere("d/g")),
	}
}

// attrCases: chmod/chown/utimens/truncate/setxattr across branches and the
// mixed-result rule: the branch the search policy would pick decides.
func attrCases() []Case {
	ok := Expect{}
	c := func(name string, br []Branch, opts []string, op Op, want Expect, place ...Where) Case {
		return Case{Name: "attr/" + name, Branches: br, Opts: opts, Op: op, Want: want, Place: place}
	}
	return []Case{
		c("chmod-every-rw-copy", bs(rw("f"), rw("f"), ro("f")), o(), chmod("f", 0o600), ok,
			at("f", 0, 1, 2), in("f", 0, 1).perm(0o600), in("f", 2).perm(0o644)),
		c("chmod-dir-every-copy", bs(rw("d/"), rw("d/")), o(), chmod("d", 0o700), ok, at("d", 0, 1).perm(0o700)),
		c("chown-every-rw-copy", bs(rw("f"), rw("f"), ro("f")), o(), lchown("f", 1000, 1000), ok,
			in("f", 0, 1).owner(1000, 1000), in("f", 2).owner(0, 0)),
		c("utimens-every-rw-copy", bs(rw("f @10"), rw("f @20"), ro("f @30")), o(), utimens("f", 500, 600), ok,
			in("f", 0, 1).mtime(600), in("f", 2).mtime(30)),
		c("truncate-every-rw-copy", bs(rw("f=aaaa"), rw("f=bbbb")), o(), truncate("f", 1), ok,
			in("f", 0).file("a"), in("f", 1).file("b")),
		c("truncate-ro-only-erofs", bs(ro("f=x")), o(), truncate("f", 0), fail(unix.EROFS), at("f", 0).file("x")),
		{Name: "attr/truncate-mixed-getattr-branch-succeeded",
			Doc:      "one branch fails (EISDIR), one succeeds: func.getattr's branch (ff: the file) decides",
			Branches: bs(rw("x=data"), rw("x/")), Opts: o(), Op: truncate("x", 0),
			Place: places(at("x", 0, 1), in("x", 0).file(""))},
		c("truncate-all-fail-first-error", bs(rw("x/"), rw("x/")), o(), truncate("x", 0), fail(unix.EISDIR)),
		{Name: "attr/setxattr-mixed-getxattr-branch-succeeded",
			Doc:      "user.* on a symlink is EPERM: the file branch that func.getxattr picks decides",
			Branches: bs(rw("x"), rw("x -> t")), Opts: o(), Op: setxattr("x", "user.k", "v", 0),
			Place: places(in("x", 0).xattr("user.k", "v"))},
		{Name: "attr/setxattr-mixed-getxattr-branch-failed",
			Doc:      "func.getxattr picks the symlink branch, whose EPERM is the result although the file got it",
			Branches: bs(rw("x @100"), rw("x -> t @200")), Opts: o("func.getxattr=newest"), Op: setxattr("x", "user.k", "v", 0),
			Want: fail(unix.EPERM), Place: places(in("x", 0).xattr("user.k", "v"))},
		c("setxattr-every-rw-copy", bs(rw("f"), rw("f"), ro("f")), o(), setxattr("f", "user.k", "v", 0), ok,
			in("f", 0, 1).xattr("user.k", "v")),
		{Name: "attr/removexattr-every-rw-copy", Branches: bs(rw("f [user.k=0]"), rw("f [user.k=1]"), ro("f [user.k=2]")),
			Opts: o(), Op: removexattr("f", "user.k"), Place: places(in("f", 2).xattr("user.k", "2")),
			After: []Step{{getxattr("f", "user.k"), fail(unix.ENODATA)}}},
		c("removexattr-all-fail-first-error", bs(rw("f"), rw("f")), o(), removexattr("f", "user.k"), fail(unix.ENODATA)),
		c("utimens-ff-action", bs(rw("f @10"), rw("f @10")), o("func.utimens=ff"), utimens("f", 1, 99), ok,
			in("f", 0).mtime(99), in("f", 1).mtime(10)),
	}
}
