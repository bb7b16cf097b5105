# shellcheck shell=bash
# contain's volumes.sh: named volumes (docker's local driver): `-v NAME:/path` binds
# $ROOT/volumes/NAME/_data, which outlives the containers that use it and can be shared by
# several; `contain volume create|ls|inspect|rm|prune`.
#   $ROOT/volumes/NAME/_data    the volume's files
#   $ROOT/volumes/NAME/meta     "created EPOCH", "label KEY=VALUE" lines, "anonymous 1"
# Read by the front script (contain) for the commands that need it; never run alone.

vol_fail() {
	echo "contain: $*" >&2
	exit 1
}
vol_valid() { [[ $1 =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ ]]; }

# vol_users NAME: the ids of the containers whose -v names the volume.
vol_users() {
	local c k v
	for c in "$ROOT"/containers/*/meta; do
		while IFS=' ' read -r k v; do
			[ "$k" = volume ] && [ "${v%%:*}" = "$1" ] && {
				c=${c%/meta}
				echo "${c##*/}"
				break
			}
		done <"$c"
	done
}

# vol_json NAME: the volume as docker's volume inspect shows it.
vol_json() {
	local n=$1 d="$ROOT/volumes/$1" k v created="" labels=""
	if [ -r "$d/meta" ]; then
		while IFS=' ' read -r k v; do
			case $k in
			created) created=$v ;;
			label) labels+="${labels:+,}$(json_str "${v%%=*}"):$(json_str "$([[ $v == *=* ]] && echo "${v#*=}")")" ;;
			esac
		done <"$d/meta"
	fi
	printf '{"CreatedAt":"%s","Driver":"local","Labels":{%s},"Mountpoint":%s,"Name":%s,"Options":{},"Scope":"local"}' \
		"$(iso "${created:-0}")" "$labels" "$(json_str "$d/_data")" "$(json_str "$n")"
}

VOLUME_HEADERS='{"Driver":"DRIVER","Name":"VOLUME NAME","Mountpoint":"MOUNTPOINT","Scope":"SCOPE","Labels":"LABELS","CreatedAt":"CREATED AT"}'
cmd_volume() {
	local sub=${1:-}
	[ $# -gt 0 ] && shift
	store_init
	mkdir -p "$ROOT/volumes" || vol_fail "cannot create $ROOT/volumes"
	case $sub in
	create) vol_create "$@" ;;
	ls | list) vol_ls "$@" ;;
	inspect) vol_inspect "$@" ;;
	rm | remove) vol_rm "$@" ;;
	prune) vol_prune "$@" ;;
	"" | --help) echo "Usage: contain volume create|ls|inspect|rm|prune" ;;
	*) vol_fail "'volume $sub' is not a contain command (see 'contain --help')" ;;
	esac
}

# vol_make NAME [LABEL...]: make the volume if it is not there (status 0 either way).
vol_make() {
	local n=$1 d="$ROOT/volumes/$1" t l
	shift
	[ -d "$d/_data" ] && return 0
	mkdir -p "$ROOT/volumes" || return 1
	t=$(mktemp -d "$ROOT/volumes/.new.XXXXXX") || return 1
	mkdir "$t/_data" && chmod 755 "$t" "$t/_data" || return 1
	{
		echo "created $EPOCHSECONDS"
		# (run's -v DEST names its anonymous volumes by 64 random hex digits, as docker does)
		[[ $n =~ ^[0-9a-f]{64}$ ]] && echo "anonymous 1"
		for l in "$@"; do echo "label $l"; done
	} >"$t/meta" || return 1
	# the rename makes it appear whole; another maker's win is as good (and its event)
	if mv -T -- "$t" "$d" 2>/dev/null; then
		ev_emit volume create "$n" '"driver":"local"'
	else
		rm -rf -- "$t"
	fi
	[ -d "$d/_data" ]
}

vol_create() {
	local name="" a
	local -a labels=()
	while [ $# -gt 0 ]; do
		case $1 in
		--label | -l)
			[ $# -ge 2 ] || vol_fail "volume create: flag needs an argument: $1"
			labels+=("$2")
			shift
			;;
		--label=*) labels+=("${1#*=}") ;;
		-d | --driver)
			[ "${2:-}" = local ] || vol_fail "volume create: only the local driver is supported"
			shift
			;;
		--driver=*) [ "${1#*=}" = local ] || vol_fail "volume create: only the local driver is supported" ;;
		--name)
			name=${2:-}
			shift
			;;
		--name=*) name=${1#*=} ;;
		-o | --opt | --opt=*) vol_fail "volume create: driver options are not supported" ;;
		-*) vol_fail "volume create: unknown flag: $1" ;;
		*)
			[ -z "$name" ] || vol_fail "volume create: at most 1 argument"
			name=$1
			;;
		esac
		shift
	done
	if [ -z "$name" ]; then
		printf -v name '%08x%08x%08x%08x%08x%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM" \
			"$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM"
	fi
	vol_valid "$name" || vol_fail "volume name \"$name\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
	for a in "${labels[@]}"; do [[ $a == ?* ]] || vol_fail "volume create: bad label '$a'"; done
	vol_make "$name" "${labels[@]}" || vol_fail "cannot create the volume $name"
	echo "$name"
}

vol_ls() {
	local quiet=0 format="" d n
	local -A FILTERS=()
	FILTER_KEYS="dangling name label driver"
	while [ $# -gt 0 ]; do
		case $1 in
		-q | --quiet) quiet=1 ;;
		-f | -f* | --filter | --filter=*)
			opt_value "volume ls" "$@"
			filter_add "$R_OPT"
			shift "$R_SHIFT"
			continue
			;;
		--format | --format=*)
			opt_value "volume ls" "$@"
			format=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		*) vol_fail "volume ls: unknown flag: $1" ;;
		esac
		shift
	done
	local -a rows=()
	local v ok
	for d in "$ROOT"/volumes/*/; do
		n=${d%/}
		n=${n##*/}
		[[ $n == .new.* ]] && continue
		if filter_has name; then
			ok=0
			while IFS= read -r v; do [ -n "$v" ] && [[ $n == *"$v"* ]] && ok=1; done <<<"${FILTERS[name]}"
			[ $ok = 1 ] || continue
		fi
		if filter_has dangling; then
			local used
			used=$(vol_users "$n")
			ok=0
			while IFS= read -r v; do
				case $v in true | 1) [ -z "$used" ] && ok=1 ;; false | 0) [ -n "$used" ] && ok=1 ;; esac
			done <<<"${FILTERS[dangling]}"
			[ $ok = 1 ] || continue
		fi
		if filter_has label; then
			ok=1
			while IFS= read -r v; do
				[ -z "$v" ] && continue
				if [[ $v == *=* ]]; then
					grep -qxF "label $v" "$d/meta" 2>/dev/null || ok=0
				else
					grep -q "^label $v\(=\|$\)" "$d/meta" 2>/dev/null || ok=0
				fi
			done <<<"${FILTERS[label]}"
			[ $ok = 1 ] || continue
		fi
		if [ $quiet = 1 ]; then
			echo "$n"
			continue
		fi
		rows+=("$(vol_json "$n" | jq -c '.Labels |= (to_entries | map(.key + "=" + .value) | join(","))')")
	done
	[ $quiet = 1 ] && return 0
	{
		[ ${#rows[@]} -gt 0 ] && printf '%s\n' "${rows[@]}"
		:
	} | tpl_listing "$format" 'table {{.Driver}}\t{{.Name}}' "$VOLUME_HEADERS"
}

vol_inspect() {
	local format="" n rc=0 out=""
	local -a names=()
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --format)
			format=${2:-}
			shift
			;;
		--format=*) format=${1#*=} ;;
		-*) vol_fail "volume inspect: unknown flag: $1" ;;
		*) names+=("$1") ;;
		esac
		shift
	done
	[ ${#names[@]} -gt 0 ] || vol_fail "\"volume inspect\" requires at least 1 argument"
	for n in "${names[@]}"; do
		if ! vol_valid "$n" || ! [ -d "$ROOT/volumes/$n/_data" ]; then
			echo "contain: Error: No such volume: $n" >&2
			rc=1
			continue
		fi
		out+="$(vol_json "$n")"$'\n'
	done
	if [ -n "$format" ]; then
		[ -z "$out" ] || printf '%s' "$out" | tpl_apply "$format" || rc=1
	elif [ -z "$out" ]; then
		echo "[]"
	else
		printf '%s' "$out" | jq --indent 4 -s .
	fi
	return $rc
}

vol_rm() {
	local force=0 n rc=0 users
	local -a names=()
	for n in "$@"; do
		case $n in
		-f | --force) force=1 ;;
		-*) vol_fail "volume rm: unknown flag: $n" ;;
		*) names+=("$n") ;;
		esac
	done
	[ ${#names[@]} -gt 0 ] || vol_fail "\"volume rm\" requires at least 1 argument"
	lock
	for n in "${names[@]}"; do
		if ! vol_valid "$n" || ! [ -d "$ROOT/volumes/$n" ]; then
			[ $force = 1 ] && continue
			echo "contain: Error: No such volume: $n" >&2
			rc=1
			continue
		fi
		users=$(vol_users "$n")
		if [ -n "$users" ]; then
			echo "contain: Error response from daemon: remove $n: volume is in use - [$(echo $users | tr ' ' ',')]" >&2
			rc=1
			continue
		fi
		vol_delete "$n" || rc=1
		echo "$n"
	done
	unlock
	return $rc
}
# vol_delete NAME: the volume's directory, renamed away first so that it is gone at once.
vol_delete() {
	local t="$ROOT/volumes/.new.del.$1.$$"
	mv -T -- "$ROOT/volumes/$1" "$t" || return 1
	ev_emit volume destroy "$1" '"driver":"local"'
	rm -rf -- "$t"
}

vol_prune() {
	local force=0 all=0 n total=0 sz
	for n in "$@"; do
		case $n in
		-f | --force) force=1 ;;
		-a | --all) all=1 ;;
		*) vol_fail "volume prune: unknown flag: $n" ;;
		esac
	done
	if [ $force = 0 ]; then
		[ -t 0 ] || vol_fail "volume prune: give -f to remove without a prompt"
		read -r -p "WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue? [y/N] " n
		[[ $n == [yY]* ]] || return 0
	fi
	lock
	local -a gone=()
	local d
	for d in "$ROOT"/volumes/*/; do
		n=${d%/}
		n=${n##*/}
		[[ $n == .new.* ]] && continue
		[ -n "$(vol_users "$n")" ] && continue
		# docker prunes only the anonymous volumes unless -a
		[ $all = 1 ] || grep -qx 'anonymous 1' "$d/meta" 2>/dev/null || continue
		sz=$(du -sb -- "$d" 2>/dev/null | cut -f1)
		vol_delete "$n" && gone+=("$n") && total=$((total + ${sz:-0}))
	done
	unlock
	if [ ${#gone[@]} -gt 0 ]; then
		echo "Deleted Volumes:"
		printf '%s\n' "${gone[@]}"
		echo
	fi
	echo "Total reclaimed space: $(human_size "$total")"
}

# mount_spec SPEC: docker's --mount type=bind|volume,source=...,target=...[,readonly] into
# R_VOLUME as a -v spec's SRC:DEST:MODE (run.sh's volume_spec checks it); type=tmpfs (with
# tmpfs-size, tmpfs-mode) into R_TMPFS instead, R_VOLUME empty.
mount_spec() {
	local -a kv
	local k v typ=volume src="" dst="" mode=rw topts=""
	R_TMPFS=
	IFS=, read -ra kv <<<"$1"
	for k in "${kv[@]}"; do
		v=${k#*=}
		case ${k%%=*} in
		type) typ=$v ;;
		source | src) src=$v ;;
		target | destination | dst) dst=$v ;;
		readonly | ro) [[ $k == *=* ]] && [[ $v == false || $v == 0 ]] || mode=ro ;;
		tmpfs-size) [[ $v =~ ^[0-9]+[kmgKMG]?$ ]] && topts+=",size=$v" || die "invalid argument \"$1\" for \"--mount\" flag: bad tmpfs-size '$v'" ;;
		tmpfs-mode) [[ $v =~ ^[0-7]{3,4}$ ]] && topts+=",mode=$v" || die "invalid argument \"$1\" for \"--mount\" flag: bad tmpfs-mode '$v'" ;;
		bind-propagation | consistency | volume-nocopy | volume-driver) ;;
		*) die "invalid argument \"$1\" for \"--mount\" flag: unexpected key '${k%%=*}' in '$k'" ;;
		esac
	done
	[ -n "$dst" ] || die "invalid argument \"$1\" for \"--mount\" flag: target is required"
	case $typ in
	bind)
		[ -n "$src" ] || die "invalid argument \"$1\" for \"--mount\" flag: source is required when type is bind"
		[ -e "$src" ] || die "invalid mount config for type \"bind\": bind source path does not exist: $src"
		;;
	volume) ;;
	tmpfs) ;;
	*) die "invalid argument \"$1\" for \"--mount\" flag: mount type unknown: \"$typ\"" ;;
	esac
	if [ "$typ" = tmpfs ]; then
		[ -z "$src" ] || die "invalid argument \"$1\" for \"--mount\" flag: source is not allowed when type is tmpfs"
		[ $mode = ro ] && topts+=",ro"
		tmpfs_spec "$dst:${topts#,}"
		R_VOLUME=
	elif [ -z "$src" ]; then
		volume_spec "$dst"
		R_VOLUME=${R_VOLUME%:*}:$mode
	else
		volume_spec "$src:$dst:$mode"
	fi
}
# label_file FILE: docker's --label-file (KEY=VALUE lines; # comments) into R_LABELS.
label_file() {
	local l
	R_LABELS=()
	[ -r "$1" ] || die "open $1: no such file or directory"
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l =~ ^[[:space:]]*(#|$) ]] && continue
		R_LABELS+=("$l")
	done <"$1"
}
# ulimit_spec NAME=SOFT[:HARD]: docker's --ulimit (the names prlimit takes) into R_ULIMIT.
ulimit_spec() {
	local n=${1%%=*} v=${1#*=}
	[[ $1 == *=* ]] || die "invalid argument \"$1\" for \"--ulimit\" flag: invalid ulimit argument: $1"
	case $n in
	as | core | cpu | data | fsize | locks | memlock | msgqueue | nice | nofile | nproc | rss | rtprio | rttime | sigpending | stack) ;;
	*) die "invalid argument \"$1\" for \"--ulimit\" flag: invalid ulimit type: $n" ;;
	esac
	[[ $v =~ ^-?[0-9]+(:-?[0-9]+)?$ ]] || die "invalid argument \"$1\" for \"--ulimit\" flag: invalid ulimit argument: $v"
	[[ $v == *:* ]] || v=$v:$v
	[ "${v%%:*}" -le "${v#*:}" ] || [ "${v#*:}" = -1 ] ||
		die "invalid argument \"$1\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: ${v%%:*} > ${v#*:}"
	v=${v//-1/unlimited}
	R_ULIMIT=$n=$v
}
# tmpfs_spec DEST[:OPTIONS]: docker's --tmpfs into R_TMPFS as DEST:OPTIONS (Docker's defaults
# rw,nosuid,nodev,noexec, then the given options, which win: exec, size=64m, mode=1777).
tmpfs_spec() {
	local dst=${1%%:*} o=""
	[[ $1 == *:* ]] && o=${1#*:}
	[[ $dst == /* ]] && [[ $dst == *[!/]* ]] || die "invalid argument \"$1\" for \"--tmpfs\" flag: the destination must be an absolute path other than /"
	[[ $o =~ ^[A-Za-z0-9=,._+-]*$ ]] || die "invalid argument \"$1\" for \"--tmpfs\" flag: bad mount options \"$o\""
	R_TMPFS=$dst:rw,nosuid,nodev,noexec${o:+,$o}
}
# shm_spec SIZE: --shm-size (bytes, or with b, k, m, g) as a tmpfs on /dev/shm, into R_TMPFS.
shm_spec() {
	local v=${1,,}
	v=${v%b}
	[[ $v =~ ^[1-9][0-9]*[kmg]?$ ]] || die "invalid argument \"$1\" for \"--shm-size\" flag: a size (64m)"
	R_TMPFS=/dev/shm:rw,nosuid,nodev,noexec,mode=1777,size=$v
}
