#!/bin/sh
# unshare-rs against util-linux unshare, doing the same job: new pid, mount,
# uts, ipc and net namespaces, fork, run `true`, wait.
#   ours:       unshare-rs --fork --pid --mount --uts --ipc --net true
#   util-linux: unshare    --fork --pid --mount --uts --ipc --net true
# Ours also runs its init as pid 1 (one more fork) and forwards signals.
# A second pair adds --mount-proc.  Needs root and hyperfine.
# Goal: ratio ours/util-linux <= 1.0.
set -eu
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
cargo build -q --release -p unshare-rs
US="$CARGO_TARGET_DIR/release/unshare-rs"
for t in hyperfine unshare; do
    command -v "$t" >/dev/null || { echo "bench/unshare.sh: $t not found (apt-get install hyperfine util-linux)" >&2; exit 1; }
done
LC=$(command -v unshare)
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
ratio() {
    awk -F, 'NR == 2 { a = $2 } NR == 3 { b = $2 } END { printf "%s: ours %.2f ms, util-linux %.2f ms, ratio %.2f (goal <= 1.0)\n", name, a * 1000, b * 1000, a / b }' name="$1" "$TMP"
}
FLAGS="--fork --pid --mount --uts --ipc --net"
hyperfine -N --warmup 10 --runs "${RUNS:-200}" --export-csv "$TMP" \
    -n "unshare-rs $FLAGS true" "$US $FLAGS true" \
    -n "unshare $FLAGS true" "$LC $FLAGS true"
ratio "$FLAGS"
hyperfine -N --warmup 10 --runs "${RUNS:-200}" --export-csv "$TMP" \
    -n "unshare-rs $FLAGS --mount-proc true" "$US $FLAGS --mount-proc true" \
    -n "unshare $FLAGS --mount-proc true" "$LC $FLAGS --mount-proc true"
ratio "$FLAGS --mount-proc"
