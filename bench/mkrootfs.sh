#!/bin/bash
# mkrootfs against lddtree --copy-to-tree (pax-utils) and the document's
# ldd + cp loop, with hyperfine, side by side in one run:
#  1. bash, ls, id and python3 into a fresh tree (goal: >= 10x faster than lddtree);
#  2. every ELF program of /usr/bin and /usr/sbin into one fresh tree, against lddtree;
#  3. (info) re-running mkrootfs on an up-to-date tree (incremental);
#  4. ~35 varied programs of /usr/bin (llvm and java tools among them, issue 15):
#     mkrootfs's three ways of placing files (copy_file_range, --link, --reflink)
#     against lddtree;
#  5. --import of a big layer (LAYER_SRC, default /usr/lib/x86_64-linux-gnu, as tar, gzip and
#     zstd) against GNU tar -x and umoci raw unpack (gzip, the layer umoci insert wrote), and
#     against an older mkrootfs when MKROOTFS_OLD names one (before/after).
# Each command starts from an empty tree, synced to disk (hyperfine --prepare: the
# writeback of the last tree would otherwise land in the next run).  The ratio
# printed is the peer's mean time divided by ours.
# Usage: bench/mkrootfs.sh [RUNS]    (default 10; 3 for the big cases)
#        CASES=4 bench/mkrootfs.sh   runs only the cases named (digits; default: all)
#        BIG_RUNS=N                  runs of the big cases (2, 4, 5)
set -euo pipefail

runs=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
for t in hyperfine lddtree ldd python3; do
    command -v "$t" >/dev/null || { echo "bench/mkrootfs.sh: needs $t (apt-get install hyperfine pax-utils)" >&2; exit 1; }
done
(cd "$root" && cargo build -q --release -p mkrootfs)
MK="$target/release/mkrootfs"
# lddtree is a python3 script that needs the system python (python3-pyelftools)
LDDTREE="env PATH=/usr/bin:/bin lddtree"

work=$(mktemp -d /tmp/mkrootfs-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The document's method: ldd | egrep -o '/lib.*\.[0-9]' | cp, plus the programs.
cat >"$work/naive.sh" <<'EOF'
#!/bin/bash
dest=$1; shift
mkdir -p "$dest"/{bin,lib,lib64}
for p in "$@"; do
    path=$(command -v "$p")
    mkdir -p "$dest$(dirname "$path")"; cp "$path" "$dest$path"
    for l in $(ldd "$path" | egrep -o '/lib.*\.[0-9]'); do
        mkdir -p "$dest$(dirname "$l")"; cp "$l" "$dest$l"
    done
done
EOF
chmod +x "$work/naive.sh"

progs="/usr/bin/bash /usr/bin/ls /usr/bin/id /usr/bin/python3"
mapfile -t all < <(find /usr/bin /usr/sbin -maxdepth 1 -type f -perm -u+x -print0 | xargs -0 file -N -F '|' | awk -F'|' '/ELF/ {print $1}' | sort)
echo "programs for case 2: ${#all[@]} ELF files"
printf '%s\n' "${all[@]}" >"$work/all.txt"

ratio() { # json, name of ours, name of peer
    python3 - "$@" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours = r[sys.argv[2]]
cpu = lambda x: x["user"] + x["system"]
for peer in sys.argv[3:]:
    p = r[peer]
    print(f"  {peer:>10}: {p['mean']*1000:9.1f} ms   mkrootfs: {ours['mean']*1000:8.1f} ms   ratio {p['mean']/ours['mean']:6.1f}x"
          f"   (CPU {cpu(p):.2f} s vs {cpu(ours):.2f} s: {cpu(p)/cpu(ours):.1f}x)")
EOF
}

want() { [[ ${CASES:-12345} == *$1* ]]; }
big=${BIG_RUNS:-$(( runs < 3 ? runs : 3 ))}

if want 1; then
echo "== 1. bash ls id python3 into a fresh tree"
hyperfine -N -w 2 -r "$runs" --export-json "$work/small.json" \
    --prepare "sh -c 'rm -rf $work/t && sync'" \
    -n mkrootfs "$MK $work/t $progs" \
    -n lddtree "$LDDTREE --copy-to-tree $work/t $progs" \
    -n ldd+cp "$work/naive.sh $work/t $progs"
ratio "$work/small.json" mkrootfs lddtree ldd+cp
fi

if want 2; then

echo "== 2. every ELF in /usr/bin and /usr/sbin (${#all[@]}) into one fresh tree"
hyperfine -i -w 1 -r "$big" --export-json "$work/big.json" \
    --prepare "sh -c 'rm -rf $work/t && sync'" \
    -n mkrootfs "$MK $work/t - < $work/all.txt" \
    -n lddtree "$LDDTREE --copy-to-tree $work/t \$(cat $work/all.txt) >/dev/null"
ratio "$work/big.json" mkrootfs lddtree
fi

if want 3; then

echo "== 3. re-run on an up-to-date tree (incremental; info)"
rm -rf "$work/t"; "$MK" "$work/t" $progs
hyperfine -N -w 2 -r "$runs" -n "mkrootfs again" "$MK $work/t $progs"
echo "tree sizes: mkrootfs $(du -sh "$work/t" | cut -f1)"
fi

if want 4; then

# Big, varied programs: the first 35 of these that are ELF programs here.
varied=()
for p in node x86_64-linux-gnu-lto-dump-12 java javac jshell keytool llvm-ar llvm-objdump \
    llvm-nm llvm-readelf opt llc gdb perf python3 perl vim.basic qemu-img x86_64-linux-gnu-ld.gold \
    x86_64-linux-gnu-gcc-12 x86_64-linux-gnu-as strace systemctl ssh gpg curl openssl \
    sqlite3 make tar xz zstd bash ls ps find grep sed jq file less dash git rsync wget; do
    f=/usr/bin/$p
    [ -e "$f" ] && file -L -b "$f" | grep -q '^ELF' || continue
    varied+=("$f")
    [ ${#varied[@]} -lt 35 ] || break
done
echo "== 4. ${#varied[@]} varied programs (copy, --link, --reflink) against lddtree"
printf '%s\n' "${varied[@]}" >"$work/varied.txt"
"$MK" "$work/v" - <"$work/varied.txt"
echo "tree: $(du -sm "$work/v" | cut -f1) MB on $(stat -f -c %T "$work"), the same file system as /usr/bin: $([ "$(stat -c %d "$work")" = "$(stat -c %d /usr/bin/)" ] && echo yes || echo no)"
rm -rf "$work/v"
hyperfine -i -w 1 -r "$big" --export-json "$work/varied.json" \
    --prepare "sh -c 'rm -rf $work/t && sync'" \
    -n copy "$MK $work/t - < $work/varied.txt" \
    -n link "$MK --link $work/t - < $work/varied.txt" \
    -n reflink "$MK --reflink $work/t - < $work/varied.txt" \
    -n lddtree "$LDDTREE --copy-to-tree $work/t \$(cat $work/varied.txt) >/dev/null"
for m in copy link reflink; do
    echo " mkrootfs ($m):"
    ratio "$work/varied.json" "$m" lddtree
done
fi

if want 5; then
src=${LAYER_SRC:-/usr/lib/x86_64-linux-gnu}
echo "== 5. --import of a layer of $src ($(du -sm "$src" | cut -f1) MB)"
# at its own path, so that its relative links stay inside the layer's root, with its
# parent directories first (as image layers have them)
rel=${src#/}
mapfile -t parents < <(p=$rel; while p=$(dirname "$p"); [ "$p" != . ]; do echo "$p"; done | tac)
tar --numeric-owner -C / --no-recursion -cf "$work/layer.tar" "${parents[@]}"
tar --numeric-owner -C / -rf "$work/layer.tar" "$rel"
gzip -c "$work/layer.tar" >"$work/layer.tar.gz"
have_zstd=0
if command -v zstd >/dev/null; then
    zstd -q -c "$work/layer.tar" >"$work/layer.tar.zst" && have_zstd=1
fi
echo "layer: $(du -m "$work/layer.tar" | cut -f1) MB tar, $(du -m "$work/layer.tar.gz" | cut -f1) MB gzip"
prep="sh -c 'rm -rf $work/u && sync'"
old=()
if [ -n "${MKROOTFS_OLD:-}" ]; then
    old=(-n "old tar" "$MKROOTFS_OLD --import $work/layer.tar $work/u"
        -n "old gzip" "$MKROOTFS_OLD --import $work/layer.tar.gz $work/u")
fi
umoci=()
if command -v umoci >/dev/null; then
    # umoci's own layout: one layer, as umoci insert writes it (gzip)
    umoci init --layout "$work/oci" >/dev/null
    umoci new --image "$work/oci:l" >/dev/null
    umoci insert --image "$work/oci:l" "$src" "$src" >/dev/null
    umoci=(-n "umoci gzip" "umoci raw unpack --image $work/oci:l $work/u")
fi
zst=()
if [ $have_zstd = 1 ]; then
    zst=(-n "mkrootfs zstd" "$MK --import $work/layer.tar.zst $work/u"
        -n "tar zstd" "sh -c 'mkdir $work/u && tar --zstd -xf $work/layer.tar.zst -C $work/u'")
fi
hyperfine -w 1 -r "$big" --export-json "$work/import.json" --prepare "$prep" \
    -n "mkrootfs tar" "$MK --import $work/layer.tar $work/u" \
    -n "mkrootfs gzip" "$MK --import $work/layer.tar.gz $work/u" \
    "${zst[@]}" \
    -n "tar tar" "sh -c 'mkdir $work/u && tar -xf $work/layer.tar -C $work/u'" \
    -n "tar gzip" "sh -c 'mkdir $work/u && tar -xzf $work/layer.tar.gz -C $work/u'" \
    "${umoci[@]}" "${old[@]}"
for f in tar gzip zstd; do
    peers=("tar $f")
    [ "$f" = gzip ] && [ ${#umoci[@]} -gt 0 ] && peers+=("umoci gzip")
    [ ${#old[@]} -gt 0 ] && [ "$f" != zstd ] && peers+=("old $f")
    [ "$f" = zstd ] && [ $have_zstd = 0 ] && continue
    echo " mkrootfs --import ($f):"
    ratio "$work/import.json" "mkrootfs $f" "${peers[@]}"
done
fi
