#!/bin/bash
# unionmount against its peers, side by side (hyperfine), as root:
#  1. mount + umount of a 2-layer union: `unionmount` vs `mount -t overlay` +
#     `umount` (goal: ratio <= 1.1);
#  2. read and write throughput and a metadata walk (find + stat over
#     10,000 files) through the union, on the same branches (a writable
#     upper over a read-only lower): unionmount's FUSE backend against
#     unionfs-fuse and fuse-overlayfs, the kernel's overlay (unionmount's
#     default) as the ceiling, a plain directory for reference.
# Everything happens on a tmpfs inside a private mount namespace: nothing is
# left mounted.  Usage: bench/unionmount.sh [SIZE_MIB]   (default 256)
set -euo pipefail

if [ "${UNIONMOUNT_BENCH_INNER:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "bench/unionmount.sh: run it as root" >&2; exit 1; }
    for t in hyperfine unionfs fuse-overlayfs python3; do
        command -v "$t" >/dev/null || { echo "bench/unionmount.sh: needs $t" >&2; exit 1; }
    done
    root=$(cd "$(dirname "$0")/.." && pwd)
    target=${CARGO_TARGET_DIR:-$root/target}
    (cd "$root" && cargo build -q --release -p unionmount)
    export U="$target/release/unionmount" UNIONMOUNT_BENCH_INNER=1
    exec unshare -m --propagation private "$0" "$@"
fi

size=${1:-256}
work=$(mktemp -d /tmp/unionmount-bench.XXXXXX)
pids=()
cleanup() {
    for m in "$work"/c-*; do umount -l "$m" 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    umount -l "$work" 2>/dev/null || true
    rmdir "$work" 2>/dev/null || true
}
trap cleanup EXIT
mount -t tmpfs -o size=$((size * 6 + 512))m unionbench "$work"
cd "$work"
mkdir -p lower upper mnt plain w2
head -c "${size}M" /dev/urandom > lower/big
mkdir lower/tree
(cd lower/tree && seq 1 10000 | sed 's/^/f/' | xargs touch)
cp -a lower/. plain/
echo
echo "== mount + umount of a 2-layer union (lower, upper) =="
n=200
loop() { echo "for i in \$(seq $n); do $1 && $2 || exit 1; done"; }
hyperfine -N --warmup 1 --runs 5 --export-json mount.json \
    -n "unionmount + unionmount -u" "bash -c '$(loop "$U --lower $work/lower --upper $work/upper --work $work/w1 $work/mnt" "$U -u $work/mnt")'" \
    -n "mount -t overlay + umount" "bash -c '$(loop "mount -t overlay overlay -o lowerdir=$work/lower,upperdir=$work/upper,workdir=$work/w2 $work/mnt" "umount $work/mnt")'" >/dev/null
python3 - mount.json $n <<'PY'
import json, sys
n = int(sys.argv[2])
a, b = json.load(open(sys.argv[1]))["results"]
for r in (a, b):
    print(f"{r['command']:<28} {r['mean']/n*1e3:8.3f} ms per mount+umount (± {r['stddev']/n*1e3:.3f})")
print(f"{'ratio (goal <= 1.1)':<28} {a['mean']/b['mean']:8.3f}")
PY

# The four views of the same content.
mkdir -p c-overlay c-fuse c-unionfs c-fuseovl u-fuse u-unionfs u-fuseovl w-fuseovl
rm -rf upper/* upper/.[!.]* 2>/dev/null || true
"$U" --lower "$work/lower" --upper "$work/upper" "$work/c-overlay"
"$U" --fuse --lower "$work/lower" --upper "$work/u-fuse" "$work/c-fuse"
unionfs -o cow,allow_other,use_ino "$work/u-unionfs=RW:$work/lower=RO" "$work/c-unionfs"
fuse-overlayfs -o "lowerdir=$work/lower,upperdir=$work/u-fuseovl,workdir=$work/w-fuseovl" "$work/c-fuseovl"
ln -s "$work/plain" c-plain 2>/dev/null || true
views="plain overlay fuse unionfs fuseovl"
echo
echo "== throughput: read ${size} MiB, write ${size} MiB, find + stat 10000 files =="
args=()
for v in $views; do
    args+=(-n "read $v" "cat $work/c-$v/big")
done
hyperfine -N --warmup 2 --runs 10 --export-json read.json --output=null "${args[@]}" >/dev/null
args=()
for v in $views; do
    args+=(-n "write $v" "dd if=$work/plain/big of=$work/c-$v/new bs=1M status=none")
done
hyperfine -N --warmup 2 --runs 10 --export-json write.json "${args[@]}" >/dev/null
args=()
for v in $views; do
    args+=(-n "stat $v" "find $work/c-$v/tree/ -type f -printf %s%i%m")
done
hyperfine -N --warmup 2 --runs 10 --export-json stat.json --output=null "${args[@]}" >/dev/null
python3 - "$size" read.json write.json stat.json <<'PY'
import json, sys
size = int(sys.argv[1])
names = {"plain": "plain directory", "overlay": "unionmount (overlayfs)",
         "fuse": "unionmount --fuse", "unionfs": "unionfs-fuse -o cow",
         "fuseovl": "fuse-overlayfs"}
res = {}
for f in sys.argv[2:]:
    for r in json.load(open(f))["results"]:
        kind, view = r["command"].split(" ", 1)
        res[(kind, view)] = r["mean"]
print(f"| {'view':<24} | {'read MiB/s':>10} | {'write MiB/s':>11} | {'find+stat 10000 ms':>18} |")
print(f"|{'-'*26}|{'-'*12}|{'-'*13}|{'-'*20}|")
for v in ["plain", "overlay", "fuse", "unionfs", "fuseovl"]:
    rd, wr, st = res[("read", v)], res[("write", v)], res[("stat", v)]
    print(f"| {names[v]:<24} | {size/rd:10.0f} | {size/wr:11.0f} | {st*1e3:18.2f} |")
print()
print("unionmount --fuse against each (throughput ratio, > 1 is faster):")
for v in ["unionfs", "fuseovl", "overlay"]:
    r = [res[(k, v)] / res[(k, "fuse")] for k in ("read", "write", "stat")]
    print(f"  vs {names[v]:<24} read {r[0]:.2f}  write {r[1]:.2f}  find+stat {r[2]:.2f}")
PY