# shellcheck shell=bash
# Shared helpers of the tutorial scripts: headings, commands shown as they run, checks that
# count failures, a throwaway contain state, and cgroup counters.
set -u -o pipefail

TUT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$TUT_DIR")
# The workspace's tools first: CTOOLS_BIN_DIR, else target/debug, and the contain script.
if [ -n "${CTOOLS_BIN_DIR:-}" ]; then
	PATH="$CTOOLS_BIN_DIR:$PATH"
elif ! command -v unshare-rs >/dev/null; then
	for d in "$REPO/target/debug" "$REPO/target/release"; do
		[ -x "$d/unshare-rs" ] && PATH="$d:$PATH" && break
	done
fi
PATH="$REPO/contain:$PATH"
export PATH

# A private contain state unless the caller gave one (run-all shares one between scripts).
if [ -z "${CONTAIN_ROOT:-}" ]; then
	CONTAIN_ROOT=$(mktemp -d /tmp/contain-tutorial.XXXXXX)
	TUT_OWN_ROOT=1
else
	TUT_OWN_ROOT=0
fi
export CONTAIN_ROOT
export CONTAIN_CGROUP_PARENT=${CONTAIN_CGROUP_PARENT:-contain-tutorial}
TUT_FAILS=0
TUT_TMP=$(mktemp -d /tmp/contain-tutorial-work.XXXXXX)
TUT_CLEANUP=()

tut_exit() {
	local i
	for ((i = ${#TUT_CLEANUP[@]} - 1; i >= 0; i--)); do eval "${TUT_CLEANUP[i]}" >/dev/null 2>&1; done
	# containers this script left behind
	local id
	for id in $(contain ps -aq 2>/dev/null); do
		[ -n "${TUT_KEEP:-}" ] || contain rm -f "$id" >/dev/null 2>&1
	done
	rm -rf -- "$TUT_TMP"
	[ "$TUT_OWN_ROOT" = 1 ] && rm -rf -- "$CONTAIN_ROOT"
}
trap tut_exit EXIT
on_exit() { TUT_CLEANUP+=("$1"); }

B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
[ -t 1 ] || B='' G='' R='' N=''

title() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$*"; }
# show CMD...: print the command as the document does, then run it.
show() {
	printf '%s[root@xingdian ~]# %s%s\n' "$B" "$*" "$N"
	"$@"
}
# showsh 'STRING': the same for a shell snippet.
showsh() {
	printf '%s[root@xingdian ~]# %s%s\n' "$B" "$1" "$N"
	bash -c "$1"
}
ok() { printf '%s  ok%s   %s\n' "$G" "$N" "$*"; }
bad() {
	printf '%s  FAIL%s %s\n' "$R" "$N" "$*"
	TUT_FAILS=$((TUT_FAILS + 1))
}
# check DESCRIPTION CMD...: ok when CMD succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1 ($3)"; else bad "$1: expected '$2', got '$3'"; fi
}
# check_range DESCRIPTION LOW HIGH VALUE (decimals)
check_range() {
	if awk -v l="$2" -v h="$3" -v v="$4" 'BEGIN { exit !(v >= l && v <= h) }'; then
		ok "$1 ($4, expected $2..$3)"
	else
		bad "$1: $4 is outside $2..$3"
	fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
finish() {
	if [ "$TUT_FAILS" = 0 ]; then
		printf '%sPASS%s %s\n' "$G" "$N" "$(basename "$0")"
		exit 0
	fi
	printf '%sFAIL%s %s: %d check(s) differ from the document\n' "$R" "$N" "$(basename "$0")" "$TUT_FAILS"
	exit 1
}

# The tutorial's image: a shell and the programs the experiments use.
TUT_BINS=(sh bash ls cat echo sleep hostname id ps dd mount umount readlink mkdir rm touch
	grep wc head tail true tr cut sed stress-rs)
ensure_image() {
	local name=${1:-tutorial}
	contain inspect "$name" >/dev/null 2>&1 && return 0
	local bins=() b p
	for b in "${TUT_BINS[@]}"; do
		p=$(type -P "$b") || continue
		case $p in
		/bin/* | /usr/bin/* | /sbin/* | /usr/sbin/*) bins+=("$p") ;;
		*) bins+=(--file "$p:/usr/bin/$b") ;;
		esac
	done
	local files=() progs=() i
	for ((i = 0; i < ${#bins[@]}; i++)); do
		if [ "${bins[i]}" = --file ]; then
			files+=(--file "${bins[i + 1]}")
			i=$((i + 1))
		else
			progs+=("${bins[i]}")
		fi
	done
	contain build "${files[@]}" "$name" "${progs[@]}" >/dev/null || {
		bad "contain build $name"
		finish
	}
}

# The full id of container $1 and its cgroup directory for controller $2.
cid_of() { contain inspect "$1" | sed -n 's/^ *{"Id":"\([0-9a-f]*\)".*/\1/p' | head -1; }
# On cgroup v2 the container has one directory for every controller.
cg_dir() {
	local dirs d x
	dirs=$(sed -n 's/^cgdir //p' "$CONTAIN_ROOT/containers/$(cid_of "$1")/meta")
	d=$(grep "/$2/" <<<"$dirs" | head -1)
	if [ -z "$d" ]; then
		for x in $dirs; do [ -f "$x/cgroup.controllers" ] && d=$x && break; done
	fi
	echo "$d"
}
# Whether the container's CTRL ($2) is a cgroup v2 one.
cg_v2() { [ -f "$(cg_dir "$1" "$2")/cgroup.controllers" ]; }
# CPU time of container $1 in nanoseconds: cpuacct.usage (v1) or cpu.stat's usage_usec (v2).
cpu_ns() {
	local d
	d=$(cg_dir "$1" cpuacct)
	if [ -f "$d/cpuacct.usage" ]; then
		cat "$d/cpuacct.usage"
	else
		awk '$1 == "usage_usec" { print $2 * 1000 }' "$d/cpu.stat"
	fi
}
# The wall clock in nanoseconds, from bash (date +%s%N is GNU date's).
now_ns() { echo "${EPOCHREALTIME/[.,]/}000"; }
wait_running() {
	local i
	for i in $(seq 1 200); do
		contain inspect "$1" 2>/dev/null | grep '"Status":"running"' >/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_exited() {
	local i
	for i in $(seq 1 400); do
		contain inspect "$1" 2>/dev/null | grep '"Status":"exited"' >/dev/null && return 0
		sleep 0.05
	done
	return 1
}
exit_code() { contain inspect "$1" | grep -o '"ExitCode":[0-9-]*' | head -1 | cut -d: -f2; }
# bar LABEL FRACTION: a 40-column bar.
bar() {
	awk -v l="$1" -v f="$2" 'BEGIN { n = int(f * 40 + 0.5); s = ""; for (i = 0; i < n; i++) s = s "#";
		printf "  %-22s %-40s %5.1f%%\n", l, s, f * 100 }'
}
# Remove group $1 (relative to our own cgroup) in every hierarchy, deepest first.
cg_rm_rel() {
	local line ctrls path c
	while IFS=: read -r _ ctrls path; do
		for c in ${ctrls//,/ }; do
			[ -d "/sys/fs/cgroup/$c" ] || continue
			rmdir "/sys/fs/cgroup/$c${path%/}/$1" 2>/dev/null
		done
	done </proc/self/cgroup
	return 0
}
need_root() {
	[ "$(id -u)" = 0 ] || {
		say "SKIP $(basename "$0"): needs root"
		exit 0
	}
}
