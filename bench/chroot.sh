#!/bin/bash
# chroot-rs ROOT /bin/true against coreutils chroot ROOT /bin/true, side by
# side in one hyperfine run, with the ratio (goal: <= 1.0).  Needs root,
# hyperfine and a release build (cargo build --release -p chroot-rs).
# ROOT is a minimal root holding a copy of /bin/true and its libraries,
# built the document's way (ldd).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$here/target}
ours=${CHROOT_RS:-$target/release/chroot-rs}
peer=${CHROOT:-/usr/sbin/chroot}
runs=${RUNS:-300}
[ -x "$ours" ] || { echo "chroot.sh: build first: cargo build --release -p chroot-rs" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "chroot.sh: needs root" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin"
cp /bin/true "$root/bin/true"
for lib in $(ldd "$root/bin/true" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"; cp "$lib" "$root$lib"
done
json=$root/result.json
hyperfine -N --warmup 20 --runs "$runs" --export-json "$json" \
  -n "coreutils chroot" "$peer $root /bin/true" \
  -n "chroot-rs" "$ours $root /bin/true" >&2
python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for k in ("mean", "median", "min"):
    peer, ours = r["coreutils chroot"][k], r["chroot-rs"][k]
    print(f"{k:>6}: coreutils chroot {peer*1e6:.0f} us, chroot-rs {ours*1e6:.0f} us, ratio {ours/peer:.2f}")
print("(goal: ratio <= 1.0; the median is the figure to trust on a busy machine)")
PY

# The hardening's costs (not compared with a peer): a protected re-exec (what
# --init does first: the binary executed again from a read-only clone of its
# mount), --init's fork, and a seccomp filter compiled and
# installed (--seccomp=default), each next to the plain run; then what the
# default filter costs per system call, with dd making one read and one
# write per byte.
cp /bin/dd "$root/bin/dd"
for lib in $(ldd "$root/bin/dd" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"; cp -n "$lib" "$root$lib"
done
json2=$root/result2.json
hyperfine -N --warmup 20 --runs "$runs" --export-json "$json2" \
  -n "plain" "$ours $root /bin/true" \
  -n "init (read-only re-exec + fork)" "$ours --init $root /bin/true" \
  -n "seccomp=default" "$ours --seccomp=default $root /bin/true" >&2
json3=$root/result3.json
n=${DD_BYTES:-1000000}
hyperfine --warmup 2 --runs "${DD_RUNS:-10}" --export-json "$json3" \
  -n "dd unconfined" "$ours $root /bin/dd bs=1 count=$n status=none </dev/zero >/dev/null" \
  -n "dd default filter" "$ours --seccomp=default $root /bin/dd bs=1 count=$n status=none </dev/zero >/dev/null" >&2
python3 - "$json2" "$json3" "$n" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["plain"]["median"]
for k in ("init (read-only re-exec + fork)", "seccomp=default"):
    m = r[k]["median"]
    print(f"{k}: {m*1e6:.0f} us against {base*1e6:.0f} us plain: +{(m-base)*1e6:.0f} us")
d = {x["command"]: x for x in json.load(open(sys.argv[2]))["results"]}
a, b = d["dd unconfined"]["median"], d["dd default filter"]["median"]
calls = 2 * int(sys.argv[3])
print(f"default filter: {(b-a)/calls*1e9:.0f} ns per system call ({b/a:.2f}x on a 1-byte dd)")
PY
