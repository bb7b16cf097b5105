#!/bin/bash
# bench/contain.sh: contain against runc and the bare exec chain against bubblewrap, side by
# side with hyperfine on the same root (contain with --network none, as runc runs its spec
# without a network; the bridge's cost is bench/network.sh's).  Goals: contain run --rm / runc run <= 0.5 and
# chain / bwrap <= 1.0.
# Usage: bench/contain.sh [RUNS [ROUNDS]]   (uses target/release or $CTOOLS_BIN_DIR; needs root, runc,
# bwrap, hyperfine, jq)
# Issue 18's goal (its protections cost no more than installing one filter) is the in-turn
# part at the end: the start with the filter, without it, and without any of the protections
# (a copy of contain/ with them left out).  CONTAIN_BASE=TREE (a checkout of an earlier commit,
# built with cargo build --release) adds that tree's contain and tools, on an image of their own.
set -eu -o pipefail
runs=${1:-20}
rounds=${2:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${CTOOLS_BIN_DIR:-$repo/target/release}
[ -x "$bin/unshare-rs" ] || bin=$repo/target/debug
export PATH="$bin:$repo/contain:$PATH"
for t in runc bwrap hyperfine jq; do command -v $t >/dev/null || { echo "bench: needs $t" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
# contain's default network makes a bridge and rules: a throwaway host network namespace
[ "${CTOOLS_NETNS_HOST:-}" = 1 ] || exec "$repo/scripts/netns-host" "$0" "$@"
work=$(mktemp -d /tmp/contain-bench.XXXXXX)
export CONTAIN_ROOT=$work/state CONTAIN_CGROUP_PARENT=contain-bench
cleanup() {
	cgset --delete "./$CONTAIN_CGROUP_PARENT/chain" >/dev/null 2>&1 || :
	while IFS=: read -r _ ctrls path; do
		for c in ${ctrls//,/ }; do
			[ -d "/sys/fs/cgroup/$c" ] && rmdir "/sys/fs/cgroup/$c${path%/}/$CONTAIN_CGROUP_PARENT" 2>/dev/null
		done
	done </proc/self/cgroup || :
	rm -rf "$work"
}
trap cleanup EXIT
echo "tools from $bin"
contain build bench /bin/true /bin/sh >/dev/null
layer=$(cat "$CONTAIN_ROOT"/images/*/layers)
root=$CONTAIN_ROOT/layers/$layer/fs
# runc: a bundle whose rootfs is a copy of the same layer
mkdir -p "$work/bundle"
cp -a "$root" "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec && jq '.process.args = ["/bin/true"] | .process.terminal = false' config.json >c && mv c config.json)
mkdir -p "$work/upper" "$work/w" "$work/mnt"
cgset "./$CONTAIN_CGROUP_PARENT/chain" >/dev/null
# The order contain uses: namespaces first, then the cgroup (see contain's header).
ns="unshare-rs --fork --pid --mount --uts --ipc --net --"
cg="cgset ./$CONTAIN_CGROUP_PARENT/chain --"
cr="chroot-rs --pivot --proc --dev -- $work/mnt /bin/true"
# The chain of a `contain run --rm`: a new writable layer for every run (made before each
# run, untimed), mounted volatile.
fresh="bash -c 'rm -rf $work/fu $work/fw && mkdir $work/fu $work/fw'"
chain="$ns $cg unionmount -o volatile --lower $root --upper $work/fu --work $work/fw $work/mnt -- $cr"
# The same layer every run, synced at unmount (overlayfs empties and remakes its work/work).
reused="$ns $cg unionmount --lower $root --upper $work/upper --work $work/w $work/mnt -- $cr"
# The chain without cgset: what joining the cgroup costs, exec included.
nocg="$ns unionmount -o volatile --lower $root --upper $work/fu --work $work/fw $work/mnt -- $cr"
bw="bwrap --unshare-all --bind $work/bundle/rootfs / --proc /proc --dev /dev /bin/true"
eval "$fresh" && $chain && $reused && $bw && contain run --rm --network none bench /bin/true &&
	runc run -b "$work/bundle" bench-check
# The earlier tree: its own contain, tools and state (bash's assignments before the command).
base=${CONTAIN_BASE:-}
if [ -n "$base" ]; then
	base_env="CONTAIN_ROOT=$work/base-state PATH=$base/target/release:$base/contain:$PATH"
	env "CONTAIN_ROOT=$work/base-state" "PATH=$base/target/release:$base/contain:$PATH" \
		contain build bench /bin/true /bin/sh >/dev/null
	bash -c "$base_env contain run --rm --network none bench /bin/true"
fi
# Rounds alternate the peers, so that a slower spell of the machine (or the kernel's
# cleaning up of the network namespaces the previous command left) falls on both sides:
# each round's ratio of medians, then the median and range over the rounds.
ratios_a=() ratios_b=() ratios_c=() ratios_d=() filter=()
med() { jq -r --argjson i "$2" '.results[$i].median' "$1"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
ms() { awk -v x="$(med "$work/$1.json" "$2")" 'BEGIN { printf "%.2f", x * 1000 }'; }
for ((r = 1; r <= rounds; r++)); do
	hyperfine --shell=bash -w 2 -r "$runs" --export-json "$work/a.json" \
		-n "contain run --rm" "contain run --rm --network none bench /bin/true" \
		-n "runc run" "runc run -b $work/bundle bench-\$RANDOM\$RANDOM" \
		-n "contain run --rm, seccomp=unconfined" \
		"contain run --rm --network none --security-opt seccomp=unconfined bench /bin/true" >"$work/a.txt"
	hyperfine -N -w 3 -r "$((runs * 3))" --export-json "$work/b.json" \
		-n "bwrap" --prepare true "$bw" \
		-n "exec chain" --prepare "$fresh" "$chain" \
		-n "exec chain, layer reused" --prepare true "$reused" \
		-n "exec chain without cgset" --prepare "$fresh" "$nocg" >"$work/b.txt"
	ratios_a+=("$(div "$(med "$work/a.json" 0)" "$(med "$work/a.json" 1)")")
	filter+=("$(awk -v a="$(med "$work/a.json" 0)" -v b="$(med "$work/a.json" 2)" 'BEGIN { printf "%.2f", (a - b) * 1000 }')")
	ratios_b+=("$(div "$(med "$work/b.json" 1)" "$(med "$work/b.json" 0)")")
	ratios_c+=("$(div "$(med "$work/b.json" 2)" "$(med "$work/b.json" 0)")")
	ratios_d+=("$(div "$(med "$work/b.json" 3)" "$(med "$work/b.json" 0)")")
	printf 'round %d: contain %s ms (unconfined %s), runc %s ms; chain %s ms, reused %s ms, without cgset %s ms, bwrap %s ms\n' \
		"$r" "$(ms a 0)" "$(ms a 2)" "$(ms a 1)" "$(ms b 1)" "$(ms b 2)" "$(ms b 3)" "$(ms b 0)"
done
summary() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
	printf "%.2f (%.2f to %.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
echo
echo "contain run --rm / runc run              = $(summary "${ratios_a[@]}")   (goal <= 0.5)"
echo "exec chain / bwrap                       = $(summary "${ratios_b[@]}")   (goal <= 1.0)"
echo "exec chain, layer reused / bwrap         = $(summary "${ratios_c[@]}")"
echo "exec chain without cgset / bwrap         = $(summary "${ratios_d[@]}")"
echo "seccomp filter (default - unconfined), ms = $(summary "${filter[@]}")   (batches apart: the in-turn figures below measure it)"
echo "(medians of $rounds rounds, each of medians; ranges over the rounds)"
# Issue 18's protections against the same tree without them: a copy of contain/ whose chain
# leaves out the seccomp filter (chroot-rs --seccomp), the device policy (cgset
# --device-default) and --preserve-fds=0, run with the same tools on an image of its own.
# What --harden does beside them (the inherited descriptors closed, a session keyring, /dev
# noexec, the binary's mount sealed: a few system calls) stays in both.
plain=$work/contain-unprotected
cp -r "$repo/contain" "$plain"
sed -i -e 's/ --sys --preserve-fds=0)/ --sys)/' -e 's/dev=(--device-default)/dev=()/' \
	-e 's/default | unconfined) cr+=("--seccomp=${META\[seccomp\]:-default}") ;;/default | unconfined) ;;/' "$plain/chain.sh"
if grep -q -F -e ' --sys --preserve-fds=0)' -e 'dev=(--device-default)' -e 'cr+=("--seccomp=${META[seccomp]' "$plain/chain.sh"; then
	echo "bench: contain/chain.sh changed: the unprotected copy's edits no longer apply" >&2
	exit 1
fi
plain_env="CONTAIN_ROOT=$work/plain-state PATH=$plain:$PATH"
env "CONTAIN_ROOT=$work/plain-state" "PATH=$plain:$PATH" contain build bench /bin/true /bin/sh >/dev/null
bash -c "$plain_env contain run --rm --network none --runtime contain bench /bin/true"
# One start of each in turn, the order rotating, RUNS*ROUNDS times (hyperfine runs each
# command's batch in a row, and a shared machine's load drifts between batches by more than
# these differences); the medians of wall-clock and CPU time (user + system of every process
# of the start).  With CONTAIN_BASE, the earlier tree too.
echo
# Issue 18's three are contain's own chain of the tools (--runtime contain), where its
# protections are options of the tools; issue 20's default, runc-rs, beside them, and with
# CONTAIN_BASE the earlier tree's default start (its own chain before runc-rs was the
# default: "the run path stays as fast as it is now").
own="--runtime contain"
set -- "contain=contain run --rm --network none $own bench /bin/true" \
	"unconfined=contain run --rm --network none $own --security-opt seccomp=unconfined bench /bin/true" \
	"unprotected=$plain_env contain run --rm --network none $own bench /bin/true" \
	"runc-rs=contain run --rm --network none bench /bin/true"
[ -z "$base" ] || set -- "$@" "base=$base_env contain run --rm --network none bench /bin/true"
python3 - "$((runs * rounds))" "$@" <<'PY'
import os, statistics, sys, time
n = int(sys.argv[1])
cmds = [a.split("=", 1) for a in sys.argv[2:]]
res = {k: ([], []) for k, _ in cmds}
null = os.open(os.devnull, os.O_RDWR)
for i in range(n + 2):
    j = i % len(cmds)
    for k, c in cmds[j:] + cmds[:j]:
        t = time.perf_counter()
        pid = os.posix_spawn("/bin/bash", ["bash", "-c", c], os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
        _, st, ru = os.wait4(pid, 0)
        if st:
            sys.exit(f"bench: {k} failed")
        if i >= 2:
            res[k][0].append(time.perf_counter() - t)
            res[k][1].append(ru.ru_utime + ru.ru_stime)
m = {k: (statistics.median(w) * 1e3, statistics.median(c) * 1e3) for k, (w, c) in res.items()}
for k, (w, c) in m.items():
    print(f"{k:11s} median {w:6.2f} ms wall, {c:6.2f} ms CPU")
d = lambda a, b, j: m[a][j] - m[b][j]
print("(contain, unconfined, unprotected: the own chain, --runtime contain; runc-rs: the default)")
print(f"the filter (contain - unconfined):              {d('contain', 'unconfined', 0):+6.2f} ms wall, {d('contain', 'unconfined', 1):+6.2f} ms CPU")
print(f"issue 18's protections (contain - unprotected): {d('contain', 'unprotected', 0):+6.2f} ms wall, {d('contain', 'unprotected', 1):+6.2f} ms CPU   (goal: about the filter's)")
print(f"the default (runc-rs) - the own chain:          {d('runc-rs', 'contain', 0):+6.2f} ms wall, {d('runc-rs', 'contain', 1):+6.2f} ms CPU")
if "base" in m:
    print(f"the default (runc-rs) - base's default:         {d('runc-rs', 'base', 0):+6.2f} ms wall, {d('runc-rs', 'base', 1):+6.2f} ms CPU   (goal: <= 0)")
    print(f"contain - base:                                 {d('contain', 'base', 0):+6.2f} ms wall, {d('contain', 'base', 1):+6.2f} ms CPU")
    print(f"unprotected - base (the other changes):         {d('unprotected', 'base', 0):+6.2f} ms wall, {d('unprotected', 'base', 1):+6.2f} ms CPU")
print(f"({n} starts each, in turn; bash -c around each, alike)")
PY
