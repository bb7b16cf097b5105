#!/bin/sh
# unshare-rs against util-linux unshare, doing the same job: new pid, mount,
# uts, ipc and net namespaces, fork, run `true`, wait.
#   ours:       unshare-rs --fork --pid --mount --uts --ipc --net true
#   util-linux: unshare    --fork --pid --mount --uts --ipc --net true
# Ours also keeps its init as pid 1 (one more process) and forwards
# signals; a third command shows the cost of that init (--no-init).  A
# second set adds --mount-proc.
# The machine may be shared: ROUNDS short hyperfine runs alternate the
# commands; each round takes medians, and the figures reported are the
# medians over the rounds.  The CPU-time ratio (user+system of all the
# processes) is steadier than wall time on a loaded machine.
# Needs root and hyperfine.  Goal: ratio ours/util-linux <= 1.0.
set -eu
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
: "${ROUNDS:=7}" "${RUNS:=60}"
cargo build -q --release -p unshare-rs
US="$CARGO_TARGET_DIR/release/unshare-rs"
for t in hyperfine unshare; do
    command -v "$t" >/dev/null || { echo "bench/unshare.sh: $t not found (apt-get install hyperfine util-linux)" >&2; exit 1; }
done
LC=$(command -v unshare)
TMP=$(mktemp)
ALL=$(mktemp)
trap 'rm -f "$TMP" "$ALL"' EXIT
bench() {
    name=$1; shift
    : >"$ALL"
    i=0
    while [ "$i" -lt "$ROUNDS" ]; do
        hyperfine -N --style none --warmup 5 --runs "$RUNS" --export-csv "$TMP" \
            -n ours "$US $*" -n util-linux "$LC $*" -n ours-no-init "$US --no-init $*" >/dev/null 2>&1
        awk -F, 'NR == 2 { a = $4; x = $5 + $6 } NR == 3 { b = $4; y = $5 + $6 } NR == 4 { c = $4 } END { print a, b, c, x, y }' "$TMP" >>"$ALL"
        i=$((i + 1))
    done
    med() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    a=$(awk '{ print $1 * 1000 }' "$ALL" | med)
    b=$(awk '{ print $2 * 1000 }' "$ALL" | med)
    c=$(awk '{ print $3 * 1000 }' "$ALL" | med)
    r=$(awk '{ print $1 / $2 }' "$ALL" | med)
    q=$(awk '{ print $3 / $2 }' "$ALL" | med)
    u=$(awk '{ print $4 / $5 }' "$ALL" | med)
    printf '%s: ours %.2f ms, util-linux %.2f ms, ratio %.2f (goal <= 1.0); without the init %.2f ms, ratio %.2f; CPU time (user+sys) ratio %.2f [medians of %s rounds]\n' \
        "$name" "$a" "$b" "$r" "$c" "$q" "$u" "$ROUNDS"
}
FLAGS="--fork --pid --mount --uts --ipc --net"
bench "$FLAGS true" $FLAGS true
bench "$FLAGS --mount-proc true" $FLAGS --mount-proc true
