package vfs

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/config"
)

// controlAttr is the stat of the control file: a regular file, 0664, size 0,
// owned by the server.
func (p *Pool) controlAttr() Attr {
	var st unix.Stat_t
	st.Mode = unix.S_IFREG | 0o664
	st.Nlink = 1
	st.Uid, st.Gid = p.uid, p.gid
	now := unix.NsecToTimespec(time.Now().UnixNano())
	st.Atim, st.Mtim, st.Ctim = now, now, now
	ino := pathHash(ControlFile)
	st.Ino = ino
	return Attr{Stat: st, Branch: -1, Ino: ino}
}

func (p *Pool) getOption(key string) (string, unix.Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.PID = os.Getpid()
	return p.opts.Get(key)
}

func (p *Pool) optionKeys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return config.Keys()
}

// setOption changes an option at run time. Like mergerfs, only root may
// change settings (EPERM otherwise). The new configuration is built completely
// and swapped in; on any error nothing changes.
func (p *Pool) setOption(c *Cred, key, value string) unix.Errno {
	if c != nil && c.Uid != 0 {
		return unix.EPERM
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	next := p.opts.Clone()
	if e := next.Set(key, value); e != 0 {
		return e
	}
	s, err := p.build(next)
	if err != nil {
		return unix.EINVAL
	}
	p.opts = next
	p.st.Store(s)
	return 0
}

// command runs a control-file command (setxattr user.mergerfs.cmd.<name>).
// mergerfs's commands release caches it keeps (gc, gc1: memory pools;
// invalidate-all-nodes: the kernel's dentries; gid-cache.*: group lists);
// vfs keeps no such caches, so the known commands succeed and change nothing.
// The FUSE front end acts on invalidate-all-nodes itself.
func (p *Pool) command(c *Cred, name string) unix.Errno {
	if c != nil && c.Uid != 0 {
		return unix.EPERM
	}
	switch name {
	case "gc", "gc1", "invalidate-all-nodes", "invalidate-gid-cache", "clear-gid-cache":
		return 0
	}
	return unix.ENODATA
}
