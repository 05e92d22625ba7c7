package vfs

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
	"github.com/mfs-union/mfs/vfs/policy"
)

// Statfs merges the statvfs of the branches (MERGERFS.md §4.9): the branch
// roots (statfs=base) or the branches where rel exists (statfs=full), one per
// st_dev (the first branch on a device wins), counts rescaled to the smallest
// non-zero fragment size and summed. statfs-ignore zeroes the available
// space of RO (and NC) branches first. It fails only when rel does not exist.
func (p *Pool) Statfs(ctx context.Context, c *Cred, rel string) (unix.Statfs_t, unix.Errno) {
	s := p.state()
	if rel != "" && rel != ControlFile {
		// statfs(2) of a path that does not exist fails; the kernel checks
		// this above a mount, `mfs run` relies on this check.
		if _, e := s.getattrAs(c, rel); e != 0 {
			return unix.Statfs_t{}, e
		}
	}
	type one struct {
		st unix.Statfs_t
		b  *branch
	}
	var got []one
	devs := map[uint64]bool{}
	for _, b := range s.branches {
		var fd int
		var e unix.Errno
		if s.opts.StatFS == config.StatFSFull {
			fd, e = b.openPath(rel, unix.O_PATH, 0)
		} else {
			fd, e = b.openPath("", unix.O_PATH|unix.O_DIRECTORY, 0)
		}
		if e != 0 {
			continue
		}
		var sst unix.Stat_t
		var st unix.Statfs_t
		err1 := unix.Fstat(fd, &sst)
		err2 := unix.Fstatfs(fd, &st)
		unix.Close(fd)
		if err1 != nil || err2 != nil || devs[sst.Dev] {
			continue
		}
		devs[sst.Dev] = true
		got = append(got, one{st, b})
	}
	var out unix.Statfs_t
	if len(got) == 0 {
		return out, 0
	}
	minNZ := func(cur, v int64) int64 {
		if v > 0 && (cur == 0 || v < cur) {
			return v
		}
		return cur
	}
	for _, g := range got {
		fr := g.st.Frsize
		if fr == 0 {
			fr = g.st.Bsize
		}
		out.Frsize = minNZ(out.Frsize, fr)
		out.Bsize = minNZ(out.Bsize, g.st.Bsize)
		out.Namelen = minNZ(out.Namelen, g.st.Namelen)
	}
	for _, g := range got {
		st := g.st
		rdonly := st.Flags&unix.ST_RDONLY != 0
		switch {
		case rdonly && g.b.mode != policy.RW,
			s.opts.StatFSIgnore == config.StatFSIgnoreRO && g.b.mode != policy.RW,
			s.opts.StatFSIgnore == config.StatFSIgnoreNC && g.b.mode == policy.NC:
			st.Bavail, st.Ffree = 0, 0
		}
		fr := st.Frsize
		if fr == 0 {
			fr = st.Bsize
		}
		scale := func(v uint64) uint64 { return v * uint64(fr) / uint64(out.Frsize) }
		out.Blocks += scale(st.Blocks)
		out.Bfree += scale(st.Bfree)
		out.Bavail += scale(st.Bavail)
		out.Files += st.Files
		out.Ffree += st.Ffree
	}
	return out, 0
}
