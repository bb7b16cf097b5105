#!/bin/bash
# bench/network.sh: what contain's default network adds to a container's start and end (the
# CNI chain bridge + host-local, portmap, firewall, tuning; the namespace file; the hosts and
# resolv.conf files), against podman's netavark on the same machine doing the same job (a
# bridge, an address, a published port: setup then teardown of a namespace file).
#   contain's cost = `contain run --rm -p 8080:80 IMG true` - `contain run --rm --network none IMG true`
#   netavark's     = netns file made + `netavark setup` + `netavark teardown` + umount
# Goal: contain / netavark <= 1.0.  Then one run with CONTAIN_NET_TIMES=1: where the
# milliseconds go (each plugin's exec, with the iptables calls it makes).
# Everything runs in a throwaway network namespace (scripts/netns-host): no bridge, rule or
# sysctl reaches this machine's own.
# Usage: bench/network.sh [RUNS [ROUNDS]]   (needs root, hyperfine, jq, netavark in
# /usr/lib/podman or PATH, containernetworking-plugins)
# CONTAIN_BENCH_BASELINE=DIR adds DIR/contain (with its net.sh: an older checkout's contain/
# directory) to the same hyperfine runs, so a change is measured before/after side by side
# with netavark, on the same machine at the same moment.
# Measured 2026-12-07 (debug builds, 2 cores, the checkout before the speed work as
# CONTAIN_BENCH_BASELINE): at load 2 to 4 (`10 4`) contain / netavark 0.55 (0.48 to 0.69 over
# 4 rounds), before 1.25 (1.14 to 1.35) in the same runs; at load 9 to 12 (`5 6`) 0.73 (0.39
# to 1.03), before 1.62.  Setup 85 ms (netns file and gc 8, bridge 18, then portmap 43 beside
# tuning 7), teardown 95 ms (portmap 84 beside bridge 33); 31 iptables execs per start and end
# (66 before, none without -p), no jq, 5 env, 2 flock.
set -eu -o pipefail
runs=${1:-10}
rounds=${2:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || {
	echo "bench: needs root" >&2
	exit 1
}
[ "${CTOOLS_NETNS_HOST:-}" = 1 ] || exec "$repo/scripts/netns-host" "$0" "$@"
bin=${CTOOLS_BIN_DIR:-$repo/target/release}
[ -x "$bin/unshare-rs" ] || bin=$repo/target/debug
export PATH="$bin:$repo/contain:$PATH"
nv=$(command -v netavark || echo /usr/lib/podman/netavark)
for t in hyperfine jq "$nv"; do command -v "$t" >/dev/null || {
	echo "bench: needs $t" >&2
	exit 1
}; done
work=$(mktemp -d /tmp/network-bench.XXXXXX)
export CONTAIN_ROOT=$work/state CONTAIN_CGROUP_PARENT=network-bench
cleanup() {
	contain network prune -f >/dev/null 2>&1 || :
	[ -n "${BASEROOT:-}" ] && { CONTAIN_ROOT=$BASEROOT "$CONTAIN_BENCH_BASELINE/contain" network prune -f >/dev/null 2>&1 || :; }
	while IFS=: read -r _ ctrls path; do
		for c in ${ctrls//,/ }; do
			[ -d "/sys/fs/cgroup/$c" ] && rmdir "/sys/fs/cgroup/$c${path%/}/$CONTAIN_CGROUP_PARENT" 2>/dev/null
		done
	done </proc/self/cgroup || :
	rm -rf "$work"
}
trap cleanup EXIT
echo "tools from $bin, netavark $("$nv" --version 2>/dev/null | head -1)"
contain build bench /bin/true >/dev/null
contain run --rm -p 8080:80 bench /bin/true # the bridge and the shared chains, once
# netavark's input: podman's default network (bridge podman0, 10.88.0.0/16), one port
cat >"$work/nv.json" <<'EOF'
{"container_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","container_name":"bench",
 "port_mappings":[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":"tcp"}],
 "networks":{"podman":{"static_ips":["10.88.0.2"],"interface_name":"eth0","aliases":[]}},
 "network_info":{"podman":{"name":"podman","id":"2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
  "driver":"bridge","network_interface":"podman0","subnets":[{"subnet":"10.88.0.0/16","gateway":"10.88.0.1"}],
  "ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}
EOF
nvcycle="f=$work/nvns; : >\$f; unshare --net=\$f true && $nv --config $work/nvcfg setup \$f <$work/nv.json >/dev/null && $nv --config $work/nvcfg teardown \$f <$work/nv.json && umount \$f"
eval "$nvcycle"
med() { jq -r ".results[] | select(.command == \"$2\") | .median" "$1"; }
ms() { awk -v x="$1" 'BEGIN { printf "%.1f", x * 1000 }'; }
base=()
if [ -n "${CONTAIN_BENCH_BASELINE:-}" ]; then
	[ -x "$CONTAIN_BENCH_BASELINE/contain" ] || {
		echo "bench: no $CONTAIN_BENCH_BASELINE/contain" >&2
		exit 1
	}
	# its own state root: its networks may be written another way
	export BASEROOT=$work/base
	CONTAIN_ROOT=$BASEROOT "$CONTAIN_BENCH_BASELINE/contain" build bench /bin/true >/dev/null
	CONTAIN_ROOT=$BASEROOT "$CONTAIN_BENCH_BASELINE/contain" run --rm -p 8081:80 bench /bin/true
	base=(-n baseline "CONTAIN_ROOT=$BASEROOT $CONTAIN_BENCH_BASELINE/contain run --rm -p 8081:80 bench /bin/true")
fi
ratios=() bratios=()
for ((r = 1; r <= rounds; r++)); do
	hyperfine --shell=bash -w 2 -r "$runs" --export-json "$work/a.json" \
		-n none "contain run --rm --network none bench /bin/true" \
		-n bridge "contain run --rm bench /bin/true" \
		-n port "contain run --rm -p 8080:80 bench /bin/true" \
		"${base[@]}" -n netavark "$nvcycle" >"$work/a.txt"
	n=$(med "$work/a.json" none) b=$(med "$work/a.json" bridge) p=$(med "$work/a.json" port)
	v=$(med "$work/a.json" netavark)
	ratio=$(awk -v p="$p" -v n="$n" -v v="$v" 'BEGIN { printf "%.2f", (p - n) / v }')
	ratios+=("$ratio")
	printf 'round %d: contain none %s ms, bridge %s ms, bridge -p %s ms (network: %s ms, without -p %s ms); netavark setup+teardown %s ms; ratio %s\n' \
		"$r" "$(ms "$n")" "$(ms "$b")" "$(ms "$p")" "$(awk -v p="$p" -v n="$n" 'BEGIN { printf "%.1f", (p - n) * 1000 }')" \
		"$(awk -v p="$b" -v n="$n" 'BEGIN { printf "%.1f", (p - n) * 1000 }')" "$(ms "$v")" "$ratio"
	if [ ${#base[@]} -gt 0 ]; then
		o=$(med "$work/a.json" baseline)
		bratios+=("$(awk -v p="$o" -v n="$n" -v v="$v" 'BEGIN { printf "%.2f", (p - n) / v }')")
		printf '         baseline bridge -p %s ms (network: %s ms); baseline / netavark %s\n' "$(ms "$o")" \
			"$(awk -v p="$o" -v n="$n" 'BEGIN { printf "%.1f", (p - n) * 1000 }')" "${bratios[-1]}"
	fi
done
summary() {
	printf '%s\n' "${@:2}" | sort -n | awk -v w="$1" '{ a[NR] = $1 } END { printf "%s / netavark = %s (%s to %s over %d rounds)   (goal <= 1.0)\n", w, a[int((NR + 1) / 2)], a[1], a[NR], NR }'
}
summary "contain network (-p)" "${ratios[@]}"
[ ${#bratios[@]} -gt 0 ] && summary "baseline network (-p)" "${bratios[@]}"
echo "where the milliseconds go (one run, CONTAIN_NET_TIMES=1; the plugins after bridge run side by side):"
CONTAIN_NET_TIMES=1 contain run --rm -p 8080:80 bench /bin/true 2>&1 | sed 's/^contain: net: /  /'
# the execs of one setup+teardown, by program
if strace -f -qq -e trace=execve -o "$work/st" contain run --rm -p 8080:80 bench /bin/true; then
	printf 'execs per setup+teardown (-p 8080:80): '
	grep -o 'execve("[^"]*"' "$work/st" | sed 's/^execve("//; s/"$//; s|.*/||' |
		grep -Ev '^(contain|unshare-rs|cgset|unionmount|chroot-rs|true|setsid)$' | sort | uniq -c |
		sort -rn | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 } END { print "" }'
fi
