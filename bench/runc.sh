#!/bin/sh
# runc-rs run against runc run on the same bundles, side by side:
#   minimal: `runc spec`'s config (args /bin/true, no terminal), a
#            busybox-static root, a relative cgroupsPath (below this shell's
#            cgroup, so that nothing is made at the hierarchies' roots);
#   seccomp: the same plus podman 4.3's default seccomp profile and its
#            11 capabilities (from the research bundle), runc's 51 ms case;
#   chain:   the minimal bundle with runc-rs's exec chain (RUNC_RS_EXEC_CHAIN).
# Each run is create + start + wait + delete of a fresh container id.
# ROUNDS short hyperfine runs alternate the two commands; the figures are
# medians over the rounds (the machine may be shared).  Needs root,
# hyperfine, busybox-static and runc.  Goal: runc-rs/runc <= 0.25.
set -eu
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
: "${ROUNDS:=5}" "${RUNS:=30}"
cargo build -q --release -p runc-rs -p cgset -p unshare-rs
RR="$(pwd)/$CARGO_TARGET_DIR/release/runc-rs"
for t in hyperfine runc busybox python3; do
    command -v "$t" >/dev/null || { echo "bench/runc.sh: $t not found (apt-get install hyperfine runc busybox-static python3)" >&2; exit 1; }
done
RUNC=$(command -v runc)
W=$(mktemp -d)
TMP=$(mktemp)
ALL=$(mktemp)
trap 'rm -rf "$W" "$TMP" "$ALL"' EXIT
mkdir -p "$W/b/rootfs/bin" "$W/b/rootfs/proc" "$W/b/rootfs/dev" "$W/b/rootfs/sys" "$W/b/rootfs/tmp"
cp "$(command -v busybox)" "$W/b/rootfs/bin/busybox"
for c in sh true; do ln -s busybox "$W/b/rootfs/bin/$c"; done
(cd "$W/b" && "$RUNC" spec)
PROFILE=/work/shared/research/oci-bundles/podman-default-config.json
python3 - "$W/b/config.json" "$PROFILE" <<'EOF'
import json, sys, os
path, podman = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"]["cgroupsPath"] = "runc-rs-bench"
json.dump(c, open(path, "w"))
if os.path.exists(podman):
    p = json.load(open(podman))
    c["linux"]["seccomp"] = p["linux"]["seccomp"]
    c["process"]["capabilities"] = p["process"]["capabilities"]
    json.dump(c, open(path + ".seccomp", "w"))
EOF
bench() {
    name=$1 cfg=$2 env=${3:-}
    cp "$W/b/$cfg" "$W/b/config.json.use"
    mkdir -p "$W/$name"
    cp -r "$W/b/rootfs" "$W/$name/" 2>/dev/null || true
    cp "$W/b/$cfg" "$W/$name/config.json"
    : >"$ALL"
    i=0
    while [ "$i" -lt "$ROUNDS" ]; do
        hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-csv "$TMP" \
            -n runc-rs "sh -c 'cd $W/$name && $env exec $RR --root $W/rr run bench-\$\$'" \
            -n runc "sh -c 'cd $W/$name && exec $RUNC --root $W/rc run bench-\$\$'" >/dev/null 2>&1
        awk -F, 'NR == 2 { a = $4; x = $5 + $6 } NR == 3 { b = $4; y = $5 + $6 } END { print a, b, x, y }' "$TMP" >>"$ALL"
        i=$((i + 1))
    done
    med() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    a=$(awk '{ print $1 * 1000 }' "$ALL" | med)
    b=$(awk '{ print $2 * 1000 }' "$ALL" | med)
    r=$(awk '{ print $1 / $2 }' "$ALL" | med)
    u=$(awk '{ print $3 / $4 }' "$ALL" | med)
    printf '%s: runc-rs %.1f ms, runc %.1f ms, ratio %.2f; CPU time (user+sys) ratio %.2f [medians of %s rounds]\n' \
        "$name" "$a" "$b" "$r" "$u" "$ROUNDS"
}
bench minimal config.json
[ -f "$W/b/config.json.seccomp" ] && bench seccomp config.json.seccomp
# runc-rs's exec chain (cgset -- unshare-rs -- runc-rs init) instead of its
# in-process fork, for comparison (CHAIN=0 leaves it out).
[ "${CHAIN:-1}" = 0 ] || bench chain config.json RUNC_RS_EXEC_CHAIN=1
