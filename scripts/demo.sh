#!/usr/bin/env bash
# make demo: builds three demo branches in a temp dir this script owns and
# shows what mfs does with them. Removes everything it made on exit.
set -euo pipefail
MFS=${1:-bin/mfs}
MFS=$(realpath "$MFS")
work=$(mktemp -d /tmp/mfs-demo.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

b1=$work/disk1 b2=$work/disk2 b3=$work/disk3
mkdir -p "$b1/media/films" "$b2/media/music" "$b3/backup"
echo "film" >"$b1/media/films/a.mkv"
echo "song" >"$b2/media/music/b.flac"
echo "old"  >"$b3/backup/notes.txt"
echo "dup on disk1" >"$b1/media/readme.txt"
echo "dup on disk2" >"$b2/media/readme.txt"
branches="$b1:$b2=NC:$b3"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "mfs version"
"$MFS" version

say "mfs explain BRANCHES /media/music/new.flac   (default policies: create=pfrd, action=epall, search=ff)"
"$MFS" explain "$branches" /media/music/new.flac -o minfreespace=1M --func create,mkdir,getattr,unlink | sed "s#$work/##g"

say "mfs explain BRANCHES /media/readme.txt -o category.create=epff,func.getattr=newest"
"$MFS" explain "$branches" /media/readme.txt -o category.create=epff,func.getattr=newest,minfreespace=1M --func create,getattr,open,unlink | sed "s#$work/##g"

say "mfs explain BRANCHES /backup/x -o category.create=mfs,minfreespace=100T   (both branches below minfreespace)"
"$MFS" explain "$b1:$b3" /backup/x -o category.create=mfs,minfreespace=100T --func create | sed "s#$work/##g" || true

say "mfs explain with a typo in an option"
"$MFS" explain "$branches" /x -o cache.file=full || true

# --- the pool for one command, without any mount ---
say "mfs run --stats - --union /pool=DISK1:DISK2=NC:DISK3 -- sh -c '...'   (no mount, no root, no FUSE: a seccomp supervisor; --stats -: what it cost)"
"$MFS" run --stats - --union /pool="$branches" -o minfreespace=1M -- sh -c '
	echo "ls /pool/media:"; ls /pool/media
	echo "cat /pool/media/readme.txt: $(cat /pool/media/readme.txt)"
	mkdir -p /pool/backup/2026 && echo saved > /pool/backup/2026/run.txt
	cd /pool/backup/2026 && echo "pwd: $(pwd)"'
echo "where run.txt landed:"; (cd "$work" && ls -d disk*/backup/2026/run.txt)
echo "/pool itself does not exist outside the command:"; ls -d /pool 2>&1 || true

# --- the pool as a mount (needs FUSE: /dev/fuse and root or fusermount3) ---
mnt=$work/pool
mkdir -p "$mnt"
if [ -e /dev/fuse ]; then
	unmount() { fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true; }
	trap 'unmount; cleanup' EXIT
	say "mfs mount DISK1:DISK2=NC:DISK3 POOL -o category.create=mfs,minfreespace=1M   (backgrounds once mounted, like mergerfs)"
	"$MFS" mount "$branches" "$mnt" -o category.create=mfs,minfreespace=1M
	grep " $mnt " /proc/mounts | sed "s#$work/##g"

	say "ls -R POOL   (the three disks as one tree; readme.txt from disk1 wins over disk2's copy)"
	(cd "$mnt" && ls -R . && cat media/readme.txt)

	say "echo hello > POOL/media/music/new.flac; where did it land?"
	echo hello >"$mnt/media/music/new.flac"
	getfattr -n user.mergerfs.fullpath --only-values "$mnt/media/music/new.flac" 2>/dev/null | sed "s#$work/##g"; echo

	say "getfattr -n user.mergerfs.allpaths POOL/media/readme.txt   (every copy of a file)"
	getfattr -n user.mergerfs.allpaths --only-values "$mnt/media/readme.txt" 2>/dev/null | tr '\0' '\n' | sed "s#$work/##g"

	say "mfs ctl POOL set category.create ff   (change a policy while mounted), then create again"
	"$MFS" ctl "$mnt" set category.create ff
	echo again >"$mnt/media/music/second.flac"
	getfattr -n user.mergerfs.fullpath --only-values "$mnt/media/music/second.flac" 2>/dev/null | sed "s#$work/##g"; echo
	"$MFS" ctl "$mnt" branches | sed "s#$work/##g"
	unmount
else
	say "skipping the mount demo: /dev/fuse is missing"
fi
