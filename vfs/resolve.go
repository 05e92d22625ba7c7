package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is Linux's budget of symlinks followed in one path resolution.
const maxSymlinks = 40

// Union is one union target of `mfs run`: the absolute path (which need not
// exist on disk) under which Pool is shown.
type Union struct {
	Target string // absolute, clean, not "/"
	Pool   *Pool
}

// Resolver turns the raw path strings of a workload's syscalls into either a
// union path (for the vfs operations) or a host path the kernel can handle
// natively. It resolves symlinks itself, in the union namespace: a symlink in
// a branch pointing to /pool/x leads back into the union, a host symlink
// pointing into a target does too, and ".." at a union's root leaves it.
type Resolver struct {
	Unions []Union
}

// Resolved is the outcome of a resolution.
type Resolved struct {
	Union *Union // nil: the path is outside every union
	Rel   string // union path when Union != nil
	Host  string // absolute host path when Union == nil
	// Dir is set when the raw path ended in a slash (or "/." or "/.."): the
	// final object must be a directory.
	Dir bool
}

// Resolve resolves raw relative to cwd (the absolute path of the process's
// working directory, or of the dirfd for *at calls). With follow, a symlink in
// the last component is followed too (stat vs lstat, O_NOFOLLOW). Intermediate
// components must be directories the caller can search.
// Errnos: ENOENT (empty path, missing component), ENOTDIR, ELOOP (more than 40
// symlinks), ENAMETOOLONG, EACCES.
func (r *Resolver) Resolve(ctx context.Context, c *Cred, cwd, raw string, follow bool) (Resolved, unix.Errno) {
	if raw == "" {
		return Resolved{}, unix.ENOENT
	}
	if len(raw) >= unix.PathMax {
		return Resolved{}, unix.ENAMETOOLONG
	}
	dir := strings.HasSuffix(raw, "/") || strings.HasSuffix(raw, "/.") || strings.HasSuffix(raw, "/..") || raw == "." || raw == ".."
	if dir {
		follow = true
	}
	w := walker{r: r, c: c, ctx: ctx}
	start := "/"
	if raw[0] != '/' {
		start = cwd
	}
	rest := raw
	cur := cleanAbs(start)
	links := 0
	for {
		comp, tail := nextComponent(rest)
		if comp == "" {
			break
		}
		rest = tail
		last := nextIsEnd(rest)
		switch comp {
		case ".":
			continue
		case "..":
			cur = parentAbs(cur)
			continue
		}
		if len(comp) > 255 {
			return Resolved{}, unix.ENAMETOOLONG
		}
		next := joinAbs(cur, comp)
		if last && !follow {
			cur = next
			break
		}
		kind, target, e := w.inspect(next)
		if e != 0 {
			if e == unix.ENOENT && last {
				cur = next // the last component may be about to be created
				break
			}
			return Resolved{}, e
		}
		switch kind {
		case unix.S_IFLNK:
			links++
			if links > maxSymlinks {
				return Resolved{}, unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			rest = target + rest
			continue
		case unix.S_IFDIR:
		default:
			if !last || dir {
				return Resolved{}, unix.ENOTDIR
			}
		}
		cur = next
	}
	return r.locate(cur, dir), 0
}

// locate maps an absolute, symlink-free host path to a union or the host.
func (r *Resolver) locate(abs string, dir bool) Resolved {
	for i := range r.Unions {
		u := &r.Unions[i]
		if abs == u.Target {
			return Resolved{Union: u, Rel: "", Dir: dir}
		}
		if strings.HasPrefix(abs, u.Target+"/") {
			return Resolved{Union: u, Rel: abs[len(u.Target)+1:], Dir: dir}
		}
	}
	return Resolved{Host: abs, Dir: dir}
}

// walker inspects one component, in a union or on the host.
type walker struct {
	r   *Resolver
	c   *Cred
	ctx context.Context
}

// inspect returns the file type of abs and, for a symlink, its target.
func (w *walker) inspect(abs string) (uint32, string, unix.Errno) {
	loc := w.r.locate(abs, false)
	if loc.Union != nil {
		a, e := loc.Union.Pool.Getattr(w.ctx, w.c, loc.Rel)
		if e != 0 {
			return 0, "", e
		}
		kind := a.Stat.Mode & unix.S_IFMT
		if kind != unix.S_IFLNK {
			return kind, "", 0
		}
		t, e := loc.Union.Pool.Readlink(w.ctx, w.c, loc.Rel)
		return kind, t, e
	}
	var kind uint32
	var target string
	e := asCaller(w.c, func() unix.Errno {
		var st unix.Stat_t
		if err := unix.Lstat(abs, &st); err != nil {
			return errnoOf(err)
		}
		kind = st.Mode & unix.S_IFMT
		if kind != unix.S_IFLNK {
			return 0
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlink(abs, buf)
		if err != nil {
			return errnoOf(err)
		}
		target = string(buf[:n])
		return 0
	})
	return kind, target, e
}

// nextComponent splits off the first component of p, skipping slashes.
func nextComponent(p string) (comp, rest string) {
	p = strings.TrimLeft(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func nextIsEnd(rest string) bool { return strings.Trim(rest, "/") == "" }

func cleanAbs(p string) string {
	out := "/"
	for {
		comp, rest := nextComponent(p)
		if comp == "" {
			return out
		}
		p = rest
		switch comp {
		case ".":
		case "..":
			out = parentAbs(out)
		default:
			out = joinAbs(out, comp)
		}
	}
}

func joinAbs(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func parentAbs(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
