package conformance

import (
	"golang.org/x/sys/unix"
)

// space3 returns three tmpfs branches whose statvfs figures rank differently
// under each strategy (the layouts get the extra lines):
//
//	b0  8M, 1M used: avail 7M,  used 1M, 12.5% used
//	b1 32M, 3M used: avail 29M, used 3M,  9.4% used
//	b2  4M, 2M used: avail 2M,  used 2M, 50%   used
//
// So mfs → 1, lfs → 2, lus → 0, lup → 1.
func space3(l0, l1, l2 []string) []Branch {
	return bs(
		rw(append([]string{"fill=*1M"}, l0...)...).tmpfs("8M"),
		rw(append([]string{"fill=*3M"}, l1...)...).tmpfs("32M"),
		rw(append([]string{"fill=*2M"}, l2...)...).tmpfs("4M"),
	)
}

// tie3 returns three identical empty 8M tmpfs branches: every space figure ties.
func tie3(l0, l1, l2 []string) []Branch {
	return bs(rw(l0...).tmpfs("8M"), rw(l1...).tmpfs("8M"), rw(l2...).tmpfs("8M"))
}

var dall = L("d/")

func policyCases() []Case {
	ok := Expect{}
	var cs []Case
	cr := func(name, pol string, br []Branch, want Expect, place ...Where) {
		cs = append(cs, Case{Name: "create/" + name, Branches: br, Opts: o("category.create=" + pol),
			Op: create("d/f", "x"), Want: want, Place: place})
	}
	// Each create policy on a parent present everywhere (space3 figures).
	cr("ff", "ff", space3(dall, dall, dall), ok, at("d/f", 0).file("x"))
	cr("epff", "epff", space3(dall, dall, dall), ok, at("d/f", 0))
	cr("mfs", "mfs", space3(dall, dall, dall), ok, at("d/f", 1))
	cr("epmfs", "epmfs", space3(dall, dall, dall), ok, at("d/f", 1))
	cr("lfs", "lfs", space3(dall, dall, dall), ok, at("d/f", 2))
	cr("eplfs", "eplfs", space3(dall, dall, dall), ok, at("d/f", 2))
	cr("lus", "lus", space3(dall, dall, dall), ok, at("d/f", 0))
	cr("eplus", "eplus", space3(dall, dall, dall), ok, at("d/f", 0))
	cr("lup", "lup", space3(dall, dall, dall), ok, at("d/f", 1))
	cr("all-creates-on-first-only", "all", space3(dall, dall, dall), ok, at("d/f", 0))
	cr("epall-creates-on-first-only", "epall", space3(L(), dall, dall), ok, at("d/f", 1), at("d", 1, 2))
	cr("newest", "newest", space3(L("d/ @100"), L("d/ @300"), L("d/ @200")), ok, at("d/f", 1))
	cr("erofs", "erofs", space3(dall, dall, dall), fail(unix.EROFS), nowhere("d/f"))
	cr("mspmfs", "mspmfs", space3(dall, dall, dall), ok, at("d/f", 1))
	cr("msplfs", "msplfs", space3(dall, dall, dall), ok, at("d/f", 2))
	cr("msplus", "msplus", space3(dall, dall, dall), ok, at("d/f", 0))

	// ep policies among the branches holding the parent.
	cr("epff-subset", "epff", space3(L(), dall, dall), ok, at("d/f", 1), at("d", 1, 2))
	cr("epmfs-subset", "epmfs", space3(dall, L(), dall), ok, at("d/f", 0), at("d", 0, 2))
	cr("eplfs-subset", "eplfs", space3(dall, dall, L()), ok, at("d/f", 0), at("d", 0, 1))
	cr("eplus-subset", "eplus", space3(L(), dall, dall), ok, at("d/f", 2), at("d", 1, 2))
	cr("newest-needs-parent", "newest", space3(L("d/ @900"), L(), L("d/ @100")), ok, at("d/f", 0), at("d", 0, 2))
	cr("epff-no-clone", "epff", bs(rw(), rw("d/:0700")), ok, at("d/f", 1), at("d", 1))

	// Non-ep policies clone the parent to the branch they pick.
	cr("mfs-clones-parent", "mfs", space3(dall, L(), L()), ok, at("d/f", 1), at("d", 0, 1))
	cr("lfs-clones-parent", "lfs", space3(dall, L(), L()), ok, at("d/f", 2), at("d", 0, 2))
	cr("lus-clones-parent", "lus", space3(L(), L(), dall), ok, at("d/f", 0), at("d", 0, 2))
	cr("ff-clones-parent", "ff", bs(rw(), rw("d/:0710")), ok, at("d/f", 0), at("d", 0, 1).perm(0o710))

	// Tie-breaks: on identical branches mfs, lfs and newest pick the last,
	// lus and lup the first (mergerfs's >= / <= versus <).
	cr("mfs-tie-last", "mfs", tie3(dall, dall, dall), ok, at("d/f", 2))
	cr("epmfs-tie-last", "epmfs", tie3(dall, dall, dall), ok, at("d/f", 2))
	cr("lfs-tie-last", "lfs", tie3(dall, dall, dall), ok, at("d/f", 2))
	cr("eplfs-tie-last", "eplfs", tie3(dall, dall, dall), ok, at("d/f", 2))
	cr("lus-tie-first", "lus", tie3(dall, dall, dall), ok, at("d/f", 0))
	cr("eplus-tie-first", "eplus", tie3(dall, dall, dall), ok, at("d/f", 0))
	cr("lup-tie-first", "lup", tie3(dall, dall, dall), ok, at("d/f", 0))
	cr("newest-tie-last", "newest", tie3(L("d/ @500"), L("d/ @500"), L("d/ @500")), ok, at("d/f", 2))
	cr("epmfs-tie-last-among-holders", "epmfs", tie3(dall, dall, L()), ok, at("d/f", 1))

	// Randomised create policies: the acceptable outcomes, pinned for
	// targets whose random source returns 0 (first) or n-1 (last).
	rnd := func(name, pol string, br []Branch, place []Where, alts ...[]Where) {
		cs = append(cs, Case{Name: "create/" + name, Branches: br, Opts: o("category.create=" + pol),
			Op: create("d/f", "x"), Place: place, AnyOf: alts})
	}
	only := func(i int) []Where { return places(at("d/f", i).file("x")) }
	rnd("pfrd", "pfrd", space3(dall, dall, dall), nil, only(0), only(1), only(2))
	rnd("rand", "rand", space3(dall, dall, dall), nil, only(0), only(1), only(2))
	rnd("eppfrd", "eppfrd", space3(L(), dall, dall), places(at("d", 1, 2)), only(1), only(2))
	rnd("eprand", "eprand", space3(dall, L(), dall), places(at("d", 0, 2)), only(0), only(2))
	rnd("pfrd-clones-parent", "pfrd", space3(L(), L(), dall), nil,
		places(at("d/f", 0), at("d", 0, 2)), places(at("d/f", 1), at("d", 1, 2)), places(at("d/f", 2), at("d", 2)))
	rnd("msppfrd", "msppfrd", space3(dall, L(), dall), places(at("d", 0, 2)), only(0), only(2))
	rnd("rand-skips-ro", "rand", bs(ro("d/"), rw("d/"), rw("d/")), nil, only(1), only(2))
	cs = append(cs, Case{Name: "create/pfrd-default-policy", Doc: "pfrd is the 2.42 default create policy",
		Branches: space3(dall, dall, dall), Opts: o(), Op: create("d/f", "x"),
		AnyOf: [][]Where{only(0), only(1), only(2)}})

	// pfrd when no candidate has space: nothing is picked and the folded
	// error is returned (ENOENT, nothing was filtered). Both tmpfs are full.
	cs = append(cs, Case{Name: "create/pfrd-zero-weights-enoent",
		Branches: bs(rw("d/", "fill=*1M").tmpfs("1M"), rw("d/", "fill=*1M").tmpfs("1M")),
		Opts:     []string{"minfreespace=0", "category.create=pfrd"},
		Op:       create("d/f", "x"), Want: fail(unix.ENOENT), Place: places(nowhere("d/f"))})

	// mkdir, mknod and symlink use their own create functions; all/epall act
	// on every eligible branch.
	mk := func(name string, opts []string, br []Branch, op Op, want Expect, place ...Where) {
		cs = append(cs, Case{Name: name, Branches: br, Opts: opts, Op: op, Want: want, Place: place})
	}
	three := func(l ...string) []Branch { return bs(rw(l...), rw(l...), rw(l...)) }
	mk("mkdir/all-on-every-branch", o("func.mkdir=all"), three("p/"), mkdir("p/d", 0o750), ok,
		at("p/d", 0, 1, 2).dir().perm(0o750))
	mk("mkdir/all-clones-parent-everywhere", o("func.mkdir=all"), bs(rw(), rw("p/:0700"), rw()), mkdir("p/d", 0o755), ok,
		at("p/d", 0, 1, 2), at("p", 0, 1, 2).perm(0o700))
	mk("mkdir/epall-where-parent-exists", o("func.mkdir=epall"), bs(rw("p/"), rw(), rw("p/")), mkdir("p/d", 0o755), ok,
		at("p/d", 0, 2), at("p", 0, 2))
	mk("mkdir/all-skips-ro-and-nc", o("func.mkdir=all"), bs(ro("p/"), nc("p/"), rw("p/")), mkdir("p/d", 0o755), ok,
		at("p/d", 2))
	mk("mkdir/ff", o("category.create=ff"), three("p/"), mkdir("p/d", 0o755), ok, at("p/d", 0))
	mk("mkdir/epmfs", o("category.create=epmfs"), space3(L("p/"), L(), L("p/")), mkdir("p/d", 0o755), ok, at("p/d", 0))
	mk("mkdir/func-overrides-category", o("category.create=all", "func.mkdir=ff"), three("p/"), mkdir("p/d", 0o755), ok,
		at("p/d", 0))
	mk("mkdir/category-after-func-wins", o("func.mkdir=ff", "category.create=all"), three("p/"), mkdir("p/d", 0o755), ok,
		at("p/d", 0, 1, 2))
	mk("mknod/all", o("func.mknod=all"), three("p/"), mkfifo("p/q", 0o600), ok, at("p/q", 0, 1, 2).fifo().perm(0o600))
	mk("mknod/epall", o("func.mknod=epall"), bs(rw(), rw("p/"), rw("p/")), mkfifo("p/q", 0o600), ok, at("p/q", 1, 2))
	mk("mknod/lfs", o("func.mknod=lfs"), space3(dall, dall, dall), mkfifo("d/q", 0o600), ok, at("d/q", 2))
	mk("symlink/all", o("func.symlink=all"), three("p/"), symlink("tgt", "p/l"), ok, at("p/l", 0, 1, 2).link("tgt"))
	mk("symlink/epff", o("func.symlink=epff"), bs(rw(), rw("p/")), symlink("tgt", "p/l"), ok, at("p/l", 1))
	mk("symlink/ff-clones-parent", o("func.symlink=ff"), bs(rw(), rw("p/:0701")), symlink("tgt", "p/l"), ok,
		at("p/l", 0).link("tgt"), at("p", 0, 1).perm(0o701))
	mk("symlink/mfs", o("func.symlink=mfs"), space3(dall, dall, dall), symlink("t", "d/l"), ok, at("d/l", 1))
	mk("mkdir/erofs", o("func.mkdir=erofs"), three("p/"), mkdir("p/d", 0o755), fail(unix.EROFS), nowhere("p/d"))

	// msp* climb: a/b exists only on an RO branch, a exists on RW ones, so the
	// ep variant finds nothing for a/b and retries on a; a/b is cloned there.
	climb := func(pol string, br []Branch, want int) {
		cs = append(cs, Case{Name: "create/" + pol + "-climbs", Branches: br, Opts: o("category.create=" + pol),
			Op: create("a/b/f", "x"), Place: places(at("a/b/f", want), at("a/b", 0, want).dir())})
	}
	ab, a := L("a/b/"), L("a/")
	climbBranches := func() []Branch {
		sp := space3(nil, a, a)
		return bs(ro(ab...), sp[1], sp[2])
	}
	climb("mspmfs", climbBranches(), 1)
	climb("msplfs", climbBranches(), 2)
	climb("msplus", bs(ro(ab...), rw(append(L("fill=*2M"), a...)...).tmpfs("8M"), rw(append(L("fill=*1M"), a...)...).tmpfs("8M")), 2)
	cs = append(cs, Case{Name: "create/msppfrd-climbs", Branches: climbBranches(), Opts: o("category.create=msppfrd"),
		Op: create("a/b/f", "x"), AnyOf: [][]Where{
			places(at("a/b/f", 1), at("a/b", 0, 1)),
			places(at("a/b/f", 2), at("a/b", 0, 2)),
		}})
	cs = append(cs, Case{Name: "create/epmfs-does-not-climb", Branches: climbBranches(), Opts: o("category.create=epmfs"),
		Op: create("a/b/f", "x"), Want: fail(unix.EROFS), Place: places(nowhere("a/b/f"), at("a/b", 0))})
	cs = append(cs, Case{Name: "create/mspmfs-climbs-to-root",
		Doc:      "nothing but the root holds an ancestor on a writable branch",
		Branches: bs(ro("a/b/c/"), rw().tmpfs("8M"), rw().tmpfs("16M")), Opts: o("category.create=mspmfs"),
		Op: create("a/b/c/f", "x"), Place: places(at("a/b/c/f", 2), at("a/b/c", 0, 2))})
	cs = append(cs, Case{Name: "create/mspmfs-all-filtered-stops",
		Doc:      "every branch RO: the climb must stop at the root with EROFS (mergerfs 2.41+ could loop)",
		Branches: bs(ro("a/b/"), ro("a/")), Opts: o("category.create=mspmfs"),
		Op: create("a/b/f", "x"), Want: fail(unix.EROFS), Place: places(nowhere("a/b/f"))})

	// --- search policies: open, getattr, readlink, access, getxattr ---
	// f exists on all three space3 branches with different contents.
	f3 := func() []Branch { return space3(L("f=zero"), L("f=one"), L("f=two")) }
	srch := func(pol string, want Expect) {
		cs = append(cs, Case{Name: "search/open-" + pol, Branches: f3(), Opts: o("func.open=" + pol), Op: read("f"), Want: want})
	}
	srch("ff", out("zero"))
	srch("epff", out("zero"))
	srch("mfs", out("one"))
	srch("epmfs", out("one"))
	srch("lfs", out("two"))
	srch("eplfs", out("two"))
	srch("lus", out("zero"))
	srch("eplus", out("zero"))
	srch("lup", out("one"))
	srch("all", out("zero"))
	srch("epall", out("zero"))
	srch("mspmfs", out("one"))
	srch("msplus", out("zero"))
	srch("msplfs", out("two"))
	srch("erofs", fail(unix.EROFS))
	srch("rand", Expect{OutAnyOf: []string{"zero", "one", "two"}})
	srch("eprand", Expect{OutAnyOf: []string{"zero", "one", "two"}})
	srch("pfrd", Expect{OutAnyOf: []string{"zero", "one", "two"}})
	srch("eppfrd", Expect{OutAnyOf: []string{"zero", "one", "two"}})
	srch("msppfrd", Expect{OutAnyOf: []string{"zero", "one", "two"}})
	cs = append(cs,
		Case{Name: "search/open-newest", Branches: space3(L("f=zero @100"), L("f=one @300"), L("f=two @200")),
			Opts: o("func.open=newest"), Op: read("f"), Want: out("one")},
		Case{Name: "search/open-newest-tie-last", Branches: space3(L("f=zero @100"), L("f=one @100"), L("f=two @100")),
			Opts: o("func.open=newest"), Op: read("f"), Want: out("two")},
		Case{Name: "search/open-mfs-tie-last", Branches: tie3(L("f=0"), L("f=1"), L("f=2")),
			Opts: o("func.open=mfs"), Op: read("f"), Want: out("2")},
		Case{Name: "search/open-lus-tie-first", Branches: tie3(L("f=0"), L("f=1"), L("f=2")),
			Opts: o("func.open=lus"), Op: read("f"), Want: out("0")},
		Case{Name: "search/open-ff-only-where-exists", Branches: bs(rw(), rw("f=one"), rw("f=two")),
			Opts: o("func.open=ff"), Op: read("f"), Want: out("one")},
		Case{Name: "search/open-mfs-only-where-exists", Branches: space3(L("f=zero"), L(), L("f=two")),
			Opts: o("func.open=mfs"), Op: read("f"), Want: out("zero")},
		Case{Name: "search/open-sees-ro-and-nc", Branches: bs(ro("a=ro"), nc("b=nc"), rw()),
			Opts: o(), Op: read("a"), Want: out("ro"), After: []Step{{read("b"), out("nc")}}},
		Case{Name: "search/getattr-ff-first-branch", Branches: bs(rw("f=1"), rw("f=22"), rw("f=333")),
			Opts: o(), Op: lstat("f"), Want: Expect{Stat: "f size=1", Ino: map[InodeMode]string{InodeReal: "branch:0"}}},
		Case{Name: "search/getattr-lfs", Branches: space3(L("f=1"), L("f=22"), L("f=333")),
			Opts: o("func.getattr=lfs"), Op: lstat("f"), Want: st("f size=3")},
		Case{Name: "search/getattr-newest", Branches: bs(rw("f=1 @10"), rw("f=22 @30"), rw("f=333 @20")),
			Opts: o("func.getattr=newest"), Op: lstat("f"), Want: st("f size=2 mtime=30")},
		Case{Name: "search/getattr-category-search", Branches: space3(L("f=1"), L("f=22"), L("f=333")),
			Opts: o("category.search=mfs"), Op: lstat("f"), Want: st("f size=2")},
		Case{Name: "search/getattr-erofs", Branches: bs(rw("f")), Opts: o("func.getattr=erofs"), Op: lstat("f"),
			Want: fail(unix.EROFS)},
		Case{Name: "search/getattr-dir-not-merged", Doc: "directory attributes come from one branch",
			Branches: bs(rw("d/:0700"), rw("d/:0755")), Opts: o(), Op: lstat("d"), Want: st("d 0700")},
		Case{Name: "search/getattr-dir-newest", Branches: bs(rw("d/:0700 @10"), rw("d/:0751 @20")),
			Opts: o("func.getattr=newest"), Op: lstat("d"), Want: st("d 0751")},
		Case{Name: "search/root-from-first-existing-branch", Branches: bs(rw().missing(), rw("/:0711"), rw("/:0700")),
			Opts: o(), Op: lstat(""), Want: st("d 0711")},
		Case{Name: "search/through-file-shadowing-dir-enotdir", Doc: "the union shows x as a file, so x/y cannot be reached",
			Branches: bs(rw("x"), rw("x/y=1")), Opts: o(), Op: read("x/y"), Want: fail(unix.ENOTDIR)},
		Case{Name: "search/readlink-func", Branches: bs(rw("l -> one @100"), rw("l -> two @200")),
			Opts: o("func.readlink=newest"), Op: readlink("l"), Want: out("two")},
		Case{Name: "search/readlink-ff", Branches: bs(rw(), rw("l -> one"), rw("l -> two")),
			Opts: o(), Op: readlink("l"), Want: out("one")},
		Case{Name: "search/access-erofs", Branches: bs(rw("f")), Opts: o("func.access=erofs"),
			Op: access("f", unix.F_OK), Want: fail(unix.EROFS)},
		Case{Name: "search/getxattr-func", Branches: bs(rw("f [user.k=zero] @100"), rw("f [user.k=one] @300")),
			Opts: o("func.getxattr=newest"), Op: getxattr("f", "user.k"), Want: out("one")},
		Case{Name: "search/listxattr-func", Branches: bs(rw("f [user.a=1]").tmpfs("8M"), rw("f [user.b=1]").tmpfs("8M")),
			Opts: o("func.listxattr=lfs"), Op: listxattr("f"),
			Want: Expect{Has: []string{"user.b"}, Lacks: []string{"user.a"}}},
	)

	// --- action policies: which copies unlink removes ---
	act := func(pol string, keep ...int) {
		cs = append(cs, Case{Name: "action/unlink-" + pol, Branches: f3(), Opts: o("func.unlink=" + pol),
			Op: unlink("f"), Place: places(at("f", keep...))})
	}
	act("epall")
	act("all")
	act("ff", 1, 2)
	act("epff", 1, 2)
	act("mfs", 0, 2)
	act("epmfs", 0, 2)
	act("lfs", 0, 1)
	act("eplfs", 0, 1)
	act("lus", 1, 2)
	act("eplus", 1, 2)
	act("lup", 0, 2)
	act("mspmfs", 0, 2)
	act("msplfs", 0, 1)
	act("msplus", 1, 2)
	cs = append(cs,
		Case{Name: "action/unlink-erofs", Branches: f3(), Opts: o("func.unlink=erofs"), Op: unlink("f"),
			Want: fail(unix.EROFS), Place: places(at("f", 0, 1, 2))},
		Case{Name: "action/unlink-newest", Branches: space3(L("f @100"), L("f @300"), L("f @200")),
			Opts: o("func.unlink=newest"), Op: unlink("f"), Place: places(at("f", 0, 2))},
		Case{Name: "action/unlink-rand", Branches: f3(), Opts: o("func.unlink=rand"), Op: unlink("f"),
			AnyOf: [][]Where{places(at("f", 1, 2)), places(at("f", 0, 2)), places(at("f", 0, 1))}},
		Case{Name: "action/unlink-eprand", Branches: f3(), Opts: o("func.unlink=eprand"), Op: unlink("f"),
			AnyOf: [][]Where{places(at("f", 1, 2)), places(at("f", 0, 2)), places(at("f", 0, 1))}},
		Case{Name: "action/unlink-pfrd", Branches: f3(), Opts: o("func.unlink=pfrd"), Op: unlink("f"),
			AnyOf: [][]Where{places(at("f", 1, 2)), places(at("f", 0, 2)), places(at("f", 0, 1))}},
		Case{Name: "action/unlink-msppfrd", Branches: space3(L("f"), L(), L("f")), Opts: o("func.unlink=msppfrd"), Op: unlink("f"),
			AnyOf: [][]Where{places(at("f", 2)), places(at("f", 0))}},
		Case{Name: "action/unlink-eppfrd", Branches: f3(), Opts: o("func.unlink=eppfrd"), Op: unlink("f"),
			AnyOf: [][]Where{places(at("f", 1, 2)), places(at("f", 0, 2)), places(at("f", 0, 1))}},
		Case{Name: "action/unlink-category-action", Branches: f3(), Opts: o("category.action=ff"), Op: unlink("f"),
			Place: places(at("f", 1, 2))},
		Case{Name: "action/chmod-ff", Branches: bs(rw("f"), rw("f")), Opts: o("func.chmod=ff"), Op: chmod("f", 0o600),
			Place: places(at("f", 0, 1), in("f", 0).perm(0o600), in("f", 1).perm(0o644))},
		Case{Name: "action/chmod-mfs", Branches: space3(L("f"), L("f"), L("f")), Opts: o("func.chmod=mfs"),
			Op: chmod("f", 0o600), Place: places(in("f", 1).perm(0o600), in("f", 0, 2).perm(0o644))},
		Case{Name: "action/unlink-missing", Branches: bs(rw(), rw()), Opts: o(), Op: unlink("f"), Want: fail(unix.ENOENT)},
	)
	return cs
}
