#!/bin/bash
# bench/build.sh: contain build against podman build (buildah, --isolation chroot: its cheapest
# way to run a RUN) on the same Containerfile from the same base, uncached (--no-cache) and
# cached, side by side with hyperfine.  Goal: contain / podman <= 0.5 on both.  podman runs
# with private storage under the work directory (vfs), never /var/lib/containers.
# Usage: bench/build.sh [RUNS]   (uses target/release or $CTOOLS_BIN_DIR; needs root, podman,
# hyperfine, jq)
set -eu -o pipefail
runs=${1:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${CTOOLS_BIN_DIR:-$repo/target/release}
[ -x "$bin/unshare-rs" ] || bin=$repo/target/debug
export PATH="$bin:$repo/contain:$PATH"
for t in podman hyperfine jq; do command -v $t >/dev/null || { echo "bench: needs $t" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
work=$(mktemp -d /tmp/build-bench.XXXXXX)
export CONTAIN_ROOT=$work/state CONTAIN_CGROUP_PARENT=build-bench
P="podman --root $work/pr --runroot $work/prr --storage-driver vfs --events-backend none --cgroup-manager cgroupfs"
cleanup() {
	$P rmi -a -f >/dev/null 2>&1 || :
	rm -rf "$work"
}
trap cleanup EXIT
echo "tools from $bin"
contain mkimage base /bin/sh /bin/ls /bin/cat /bin/echo /bin/rm /bin/mkdir >/dev/null
contain tag base localhost/base
contain save -o "$work/base.tar" localhost/base
$P load -q -i "$work/base.tar" >/dev/null
ctx=$work/ctx
mkdir -p "$ctx/src"
for i in $(seq 1 50); do head -c 20000 /dev/urandom >"$ctx/src/f$i"; done
cat >"$ctx/Containerfile" <<'X'
FROM localhost/base:latest
ENV APP=/app
WORKDIR /app
COPY src/ /app/src/
RUN mkdir -p /app/out && cat /app/src/f1 /app/src/f2 > /app/out/joined
RUN echo built > /app/out/stamp; rm /bin/echo
EXPOSE 8080
CMD ["/bin/cat", "/app/out/stamp"]
X
contain build -t app "$ctx" >/dev/null
$P build -q --isolation chroot -t app "$ctx" >/dev/null
hyperfine -N -w 1 -r "$runs" \
	-n "contain build --no-cache" "contain build --no-cache -t app $ctx" \
	-n "podman build --no-cache" "$P build -q --no-cache --isolation chroot -t app $ctx" \
	-n "contain build (cached)" "contain build -t app $ctx" \
	-n "podman build (cached)" "$P build -q --isolation chroot -t app $ctx"
