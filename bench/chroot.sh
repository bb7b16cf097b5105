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
