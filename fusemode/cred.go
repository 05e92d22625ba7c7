package fusemode

import (
	"bytes"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/mfs-union/mfs/vfs"
)

// FUSE tells the server only the caller's uid, gid and pid. The
// supplementary groups come from /proc/PID/status (the "Groups:" line of the
// calling thread), or, when that is gone (the process exited, or lives in a
// pid namespace the server cannot see and the kernel sent pid 0), from the
// group database as initgroups(3) would build them. The umask only comes with
// create, mkdir and mknod.

const (
	groupsTTL     = time.Second      // per-pid cache: a process rarely calls setgroups
	initgroupsTTL = 60 * time.Second // per-uid fallback from the group database
	credCacheMax  = 4096
)

type groupsEntry struct {
	uid, gid uint32
	groups   []uint32
	at       time.Time
}

type credCache struct {
	mu     sync.Mutex
	byPid  map[uint32]groupsEntry
	byUser map[uint32]groupsEntry
	now    func() time.Time
}

func newCredCache() *credCache {
	return &credCache{byPid: map[uint32]groupsEntry{}, byUser: map[uint32]groupsEntry{}, now: time.Now}
}

// cred builds the caller identity of a request. Supplementary groups are only
// looked up when they can matter: the server runs as root (otherwise vfs acts
// with the server's own identity) and the caller is not root.
func (r *rawFS) cred(h *fuse.InHeader, umask uint32) *vfs.Cred {
	c := &vfs.Cred{Uid: h.Uid, Gid: h.Gid, Pid: int32(h.Pid), Umask: umask}
	if r.asRoot && h.Uid != 0 {
		c.Groups = r.creds.groups(h.Pid, h.Uid, h.Gid)
	}
	return c
}

func (cc *credCache) groups(pid, uid, gid uint32) []uint32 {
	now := cc.now()
	cc.mu.Lock()
	if e, ok := cc.byPid[pid]; ok && pid != 0 && e.uid == uid && e.gid == gid && now.Sub(e.at) < groupsTTL {
		cc.mu.Unlock()
		return e.groups
	}
	cc.mu.Unlock()
	if pid != 0 {
		if g, ok := procGroups(pid); ok {
			cc.store(cc.byPid, pid, groupsEntry{uid, gid, g, now})
			return g
		}
	}
	cc.mu.Lock()
	if e, ok := cc.byUser[uid]; ok && e.gid == gid && now.Sub(e.at) < initgroupsTTL {
		cc.mu.Unlock()
		return e.groups
	}
	cc.mu.Unlock()
	g := dbGroups(uid, gid)
	cc.store(cc.byUser, uid, groupsEntry{uid, gid, g, now})
	return g
}

func (cc *credCache) store(m map[uint32]groupsEntry, k uint32, e groupsEntry) {
	cc.mu.Lock()
	if len(m) >= credCacheMax {
		clear(m)
	}
	m[k] = e
	cc.mu.Unlock()
}

// procGroups reads the Groups: line of /proc/PID/status.
func procGroups(pid uint32) ([]uint32, bool) {
	data, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return nil, false
	}
	return parseGroupsLine(data)
}

// parseGroupsLine extracts the ids of the "Groups:" line of a status file.
func parseGroupsLine(status []byte) ([]uint32, bool) {
	const key = "\nGroups:"
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return nil, false
	}
	line := status[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	var out []uint32
	for _, f := range bytes.Fields(line) {
		v, err := strconv.ParseUint(string(f), 10, 32)
		if err != nil {
			return nil, false
		}
		out = append(out, uint32(v))
	}
	return out, true
}

// dbGroups is the initgroups(3) fallback: the groups the user database lists
// for uid, plus its primary gid.
func dbGroups(uid, gid uint32) []uint32 {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return []uint32{gid}
	}
	ids, err := u.GroupIds()
	if err != nil {
		return []uint32{gid}
	}
	out := []uint32{gid}
	for _, s := range ids {
		v, err := strconv.ParseUint(s, 10, 32)
		if err == nil && uint32(v) != gid {
			out = append(out, uint32(v))
		}
	}
	return out
}
