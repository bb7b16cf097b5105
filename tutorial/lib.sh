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

# Every command the tutorial prints is the command it runs, quoted so that pasting the line into
# a shell runs the same argv.  With TUT_SHOWN set, each printed line is logged with what ran
# (NUL-separated records: KIND, the printed text, then for KIND cmd the argc and argv, for KIND
# sh the shell text that ran), and tests/tests/tutorial.rs reads each printed line back.
# shq WORD...: the words, each left bare when it holds only characters no shell treats
# specially, else quoted with ${w@Q} ('...', or $'...' for control characters).
shq() {
	local w out="" sep=""
	for w in "$@"; do
		if [[ $w =~ ^[A-Za-z0-9_./:,+@%-]+$ ]] || { [ -n "$sep" ] && [[ $w =~ ^[A-Za-z0-9_./:,+@%-][A-Za-z0-9_./:,+@%=-]*$ ]]; }; then
			out+="$sep$w"
		else
			out+="$sep${w@Q}"
		fi
		sep=" "
	done
	printf '%s' "$out"
}
tut_log() { # KIND PRINTED ARG...
	[ -n "${TUT_SHOWN:-}" ] || return 0
	local kind=$1 printed=$2
	shift 2
	{
		printf '%s\0%s\0%d\0' "$kind" "$printed" $#
		[ $# -gt 0 ] && printf '%s\0' "$@"
	} >>"$TUT_SHOWN"
}
PS_HOST='[root@xingdian ~]# '
prompt() { printf '%s%s%s%s\n' "$B" "$1" "$2" "$N"; } # PS TEXT
# show CMD...: print the command as typed at the document's prompt, then run it.
show() {
	local line
	line=$(shq "$@")
	tut_log cmd "$line" "$@"
	prompt "$PS_HOST" "$line"
	"$@"
}
# showsh 'TEXT': the same for a line of shell (pipes, redirections), run by bash -c TEXT.
showsh() {
	tut_log sh "$1" "$1"
	prompt "$PS_HOST" "$1"
	bash -c "$1"
}
# shown CMD... / shownsh 'TEXT': show, with the output (stdout and stderr) also kept in OUT and
# the exit status in RC for the checks.
shown() {
	local line
	line=$(shq "$@")
	tut_log cmd "$line" "$@"
	prompt "$PS_HOST" "$line"
	OUT=$("$@" 2>&1)
	RC=$?
	[ -z "$OUT" ] || say "$OUT"
}
shownsh() {
	tut_log sh "$1" "$1"
	prompt "$PS_HOST" "$1"
	OUT=$(bash -c "$1" 2>&1)
	RC=$?
	[ -z "$OUT" ] || say "$OUT"
}
# shown_in CONTAINER CMD...: CMD typed at a shell inside the container (the document's
# root@ID:/# prompt), run with contain exec; OUT and RC as shown's.
shown_in() {
	local c=$1 line id
	shift
	line=$(shq "$@")
	tut_log cmd "$line" "$@"
	id=$(cid_of "$c")
	prompt "root@${id:0:12}:/# " "$line"
	OUT=$(contain exec "$c" "$@" 2>&1)
	RC=$?
	[ -z "$OUT" ] || say "$OUT"
}
# show_bg FILE CMD...: the command of another terminal: shown, then run in the background with
# its output into FILE (BG_PID its process).
show_bg() {
	local f=$1 line
	shift
	line=$(shq "$@")
	tut_log cmd "$line" "$@"
	prompt "$PS_HOST" "$line"
	"$@" >"$f" 2>&1 </dev/null &
	BG_PID=$!
}
# typed 'TEXT': a line typed into the program that runs (its own shell), shown at the prompt and
# logged as shell text; the caller feeds the same text to the program.
typed() {
	tut_log sh "$1" "$1"
	prompt "$PS_HOST" "$1"
}
# doc 'TEXT': what the document prints there, when ours differs.
doc() { printf '  (the document: %s)\n' "$*"; }
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
	grep wc head tail true tr cut sed uname domainname stress-rs)
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

# The document's progrium/stress image: stress installed as /usr/bin/stress, and the image's
# ENTRYPOINT ["/usr/bin/stress", "--verbose"] as progrium/stress has it (hence the document's
# dbug lines).  Here stress is stress-rs (static), which names itself by argv[0]: "stress:".
ensure_stress_image() {
	contain inspect progrium/stress >/dev/null 2>&1 && return 0
	say "(docker pull progrium/stress: the image is built here, no registry is reached)"
	show contain build --entrypoint "/usr/bin/stress --verbose" --file "$(type -P stress-rs):/usr/bin/stress" \
		progrium/stress || {
		bad "contain build progrium/stress"
		finish
	}
}
# new_container BEFORE: the full id of the one running container not in BEFORE (ps -q lists),
# waiting for it to appear.
new_container() {
	local i c
	for i in $(seq 1 200); do
		for c in $(contain ps -q); do
			grep -qx -- "$c" <<<"$1" || {
				cid_of "$c"
				return 0
			}
		done
		sleep 0.05
	done
	return 1
}
