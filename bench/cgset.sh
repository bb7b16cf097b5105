#!/bin/sh
# cgset against libcgroup's tools (cgroup-tools), doing the same job:
# make a group below our own cgroup with a 64M memory limit and 512 CPU
# shares, and run `true` in it.
#   ours:      cgset -m 64m -c 512 ./G -- true
#   libcgroup: cgcreate -g cpu:G -g memory:G; cgset -r ...; cgexec -g cpu:G -g memory:G true
# Two cases: the group exists already (steady), and it is made each time
# (fresh: removed before every run).  Needs root, hyperfine, cgroup-tools,
# and a v1 or hybrid host (libcgroup 2.0's tools and these paths are v1).
# Goal: ratio ours/libcgroup <= 0.5.
# Then the cost of docker's device policy on a start: `cgset -m 64m -c 512
# --device-default ./G -- true` against the same without --device-default
# (steady and fresh; v1: one more directory, 13 writes, one more join), and
# on the cgroup2 hierarchy the BPF program's cost.  CGSET_BENCH=devices runs
# only these.
set -eu
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
cargo build -q --release -p cgset
CG="$CARGO_TARGET_DIR/release/cgset"
for t in hyperfine cgcreate cgset cgexec cgdelete; do
    command -v "$t" >/dev/null || { echo "bench/cgset.sh: $t not found (apt-get install hyperfine cgroup-tools)" >&2; exit 1; }
done
LC_CGSET=$(command -v cgset)
own() { awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup; }
CPU=$(own cpu); MEM=$(own memory)
CPU=${CPU%/}; MEM=${MEM%/}
N=cgset-bench-$$
OURS="./$N-ours"
LC_CPU="$CPU/$N-lc"; LC_MEM="$MEM/$N-lc"
lc="cgcreate -g cpu:$LC_CPU -g memory:$LC_MEM && $LC_CGSET -r cpu.shares=512 $LC_CPU && $LC_CGSET -r memory.limit_in_bytes=64M $LC_MEM && cgexec -g cpu:$LC_CPU -g memory:$LC_MEM true"
ours="$CG -m 64m -c 512 $OURS -- true"
del_ours="$CG --delete $OURS 2>/dev/null || true"
DEV="./$N-dev"
dev="$CG -m 64m -c 512 --device-default $DEV -- true"
del_dev="$CG --delete $DEV 2>/dev/null || true"
del_lc="cgdelete -g cpu:$LC_CPU 2>/dev/null; cgdelete -g memory:$LC_MEM 2>/dev/null; true"
cleanup() { sh -c "$del_ours"; sh -c "$del_dev"; sh -c "$del_lc"; rm -f "$TMP"; }
TMP=$(mktemp)
trap cleanup EXIT
sh -c "$ours"; sh -c "$lc"
ratio() {
    awk -F, 'NR == 2 { a = $2 } NR == 3 { b = $2 } END { printf "%s: ours %.2f ms, libcgroup %.2f ms, ratio %.2f (goal <= 0.5)\n", name, a * 1000, b * 1000, a / b }' name="$1" "$TMP"
}
if [ "${CGSET_BENCH:-all}" != devices ]; then
    hyperfine -N --warmup 5 --runs 100 --export-csv "$TMP" -n "cgset (ours)" "sh -c '$ours'" -n "cgcreate+cgset+cgexec" "sh -c '$lc'"
    ratio steady
    hyperfine -N --warmup 3 --runs 50 --export-csv "$TMP" \
        -n "fresh cgset (ours)" --prepare "sh -c '$del_ours'" "sh -c '$ours'" \
        -n "fresh cgcreate+cgset+cgexec" --prepare "sh -c '$del_lc'" "sh -c '$lc'"
    ratio fresh
fi
sh -c "$dev"
# Medians (the machine is shared: means are noisy), three rounds each.
devratio() {
    awk -F, 'NR == 2 { a = $4; am = $7 } NR == 3 { b = $4; bm = $7 } END { printf "%s: median %.2f ms with, %.2f ms without, ratio %.2f (+%.2f ms); min %.2f vs %.2f ms\n", name, a * 1000, b * 1000, a / b, (a - b) * 1000, am * 1000, bm * 1000 }' name="$1" "$TMP"
}
for round in 1 2 3; do
    hyperfine -N --style none --warmup 5 --runs 100 --export-csv "$TMP" -n "cgset --device-default" "sh -c '$dev'" -n "cgset" "sh -c '$ours'"
    devratio "v1 devices steady, round $round"
    hyperfine -N --style none --warmup 3 --runs 60 --export-csv "$TMP" \
        -n "fresh cgset --device-default" --prepare "sh -c '$del_dev'" "sh -c '$dev'" \
        -n "fresh cgset" --prepare "sh -c '$del_ours'" "sh -c '$ours'"
    devratio "v1 devices fresh, round $round"
done
# cgroup v2: the BPF program's load and attach, on the hybrid's cgroup2
# hierarchy when there is one (a group at its top: --root makes it the base).
U=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$U" ]; then
    V2="$CG --root $U"
    v2dev="$V2 --device-default /$N-v2dev -- true"
    v2="$V2 /$N-v2 -- true"
    cleanup() { sh -c "$del_ours"; sh -c "$del_dev"; sh -c "$del_lc"; $V2 --delete /$N-v2dev /$N-v2 2>/dev/null; rm -f "$TMP"; }
    sh -c "$v2dev"; sh -c "$v2"
    for round in 1 2 3; do
        hyperfine -N --style none --warmup 5 --runs 100 --export-csv "$TMP" -n "v2 --device-default" "sh -c '$v2dev'" -n "v2" "sh -c '$v2'"
        devratio "v2 device program steady (load, attach, detach the old one), round $round"
    done
fi
