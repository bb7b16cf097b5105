# shellcheck shell=bash
# contain: shared helpers (state root, locking, JSON, time and size formatting).

if [ "$(id -u)" = 0 ]; then
	ROOTLESS=0
	ROOT=${CONTAIN_ROOT:-/var/lib/contain}
else
	ROOTLESS=1
	ROOT=${CONTAIN_ROOT:-${XDG_DATA_HOME:-$HOME/.local/share}/contain}
fi
CGPARENT=${CONTAIN_CGROUP_PARENT:-contain}

die() {
	echo "contain: $*" >&2
	exit 125
}
warn() { echo "contain: warning: $*" >&2; }

# Store layout, created on first use.
store_init() {
	mkdir -p "$ROOT/blobs/sha256" "$ROOT/layers" "$ROOT/images" "$ROOT/containers" "$ROOT/tmp" ||
		die "cannot create the state directory $ROOT"
	[ -e "$ROOT/repositories" ] || : >>"$ROOT/repositories"
}

# One lock for every change of the state: fd 9 on $ROOT/.lock.
lock() {
	store_init
	exec 9>>"$ROOT/.lock" || die "cannot open $ROOT/.lock"
	flock 9 || die "cannot lock $ROOT/.lock"
}
unlock() {
	flock -u 9 2>/dev/null
	exec 9>&-
}

now() { date +%s; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# "5 seconds", "About a minute", "3 hours" like docker's units.HumanDuration.
human_duration() {
	local s=$1
	if [ "$s" -lt 1 ]; then
		echo "Less than a second"
	elif [ "$s" -eq 1 ]; then
		echo "1 second"
	elif [ "$s" -lt 60 ]; then
		echo "$s seconds"
	elif [ "$s" -lt 120 ]; then
		echo "About a minute"
	elif [ "$s" -lt 3600 ]; then
		echo "$((s / 60)) minutes"
	elif [ "$s" -lt 7200 ]; then
		echo "About an hour"
	elif [ "$s" -lt 172800 ]; then
		echo "$((s / 3600)) hours"
	else
		echo "$((s / 86400)) days"
	fi
}
ago() { echo "$(human_duration $(($(now) - $1))) ago"; }

# Decimal sizes as docker prints them (units.HumanSize): 1.23MB.
human_size() {
	awk -v b="$1" 'BEGIN { split("B kB MB GB TB", u, " "); i = 1;
		while (b >= 1000 && i < 5) { b /= 1000; i++ }
		if (i == 1) printf "%dB\n", b; else printf "%.3g%s\n", b, u[i] }'
}
# Binary sizes for memory: 1.5MiB.
human_bin() {
	awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1;
		while (b >= 1024 && i < 5) { b /= 1024; i++ }
		if (i == 1) printf "%dB\n", b; else printf "%.4g%s\n", b, u[i] }'
}

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	printf '"%s"' "$s"
}
json_arr() {
	local first=1 a
	printf '['
	for a in "$@"; do
		[ $first = 1 ] || printf ','
		first=0
		json_str "$a"
	done
	printf ']'
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

random_hex64() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# Read a NUL-separated file into the array named $1.
read_nul() {
	local -n _arr=$1
	_arr=()
	[ -s "$2" ] || return 0
	mapfile -d '' -t _arr <"$2"
}
write_nul() {
	local f=$1
	shift
	[ $# -eq 0 ] && {
		: >"$f"
		return
	}
	printf '%s\0' "$@" >"$f"
}

# A readable random name, docker style: adjective_scientist.
random_name() {
	local adj=(admiring adoring affectionate amazing awesome blissful bold brave busy clever
		compassionate competent confident cool dazzling determined eager ecstatic elastic
		elated elegant epic festive focused friendly gallant gifted gracious happy hopeful
		jolly keen kind laughing loving lucid magical modest nice nifty nostalgic optimistic
		peaceful pensive practical quirky relaxed serene sharp sleepy stoic strange sweet
		tender trusting upbeat vibrant wizardly xenodochial youthful zealous)
	local who=(albattani allen archimedes babbage bell bohr brahmagupta cannon curie darwin
		dijkstra einstein euclid euler fermat feynman franklin galileo gauss goldberg hamilton
		hopper hypatia joliot kepler knuth lamport lovelace mayer mccarthy meitner mendel
		newton noether pascal pasteur poincare ritchie shannon stallman thompson torvalds
		turing wiles wozniak yalow zhukovsky)
	local r
	r=$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')
	echo "${adj[r % ${#adj[@]}]}_${who[(r / 97) % ${#who[@]}]}"
}

# Own cgroup directory of controller $1 on this host (v1), or the v2 path.
cg_own_dir() {
	local c=$1 line path
	while IFS= read -r line; do
		local ctrls=${line#*:}
		path=${ctrls#*:}
		ctrls=${ctrls%%:*}
		case ",$ctrls," in
		*",$c,"*)
			[ -d "/sys/fs/cgroup/$c" ] && echo "/sys/fs/cgroup/$c${path%/}" && return 0
			;;
		esac
	done </proc/self/cgroup
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		path=$(sed -n 's/^0:://p' /proc/self/cgroup)
		echo "/sys/fs/cgroup${path%/}"
		return 0
	fi
	return 1
}
cg_controllers() { echo cpu cpuacct memory blkio pids freezer cpuset devices; }
