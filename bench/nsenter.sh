#!/bin/sh
# unshare-rs's join mode against util-linux nsenter, doing the same job:
# enter the mount, UTS and IPC namespaces of a running process (and, with
# --all, its PID namespace too: a fork), run /bin/true, wait.
#   ours:       unshare-rs --target PID -m -u -i /bin/true
#   util-linux: nsenter    --target PID -m -u -i /bin/true
# Join mode first re-executes unshare-rs from a detached read-only clone of
# its binary's mount (CVE-2019-5736; a sealed memfd copy where that is
# refused): one more exec on every join.  The target: util-linux unshare -pfmui --mount-proc sleep.
# ROUNDS short hyperfine runs alternate the commands; the figures are the
# medians over the rounds (the machine may be shared).  Needs root and
# hyperfine.  Goal: ratio ours/util-linux <= 1.0 without the re-exec; the
# re-exec is what a join costs for CVE-2019-5736 (runc pays it too).
set -eu
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
: "${ROUNDS:=5}" "${RUNS:=60}"
cargo build -q --release -p unshare-rs
US="$CARGO_TARGET_DIR/release/unshare-rs"
for t in hyperfine nsenter unshare; do
    command -v "$t" >/dev/null || { echo "bench/nsenter.sh: $t not found (apt-get install hyperfine util-linux)" >&2; exit 1; }
done
NS=$(command -v nsenter)
TMP=$(mktemp)
ALL=$(mktemp)
unshare -pfmui --mount-proc sleep 600 &
MAKER=$!
trap 'kill "$MAKER" 2>/dev/null; rm -f "$TMP" "$ALL"' EXIT
sleep 0.3
PID=$(cat "/proc/$MAKER/task/$MAKER/children" | awk '{ print $1 }')
[ -n "$PID" ] || { echo "bench/nsenter.sh: no target process" >&2; exit 1; }
bench() {
    name=$1; shift
    : >"$ALL"
    i=0
    while [ "$i" -lt "$ROUNDS" ]; do
        hyperfine -N --style none --warmup 5 --runs "$RUNS" --export-csv "$TMP" \
            -n ours "$US --target $PID $* /bin/true" -n util-linux "$NS --target $PID $* /bin/true" >/dev/null 2>&1
        awk -F, 'NR == 2 { a = $4; x = $5 + $6 } NR == 3 { b = $4; y = $5 + $6 } END { print a, b, x, y }' "$TMP" >>"$ALL"
        i=$((i + 1))
    done
    med() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    a=$(awk '{ print $1 * 1000 }' "$ALL" | med)
    b=$(awk '{ print $2 * 1000 }' "$ALL" | med)
    r=$(awk '{ print $1 / $2 }' "$ALL" | med)
    u=$(awk '{ print $3 / $4 }' "$ALL" | med)
    printf '%s: ours %.2f ms, util-linux %.2f ms, ratio %.2f; CPU time (user+sys) ratio %.2f [medians of %s rounds]\n' \
        "$name" "$a" "$b" "$r" "$u" "$ROUNDS"
}
bench "join -m -u -i" -m -u -i
bench "join --all (forks into the PID namespace)" --all
