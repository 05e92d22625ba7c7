#!/usr/bin/env bash
# make bench-report: reruns the benchmark set bench/RESULTS.md analyses and
# replaces everything below its "generated below" marker with the new
# tables (one section per run, `mfs bench --markdown`). The hand-written
# analysis above the marker is kept and must be re-read against them.
# bench/RESULTS.html becomes the page of the quick pinned run. Takes about
# 40-60 minutes; run it on a quiet machine. BENCH_REPORT=quick runs only the
# two quick sets (a few minutes), BENCH_REPORT=reps adds the full-size
# representatives (about 15 more), the default (full) adds the catalogue.
set -euo pipefail
MFS=$(realpath "${1:-bin/mfs}")
RESULTS=${2:-bench/RESULTS.md}
marker='<!-- generated below: make bench-report replaces everything after this line -->'
grep -qF -- "$marker" "$RESULTS" || { echo "bench-report: no marker line in $RESULTS" >&2; exit 1; }

out=$(mktemp -d /tmp/mfs-bench-report.XXXXXX)
trap 'rm -rf "$out"' EXIT
modes=native,run,mount,mount-passthrough,mergerfs
reps=create-10000,read-1m-warm,list-stat-10000,ls-l-10000,rsync-10000,rsync-noop-10000
all=$modes,mount-defaults,mergerfs-defaults

run() { # name, then mfs bench arguments
	local name=$1; shift
	echo "bench-report: $name: mfs bench $*" >&2
	"$MFS" bench "$@" --markdown "$out/$name.md" --json "$out/$name.json" --html "$out/$name.html" >&2
}
run quick-unpinned --quick --runs 3 --modes "$modes"
run quick-pinned --quick --runs 3 --modes "$modes" --pin 0
level=${BENCH_REPORT:-full}
case $level in quick | reps | full) ;; *) echo "bench-report: BENCH_REPORT=$level: want quick, reps or full" >&2; exit 2 ;; esac
if [ "$level" != quick ]; then
	run reps-unpinned --scenarios "$reps" --runs 3 --modes "$all"
	run reps-pinned --scenarios "$reps" --runs 3 --modes "$all" --pin 0
fi
if [ "$level" = full ]; then
	run full --runs 3 --modes "$modes,overlay"
fi

new=$(mktemp "$RESULTS.XXXXXX")
{
	sed -n "1,/^${marker//\//\\/}\$/p" "$RESULTS"
	for f in "$out"/quick-unpinned.md "$out"/quick-pinned.md "$out"/reps-unpinned.md "$out"/reps-pinned.md "$out"/full.md; do
		[ -f "$f" ] || continue
		echo
		cat "$f"
	done
} >"$new"
mv "$new" "$RESULTS"
cp "$out/quick-pinned.html" "$(dirname "$RESULTS")/RESULTS.html"
echo "bench-report: $RESULTS regenerated below the marker; re-read the analysis above it" >&2
