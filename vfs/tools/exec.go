package tools

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/fileio"
)

// ExecOptions tune Execute.
type ExecOptions struct {
	// Verify compares the contents of every copy with its source, byte for
	// byte, before it is published (fileio CopyOptions.Checksum). Without
	// it a copy is checked by size and by the source's unchanged size and
	// mtime. Copies are always fsynced.
	Verify bool
	// Progress receives each action as it completes; nil reports nothing.
	Progress Progress
	// Logger gets a debug record per action; nil logs nothing.
	Logger *slog.Logger

	// hook, for tests, runs at each step of a move; returning false stops
	// the execution right there, as a crash would (no rollback).
	hook func(stage string) bool
}

// Failure is an action that failed, with the error.
type Failure struct {
	Action Action `json:"action"`
	Error  string `json:"error"`
}

// Result is what Execute did.
type Result struct {
	Tool string `json:"tool"`
	// Done lists the actions carried out, in order. Without outside
	// interference (a file changed or opened since the plan) it equals the
	// plan's Actions.
	Done []Action `json:"done"`
	// Skipped lists planned actions left out because their file changed
	// since the plan, or was open for writing when its turn came.
	Skipped []Note    `json:"skipped,omitempty"`
	Failed  []Failure `json:"failed,omitempty"`
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	// Elapsed is the wall time of the execution, in nanoseconds in JSON.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Interrupted: the context was cancelled; the actions after the last
	// Done one were not started.
	Interrupted bool `json:"interrupted,omitempty"`
	// Fill is the branches' use afterwards, from statfs.
	Fill []Fill `json:"fill"`
}

// errSkip is an action that did not happen for a reason outside the tool.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

// errCrash is a test hook's stop.
var errCrash = errors.New("stopped by test hook")

// Execute carries out the plan's actions in order and reports what it did.
// It stops between two actions when ctx is cancelled; an action in
// progress (a copy) always completes or fails as a whole. A failed action
// is recorded and the next one runs, except that after ENOSPC or EDQUOT on
// a branch the remaining copies to that branch are skipped.
func (pl *Plan) Execute(ctx context.Context, opt ExecOptions) *Result {
	x := &executor{pool: pl.pool, opt: opt, dirs: map[dirKey]int{}, full: map[int]bool{}}
	defer x.close()
	res := &Result{Tool: pl.Tool}
	start := time.Now()
	prog := opt.Progress
	if prog == nil {
		prog = nopProgress{}
	}
	prog.Start(pl.Tool, len(pl.Actions), pl.Files, pl.Bytes)
	if err := x.openRoots(); err != nil {
		for _, a := range pl.Actions {
			res.Failed = append(res.Failed, Failure{Action: a, Error: err.Error()})
		}
	} else {
		for i := range pl.Actions {
			if ctx.Err() != nil {
				res.Interrupted = true
				break
			}
			a := pl.Actions[i]
			err := x.do(&a)
			if err == errCrash {
				res.Interrupted = true
				break
			}
			var skip errSkip
			switch {
			case err == nil:
				res.Done = append(res.Done, a)
				if a.Op == OpMove || a.Op == OpCopy {
					res.Files++
					res.Bytes += a.Bytes
				}
			case errors.As(err, &skip):
				res.Skipped = append(res.Skipped, Note{Path: a.Path, Branch: a.From, Reason: skip.reason})
			default:
				res.Failed = append(res.Failed, Failure{Action: a, Error: err.Error()})
				if a.to >= 0 && (errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)) {
					x.full[a.to] = true
				}
			}
			if opt.Logger != nil {
				opt.Logger.Debug("tool action", "tool", pl.Tool, "op", string(a.Op), "path", a.Path, "from", a.From, "to", a.To, "err", err)
			}
			prog.Step(a, err)
		}
	}
	res.Elapsed = time.Since(start)
	stats := make([]branchStat, len(pl.pool.Branches))
	for i := range stats {
		if x.roots[i] >= 0 {
			stats[i] = statBranch(x.roots[i])
		}
	}
	res.Fill = projectFill(pl.pool, stats, nil)
	prog.Finish(res)
	return res
}

type dirKey struct {
	br  int
	dir string
}

type executor struct {
	pool  *Pool
	opt   ExecOptions
	roots []int
	dirs  map[dirKey]int // O_PATH descriptors of directories, by branch
	full  map[int]bool   // branches that reported ENOSPC/EDQUOT
}

func (x *executor) openRoots() error {
	x.roots = make([]int, len(x.pool.Branches))
	for i := range x.roots {
		x.roots[i] = -1
	}
	for i, b := range x.pool.Branches {
		fd, err := unix.Open(b.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open branch %s: %w", b.Path, err)
		}
		x.roots[i] = fd
	}
	return nil
}

func (x *executor) close() {
	for _, fd := range x.dirs {
		unix.Close(fd)
	}
	for _, fd := range x.roots {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (x *executor) crash(stage string) bool {
	return x.opt.hook != nil && !x.opt.hook(stage)
}

// dir returns an O_PATH descriptor of dir on branch br (cached; owned by
// the executor).
func (x *executor) dir(br int, dir string) (int, error) {
	if dir == "." || dir == "" {
		return x.roots[br], nil
	}
	k := dirKey{br, dir}
	if fd, ok := x.dirs[k]; ok {
		return fd, nil
	}
	if len(x.dirs) >= 256 {
		for k, fd := range x.dirs {
			unix.Close(fd)
			delete(x.dirs, k)
		}
	}
	fd, err := openBeneath(x.roots[br], dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	x.dirs[k] = fd
	return fd, nil
}

// mkdirs returns dir on branch dst, creating the missing components as
// copies of branch src's (mode, owner, xattrs, times: fileio.CopyMeta) the
// way mergerfs clones a path before it creates a file on another branch.
func (x *executor) mkdirs(src, dst int, dir string) (int, error) {
	fd, err := x.dir(dst, dir)
	if err != unix.ENOENT {
		return fd, err
	}
	parent, err := x.mkdirs(src, dst, path.Dir(dir))
	if err != nil {
		return -1, err
	}
	sfd, err := openBeneath(x.roots[src], dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, fmt.Errorf("clone directory %s from %s: %w", dir, x.pool.Branches[src].Path, err)
	}
	defer unix.Close(sfd)
	var st unix.Stat_t
	if err := fstat(sfd, &st); err != nil {
		return -1, err
	}
	base := path.Base(dir)
	if err := mkdirat(parent, base, st.Mode&0o7777); err != nil && err != unix.EEXIST {
		return -1, fmt.Errorf("create directory %s on %s: %w", dir, x.pool.Branches[dst].Path, err)
	}
	nfd, err := openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if err != nil {
		return -1, err
	}
	err = fileio.CopyMeta(nfd, sfd)
	unix.Close(nfd)
	if err != nil {
		return -1, fmt.Errorf("clone directory %s: %w", dir, err)
	}
	// The new entry must survive a crash as much as the file put in it.
	if pfd, err := openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY); err == nil {
		_ = fsync(pfd)
		unix.Close(pfd)
	}
	return x.dir(dst, dir)
}

// do runs one action.
func (x *executor) do(a *Action) error {
	if a.to >= 0 && x.full[a.to] && (a.Op == OpMove || a.Op == OpCopy) {
		return errSkip{"target " + a.To + " is full"}
	}
	switch a.Op {
	case OpMove:
		return x.move(a)
	case OpCopy:
		return x.copy(a)
	case OpLink:
		return x.link(a)
	case OpRemove:
		return x.remove(a)
	case OpChmod, OpChown:
		return x.attr(a)
	case OpFinish:
		return x.finish(a)
	case OpAbandon:
		return x.abandon(a)
	case OpClean:
		return x.clean(a)
	}
	return fmt.Errorf("unknown action %q", a.Op)
}

// source opens a planned source file and checks it is what the plan saw.
func (x *executor) source(br int, rel string, a *Action) (fd int, st unix.Stat_t, err error) {
	dir, err := x.dir(br, path.Dir(rel))
	if err == unix.ENOENT {
		return -1, st, errSkip{"gone since the plan"}
	}
	if err != nil {
		return -1, st, err
	}
	fd, err = openat(dir, path.Base(rel), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOATIME)
	if err == unix.EPERM {
		fd, err = openat(dir, path.Base(rel), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	}
	if err == unix.ENOENT {
		return -1, st, errSkip{"gone since the plan"}
	}
	if err != nil {
		return -1, st, err
	}
	if err := fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	if a.ino != 0 && (st.Ino != a.ino || st.Size != a.size || st.Mtim != a.mtime) {
		unix.Close(fd)
		return -1, st, errSkip{"changed since the plan"}
	}
	return fd, st, nil
}

// lease takes a read lease on fd: the kernel grants it only while no one
// has the file open for writing, and breaks it (F_GETLEASE then reports
// F_UNLCK) as soon as someone opens it for writing. Filesystems or callers
// that cannot take leases (EINVAL, ENOLCK, EACCES for another user's file)
// get no lease; the plan's /proc check and the copy's verification remain.
func lease(fd int) (held bool, err error) {
	switch err := setLease(fd, unix.F_RDLCK); err {
	case nil:
		return true, nil
	case unix.EAGAIN, unix.EBUSY:
		return false, errSkip{"open for writing"}
	default:
		return false, nil
	}
}

func unlease(fd int, held bool) {
	if held {
		_ = setLease(fd, unix.F_UNLCK)
	}
}

// stillQuiet checks, after a copy, that no writer appeared: the lease is
// intact and the source's size and mtime are those copied.
func stillQuiet(fd int, held bool, st *unix.Stat_t) error {
	if held {
		if t, err := getLease(fd); err == nil && t != unix.F_RDLCK {
			return errSkip{"opened for writing during the copy"}
		}
	}
	var now unix.Stat_t
	if err := fstat(fd, &now); err != nil {
		return err
	}
	if now.Size != st.Size || now.Mtim != st.Mtim || now.Nlink != st.Nlink {
		return errSkip{"changed during the copy"}
	}
	return nil
}

func newMarkID() string {
	var b [8]byte
	r := rand.Uint64()
	for i := range b {
		b[i] = byte(r >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// ignorableXattr: the filesystem or caller cannot have the marker; the
// move goes on without crash recovery beyond fileio's.
func ignorableXattr(err error) bool {
	switch err {
	case unix.ENOTSUP, unix.EPERM, unix.EACCES, unix.ENOSPC, unix.E2BIG:
		return true
	}
	return false
}

// copyOpts are the fileio options of every copy: fsynced and verified.
func (x *executor) copyOpts(noReplace bool) fileio.CopyOptions {
	return fileio.CopyOptions{Sync: true, Verify: true, Checksum: x.opt.Verify, NoReplace: noReplace}
}

// move is OpMove. Order, with the state a crash leaves after each step:
//
//  1. mark the source inode (markAttr): source only, marked;
//  2. fileio.CopyFileAt to the target with NoReplace: at most an unnamed or
//     temp copy until it publishes the complete copy, which carries the
//     marker;
//  3. link the group's other names on the target: some names there;
//  4. check lease and source unchanged, else undo 3 and 2;
//  5. unlink the source names: some names gone from the source;
//  6. clear the marker on the target.
//
// After a crash in 1-6 the next run finds the marker and finishes (the
// target has the marked copy) or abandons (it has none) the move.
func (x *executor) move(a *Action) error {
	names := append([]string{a.Path}, a.Links...)
	fd, st, err := x.source(a.from, a.Path, a)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if uint64(st.Nlink) != uint64(len(names)) {
		return errSkip{fmt.Sprintf("has %d hard links, the plan saw %d", st.Nlink, len(names))}
	}
	held, err := lease(fd)
	if err != nil {
		return err
	}
	defer unlease(fd, held)
	marked := false
	switch err := fsetxattr(fd, markAttr, newMarkID()+":"+a.To); {
	case err == nil:
		marked = true
	case ignorableXattr(err):
	default:
		return fmt.Errorf("mark %s: %w", a.Path, err)
	}
	if x.crash("marked") {
		return errCrash
	}
	var created []string // names on the target, for the undo
	undo := func() {
		for _, n := range created {
			if d, err := x.dir(a.to, path.Dir(n)); err == nil {
				_ = unlinkat(d, path.Base(n))
			}
		}
		if marked {
			_ = fremovexattr(fd, markAttr)
		}
	}
	sdir, err := x.dir(a.from, path.Dir(a.Path))
	if err != nil {
		undo()
		return err
	}
	tdir, err := x.mkdirs(a.from, a.to, path.Dir(a.Path))
	if err != nil {
		undo()
		return err
	}
	if err := fileio.CopyFileAt(sdir, path.Base(a.Path), tdir, path.Base(a.Path), x.copyOpts(true)); err != nil {
		undo()
		if errors.Is(err, unix.EEXIST) {
			return errSkip{"appeared on " + a.To + " since the plan"}
		}
		if errors.Is(err, fileio.ErrVerify) {
			return errSkip{"changed during the copy"}
		}
		return err
	}
	created = append(created, a.Path)
	if x.crash("copied") {
		return errCrash
	}
	for _, n := range names[1:] {
		d, err := x.mkdirs(a.from, a.to, path.Dir(n))
		if err == nil {
			err = linkat(tdir, path.Base(a.Path), d, path.Base(n))
		}
		if err != nil {
			undo()
			if err == unix.EEXIST {
				return errSkip{"hard link " + n + " appeared on " + a.To + " since the plan"}
			}
			return fmt.Errorf("link %s on %s: %w", n, a.To, err)
		}
		created = append(created, n)
		if err := syncDirFd(d); err != nil {
			undo()
			return err
		}
		if x.crash("linked") {
			return errCrash
		}
	}
	if err := stillQuiet(fd, held, &st); err != nil {
		undo()
		return err
	}
	for _, n := range names {
		d, err := x.dir(a.from, path.Dir(n))
		if err == nil {
			err = unlinkat(d, path.Base(n))
		}
		if err != nil && err != unix.ENOENT {
			// The copy is complete and kept; the next run finishes the move
			// (the marker stays on both).
			return fmt.Errorf("remove %s from %s after copying it: %w", n, a.From, err)
		}
		if x.crash("unlinked") {
			return errCrash
		}
	}
	if marked {
		if err := clearMark(tdir, path.Base(a.Path)); err != nil {
			return fmt.Errorf("clear move marker of %s on %s: %w", a.Path, a.To, err)
		}
	}
	return nil
}

// clearMark removes the move marker of name in dir.
func clearMark(dir int, name string) error {
	fd, err := openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := fremovexattr(fd, markAttr); err != nil && err != unix.ENODATA {
		return err
	}
	return nil
}

// syncDirFd fsyncs the directory behind an O_PATH descriptor.
func syncDirFd(dir int) error {
	fd, err := openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	err = fsync(fd)
	unix.Close(fd)
	return err
}

// copy is OpCopy: a crash-safe copy that leaves the source alone.
func (x *executor) copy(a *Action) error {
	fd, st, err := x.source(a.from, a.Path, a)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	held, err := lease(fd)
	if err != nil {
		return err
	}
	defer unlease(fd, held)
	sdir, err := x.dir(a.from, path.Dir(a.Path))
	if err != nil {
		return err
	}
	tdir, err := x.mkdirs(a.from, a.to, path.Dir(a.Path))
	if err != nil {
		return err
	}
	if err := fileio.CopyFileAt(sdir, path.Base(a.Path), tdir, path.Base(a.Path), x.copyOpts(!a.replace)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return errSkip{"appeared on " + a.To + " since the plan"}
		}
		if errors.Is(err, fileio.ErrVerify) {
			return errSkip{"changed during the copy"}
		}
		return err
	}
	return stillQuietAfterCopy(fd, held, &st)
}

// stillQuietAfterCopy reports a writer that raced a plain copy; the copy
// stays (it is consistent: fileio verified it), but the run says so.
func stillQuietAfterCopy(fd int, held bool, st *unix.Stat_t) error {
	if err := stillQuiet(fd, held, st); err != nil {
		return fmt.Errorf("copied, but %w; run again to refresh the copy", err)
	}
	return nil
}

// link is OpLink.
func (x *executor) link(a *Action) error {
	odir, err := x.dir(a.to, path.Dir(a.LinkTo))
	if err != nil {
		return err
	}
	d, err := x.mkdirs(a.from, a.to, path.Dir(a.Path))
	if err != nil {
		return err
	}
	if err := linkat(odir, path.Base(a.LinkTo), d, path.Base(a.Path)); err != nil {
		if err == unix.EEXIST {
			return errSkip{"appeared on " + a.To + " since the plan"}
		}
		return err
	}
	return syncDirFd(d)
}

// remove is OpRemove.
func (x *executor) remove(a *Action) error {
	fd, _, err := x.source(a.from, a.Path, a)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	held, err := lease(fd)
	if err != nil {
		return err
	}
	defer unlease(fd, held)
	d, err := x.dir(a.from, path.Dir(a.Path))
	if err != nil {
		return err
	}
	return unlinkat(d, path.Base(a.Path))
}

// attr is OpChmod and OpChown.
func (x *executor) attr(a *Action) error {
	d, err := x.dir(a.to, path.Dir(a.Path))
	if err != nil {
		return err
	}
	fd, err := openat(d, path.Base(a.Path), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if a.Op == OpChmod {
		return fchmod(fd, a.Mode)
	}
	return fchown(fd, int(deref(a.Uid)), int(deref(a.Gid)))
}

// markOf returns the marker of name in dir.
func markOf(dir int, name string) string { return readMark(dir, name) }

// finish is OpFinish.
func (x *executor) finish(a *Action) error {
	tdir, err := x.dir(a.to, path.Dir(a.LinkTo))
	if err != nil {
		return err
	}
	if a.from >= 0 {
		for _, n := range append([]string{a.Path}, a.Links...) {
			sdir, err := x.dir(a.from, path.Dir(n))
			if err != nil {
				return err
			}
			if markOf(sdir, path.Base(n)) != a.mark {
				return errSkip{"the interrupted move's marker changed since the plan"}
			}
			d, err := x.mkdirs(a.from, a.to, path.Dir(n))
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if err := fstatat(d, path.Base(n), &st); err == unix.ENOENT {
				if err := linkat(tdir, path.Base(a.LinkTo), d, path.Base(n)); err != nil {
					return fmt.Errorf("link %s on %s: %w", n, a.To, err)
				}
				if err := syncDirFd(d); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			if err := unlinkat(sdir, path.Base(n)); err != nil && err != unix.ENOENT {
				return err
			}
		}
	}
	return clearMark(tdir, path.Base(a.LinkTo))
}

// abandon is OpAbandon.
func (x *executor) abandon(a *Action) error {
	d, err := x.dir(a.from, path.Dir(a.Path))
	if err != nil {
		return err
	}
	if markOf(d, path.Base(a.Path)) != a.mark {
		return errSkip{"the interrupted move's marker changed since the plan"}
	}
	return clearMark(d, path.Base(a.Path))
}

// clean is OpClean: fileio.CleanTemps on the directory, or, when some
// temp file there is in use, the planned names one by one.
func (x *executor) clean(a *Action) error {
	d, err := x.dir(a.from, a.Path)
	if err != nil {
		return err
	}
	if !a.partial {
		// The plan left out temps younger than the grace period, and
		// CleanTemps with the same grace leaves them too.
		_, err := fileio.CleanTemps(d, a.grace)
		return err
	}
	for _, n := range a.Names {
		if !fileio.IsTempName(n) {
			continue
		}
		if err := unlinkat(d, n); err != nil && err != unix.ENOENT {
			return err
		}
	}
	return nil
}
