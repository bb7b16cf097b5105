# shellcheck shell=bash
# contain's admin.sh: rename, update (a running container's limits, through cgset), the
# prunes (container, image, system) and system df.
# Read by the front script (contain) for the commands that need it; never run alone.

adm_fail() {
	echo "contain: $*" >&2
	exit 1
}

# meta_set CID KEY VALUE: the container's meta line KEY replaced (or added), atomically.
meta_set() {
	local m="$ROOT/containers/$1/meta" t k done=0
	t=$(mktemp "$m.XXXXXX") || return 1
	while IFS= read -r k; do
		if [ "${k%% *}" = "$2" ]; then
			[ $done = 1 ] && continue
			k="$2 $3"
			done=1
		fi
		printf '%s\n' "$k"
	done <"$m" >"$t" || {
		rm -f -- "$t"
		return 1
	}
	[ $done = 1 ] || printf '%s %s\n' "$2" "$3" >>"$t"
	mv -- "$t" "$m"
}

# contain rename CONTAINER NEW_NAME
cmd_rename() {
	[ $# -eq 2 ] || adm_fail "\"contain rename\" requires exactly 2 arguments (usage: contain rename CONTAINER NEW_NAME)"
	local new=${2#/} cid old
	[[ $new =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] ||
		adm_fail "Error response from daemon: Invalid container name ($2), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
	store_init
	cid=$( (container_resolve "$1") 2>/dev/null) || adm_fail "Error: No such container: $1"
	cread old "$cid" name
	[ "$old" = "$new" ] && adm_fail "Error response from daemon: Renaming a container with the same name as its current name"
	name_claim "$new" "$cid" ||
		adm_fail "Error response from daemon: Error when allocating new name: Conflict. The container name \"/$new\" is already in use by container \"$R_HOLDER\". You have to remove (or rename) that container to be able to reuse that name."
	if ! meta_set "$cid" name "$new"; then
		name_release "$new" "$cid"
		adm_fail "cannot rename the container"
	fi
	name_release "$old" "$cid"
	ev_container rename "$cid" "\"oldName\":\"/$old\""
}

# limit_check FLAG VALUE: a cgset limit flag's value checked in contain's words (status 1
# with the message in R_ERR).
limit_check() {
	local f=$1 v=$2 want=""
	case $f in
	--memory | --memory-reservation | --kernel-memory)
		[[ ${v,,} =~ ^[0-9]+(\.[0-9]+)?[bkmgtp]?b?$ ]] || want="a size (bytes, or with a unit: 64m, 1g)"
		;;
	--memory-swap) [[ ${v,,} =~ ^(-1|[0-9]+(\.[0-9]+)?[bkmgtp]?b?)$ ]] || want="a size, or -1 for unlimited swap" ;;
	--cpus) [[ $v =~ ^[0-9]*\.?[0-9]+$ ]] || want="a positive number of CPUs (1.5)" ;;
	--cpu-shares | -c | --cpu-period | --cpu-rt-period | --blkio-weight) [[ $v =~ ^[0-9]+$ ]] || want="a positive integer" ;;
	--cpu-quota | --cpu-rt-runtime | --pids-limit) [[ $v =~ ^-?[0-9]+$ ]] || want="an integer (-1 for none)" ;;
	--memory-swappiness) [[ $v =~ ^(-1|[0-9]|[1-9][0-9]|100)$ ]] || want="an integer from 0 to 100" ;;
	--cpuset-cpus | --cpuset-mems) [[ $v =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || want="a list of CPUs or nodes (0-3,5)" ;;
	--device-read-bps | --device-write-bps) [[ ${v,,} =~ ^/[^:]+:[0-9]+(\.[0-9]+)?[bkmgtp]?b?$ ]] || want="DEVICE:RATE (/dev/sda:1mb)" ;;
	--device-read-iops | --device-write-iops) [[ $v =~ ^/[^:]+:[0-9]+$ ]] || want="DEVICE:IOPS (/dev/sda:100)" ;;
	esac
	if [ -z "$want" ] && [ "$f" = --blkio-weight ] && { [ "$v" -lt 10 ] || [ "$v" -gt 1000 ]; } && [ "$v" != 0 ]; then
		want="a weight from 10 to 1000"
	fi
	[ -z "$want" ] && return 0
	R_ERR="invalid $f value \"$v\": $want"
	return 1
}

# contain update [--cpus N] [-m SIZE] [--memory-swap SIZE] [--memory-reservation SIZE]
# [--pids-limit N] [-c|--cpu-shares N] [--cpu-period N] [--cpu-quota N] [--cpuset-cpus L]
# [--cpuset-mems L] [--blkio-weight N] [--restart POLICY] CONTAINER...: new limits, written
# to a running container's cgroup by cgset at once and kept for its next start.
cmd_update() {
	local -a set=() names=()
	local restart="" opt val
	while [ $# -gt 0 ]; do
		opt=$1 val=""
		case $opt in
		--help) echo "Usage: contain update [OPTIONS] CONTAINER..." && return 0 ;;
		--*=*)
			val=${opt#*=}
			opt=${opt%%=*}
			;;
		-[cm]?*)
			val=${opt:2}
			opt=${opt:0:2}
			;;
		-*)
			[ $# -ge 2 ] || adm_fail "update: flag needs an argument: $opt"
			val=$2
			shift
			;;
		*)
			names+=("$opt")
			shift
			continue
			;;
		esac
		case $opt in
		-m) opt=--memory ;;
		-c) opt=--cpu-shares ;;
		esac
		case $opt in
		--restart) restart=$val ;;
		--cpus | --memory | --memory-swap | --memory-reservation | --kernel-memory | --pids-limit | \
			--cpu-shares | --cpu-period | --cpu-quota | --cpuset-cpus | --cpuset-mems | --blkio-weight | \
			--cpu-rt-period | --cpu-rt-runtime)
			limit_check "$opt" "$val" || adm_fail "$R_ERR"
			set+=("$opt" "$val")
			;;
		*) adm_fail "update: unknown flag: $opt" ;;
		esac
		shift
	done
	[ ${#names[@]} -gt 0 ] || adm_fail "\"contain update\" requires at least 1 argument"
	[ ${#set[@]} -gt 0 ] || [ -n "$restart" ] || adm_fail "you must provide one or more flags when using this command"
	if [ -n "$restart" ]; then
		[[ $restart =~ ^(no|always|unless-stopped|on-failure(:[0-9]+)?)$ ]] ||
			adm_fail "invalid --restart value \"$restart\": no, always, unless-stopped or on-failure[:N]"
	fi
	store_init
	local n cid c rc=0 i j
	for n in "${names[@]}"; do
		cid=$( (container_resolve "$n") 2>/dev/null) || {
			echo "contain: Error: No such container: $n" >&2
			rc=1
			continue
		}
		c="$ROOT/containers/$cid"
		# the stored limits, each flag's old value replaced
		local -a old=() merged=()
		read_nul old "$c/limits"
		for ((i = 0; i < ${#old[@]}; i++)); do
			if [ "${old[i]}" = --oom-kill-disable ]; then
				merged+=(--oom-kill-disable)
				continue
			fi
			local keep=1
			for ((j = 0; j < ${#set[@]}; j += 2)); do
				[ "${set[j]}" = "${old[i]}" ] && keep=0
				# --cpus and --cpu-quota/--cpu-period exclude each other, as docker's do
				[ "${set[j]}" = --cpus ] && [[ ${old[i]} == --cpu-quota || ${old[i]} == --cpu-period ]] && keep=0
				[[ ${set[j]} == --cpu-quota || ${set[j]} == --cpu-period ]] && [ "${old[i]}" = --cpus ] && keep=0
			done
			[ $keep = 1 ] && merged+=("${old[i]}" "${old[i + 1]}")
			i=$((i + 1))
		done
		merged+=("${set[@]}")
		if [ ${#set[@]} -gt 0 ]; then
			use_cgroups || adm_fail "update: cgroup limits need root (contain runs without cgroups here)"
			local -a eq=()
			for ((i = 0; i < ${#set[@]}; i += 2)); do eq+=("${set[i]}=${set[i + 1]}"); done
			case $(cstate "$cid") in
			running | paused)
				local err
				# (FLAG=VALUE: a negative value is never taken for a flag)
				if ! err=$(cgset "${eq[@]}" "$(cgroup_group "$cid")" 2>&1 >/dev/null); then
					echo "contain: Error response from daemon: Cannot update container $cid: ${err#cgset: }" >&2
					rc=1
					continue
				fi
				;;
			esac
			local t
			t=$(mktemp "$c/limits.XXXXXX") && write_nul "$t" "${merged[@]}" && mv -- "$t" "$c/limits" || {
				echo "contain: cannot store the limits of $n" >&2
				rc=1
				continue
			}
		fi
		[ -n "$restart" ] && { meta_set "$cid" restart "$restart" || rc=1; }
		echo "$n"
	done
	return $rc
}

# prune_confirm FORCE TEXT: ask (on a terminal) unless FORCE is 1; status 1 for no.
prune_confirm() {
	[ "$1" = 1 ] && return 0
	[ -t 0 ] || adm_fail "give -f to prune without a prompt"
	local a
	read -r -p "WARNING! This will remove $2
Are you sure you want to continue? [y/N] " a
	[[ $a == [yY]* ]]
}

# contain container prune [-f]: every stopped container (created or exited).
cmd_container_prune() {
	local force=0 a total=0 c cid sz
	for a in "$@"; do
		case $a in
		-f | --force) force=1 ;;
		--filter | --filter=*) adm_fail "container prune: --filter is not supported" ;;
		*) adm_fail "container prune: unknown flag: $a" ;;
		esac
	done
	prune_confirm $force "all stopped containers." || return 0
	store_init
	local -a gone=()
	for c in "$ROOT"/containers/*/; do
		cid=${c%/}
		cid=${cid##*/}
		case $(cstate "$cid") in created | exited) ;; *) continue ;; esac
		sz=$(du -sb -- "$c/upper" 2>/dev/null | cut -f1)
		"$BASH" "$0" rm "$cid" >/dev/null && gone+=("$cid") && total=$((total + ${sz:-0}))
	done
	if [ ${#gone[@]} -gt 0 ]; then
		echo "Deleted Containers:"
		printf '%s\n' "${gone[@]}"
		echo
	fi
	echo "Total reclaimed space: $(human_size "$total")"
}

# contain image prune [-a] [-f]: the images without a tag (with -a: every image no container
# uses), and their layers no other image shares.
cmd_image_prune() {
	local force=0 all=0 a total=0 d id sz
	for a in "$@"; do
		case $a in
		-f | --force) force=1 ;;
		-a | --all) all=1 ;;
		-af | -fa) all=1 force=1 ;;
		*) adm_fail "image prune: unknown flag: $a" ;;
		esac
	done
	if [ $all = 1 ]; then
		prune_confirm $force "all images without at least one container associated to them." || return 0
	else
		prune_confirm $force "all dangling images." || return 0
	fi
	lock
	local -a out=()
	for d in "$ROOT"/images/*/; do
		id=${d%/}
		id=${id##*/}
		[[ $id == *.new.* ]] && continue
		[ -n "$(image_users "$id" | head -1)" ] && continue
		if [ $all = 0 ]; then
			[ -z "$(image_tags "$id")" ] || continue
		fi
		sz=$(image_size "$id")
		while read -r a; do
			[[ $a == *:* ]] && out+=("untagged: $a") && tag_del "${a%:*}" "${a##*:}"
		done < <(image_tags "$id")
		mapfile -t -O "${#out[@]}" out < <(image_delete "$id" | sed 's/^Deleted: /deleted: /')
		total=$((total + sz))
	done
	unlock
	if [ ${#out[@]} -gt 0 ]; then
		echo "Deleted Images:"
		printf '%s\n' "${out[@]}"
		echo
	fi
	echo "Total reclaimed space: $(human_size "$total")"
}

# contain system df [-v]: the space of images, containers and volumes, as docker shows it.
cmd_system() {
	local sub=${1:-}
	[ $# -gt 0 ] && shift
	store_init
	case $sub in
	df) sys_df "$@" ;;
	prune) sys_prune "$@" ;;
	*) adm_fail "'system $sub' is not a contain command (see 'contain --help'; system df, system prune)" ;;
	esac
}
sys_df() {
	local format="" a
	while [ $# -gt 0 ]; do
		case $1 in
		--format | --format=*)
			opt_value "system df" "$@"
			format=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		-v | --verbose) ;;
		*) adm_fail "system df: unknown flag: $1" ;;
		esac
		shift
	done
	local ni=0 ai=0 si=0 ri=0 id d cid nc=0 ac=0 sc=0 rc=0 sz nv=0 av=0 sv=0 rv=0 used h
	local -A inuse=() lay=()
	for d in "$ROOT"/containers/*/; do
		cid=${d%/}
		cid=${cid##*/}
		[ -e "$d/meta" ] || continue
		nc=$((nc + 1))
		cread id "$cid" image && inuse[$id]=1
		sz=$(du -sb -- "$d/upper" 2>/dev/null | cut -f1)
		sc=$((sc + ${sz:-0}))
		case $(cstate "$cid") in
		running | paused) ac=$((ac + 1)) ;;
		*) rc=$((rc + ${sz:-0})) ;;
		esac
	done
	for d in "$ROOT"/images/*/; do
		id=${d%/}
		id=${id##*/}
		[[ $id == *.new.* ]] && continue
		[ -r "$d/layers" ] || continue
		ni=$((ni + 1))
		[ -n "${inuse[$id]:-}" ] && ai=$((ai + 1))
		while read -r h; do
			[ -n "${lay[$h]:-}" ] && continue
			lay[$h]=1
			sz=$(cat "$ROOT/layers/$h/size" 2>/dev/null || echo 0)
			si=$((si + sz))
		done <"$d/layers"
	done
	# reclaimable: the layers of the images no container uses, when no used image shares them
	local -A usedl=()
	for id in "${!inuse[@]}"; do
		[ -r "$ROOT/images/$id/layers" ] && while read -r h; do usedl[$h]=1; done <"$ROOT/images/$id/layers"
	done
	for h in "${!lay[@]}"; do
		[ -n "${usedl[$h]:-}" ] && continue
		ri=$((ri + $(cat "$ROOT/layers/$h/size" 2>/dev/null || echo 0)))
	done
	for d in "$ROOT"/volumes/*/; do
		id=${d%/}
		id=${id##*/}
		[[ $id == .new.* ]] && continue
		nv=$((nv + 1))
		sz=$(du -sb -- "$d/_data" 2>/dev/null | cut -f1)
		sv=$((sv + ${sz:-0}))
		used=0
		for a in "$ROOT"/containers/*/meta; do grep -q "^volume $id:" "$a" && used=1 && break; done
		if [ $used = 1 ]; then av=$((av + 1)); else rv=$((rv + ${sz:-0})); fi
	done
	pct() { [ "$2" -gt 0 ] && awk -v a="$1" -v b="$2" 'BEGIN { printf " (%d%%)", a * 100 / b }'; }
	{
		printf '{"Type":"Images","TotalCount":"%s","Active":"%s","Size":"%s","Reclaimable":"%s%s"}\n' \
			"$ni" "$ai" "$(human_size $si)" "$(human_size $ri)" "$(pct $ri $si)"
		printf '{"Type":"Containers","TotalCount":"%s","Active":"%s","Size":"%s","Reclaimable":"%s%s"}\n' \
			"$nc" "$ac" "$(human_size $sc)" "$(human_size $rc)" "$(pct $rc $sc)"
		printf '{"Type":"Local Volumes","TotalCount":"%s","Active":"%s","Size":"%s","Reclaimable":"%s%s"}\n' \
			"$nv" "$av" "$(human_size $sv)" "$(human_size $rv)" "$(pct $rv $sv)"
		printf '{"Type":"Build Cache","TotalCount":"0","Active":"0","Size":"0B","Reclaimable":"0B"}\n'
	} | tpl_listing "$format" 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' \
		'{"Type":"TYPE","TotalCount":"TOTAL","Active":"ACTIVE","Size":"SIZE","Reclaimable":"RECLAIMABLE"}'
}
# contain system prune [-a] [-f] [--volumes]: stopped containers, unused networks (net.sh's
# prune), dangling images (every unused one with -a), and unused volumes with --volumes.
sys_prune() {
	local force=0 all=0 vols=0 a
	for a in "$@"; do
		case $a in
		-f | --force) force=1 ;;
		-a | --all) all=1 ;;
		--volumes) vols=1 ;;
		-af | -fa) all=1 force=1 ;;
		*) adm_fail "system prune: unknown flag: $a" ;;
		esac
	done
	local what="  - all stopped containers
  - all networks not used by at least one container"
	[ $vols = 1 ] && what+="
  - all anonymous volumes not used by at least one container"
	if [ $all = 1 ]; then what+="
  - all images without at least one container associated to them"; else what+="
  - all dangling images"; fi
	prune_confirm $force "
$what
" || return 0
	cmd_container_prune -f
	"$BASH" "$0" network prune -f >/dev/null 2>&1
	[ $vols = 1 ] && "$BASH" "$0" volume prune -f
	if [ $all = 1 ]; then cmd_image_prune -a -f; else cmd_image_prune -f; fi
}

# contain __prune container|image ARGS: the prunes that `container prune` and `image prune`
# name (contain's group commands).
cmd_prune() {
	local what=${1:-}
	shift
	case $what in
	container) cmd_container_prune "$@" ;;
	image) cmd_image_prune "$@" ;;
	*) adm_fail "prune: container or image" ;;
	esac
}
# limits_check FLAG VALUE...: run's limit pairs (--oom-kill-disable alone) through limit_check.
limits_check() {
	while [ $# -gt 0 ]; do
		[ "$1" = --oom-kill-disable ] && shift && continue
		limit_check "$1" "${2:-}" || return 1
		shift 2
	done
}

# contain attach [--no-stdin] [--sig-proxy=true|false] CONTAINER: the output of a running
# container from now on (through `logs -f`: its streams as logs keeps them), until it ends;
# its exit status is attach's.  The signals attach gets (INT, TERM, HUP, QUIT, USR1, USR2)
# are sent on to the container unless --sig-proxy=false, as docker attach does.  Our input
# goes to a detached -i container's (its stdin FIFO, which its monitor feeds it from; the end
# of ours is not the container's, as docker's -d -i) unless --no-stdin.  A -t container's
# terminal is its console relay's (not attachable here); --detach-keys is accepted, unused.
# attach_keys SPEC: docker's --detach-keys (ctrl-X or single characters, comma-separated) as
# bytes into R_KEYS; status 1 for a key it does not know.
attach_keys() {
	local k c o
	R_KEYS=
	local IFS=,
	for k in $1; do
		case $k in
		ctrl-[a-z]) printf -v o '%d' "'${k#ctrl-}" && o=$((o - 96)) ;;
		ctrl-@) o=0 ;;
		ctrl-\[) o=27 ;;
		'ctrl-\') o=28 ;;
		ctrl-]) o=29 ;;
		ctrl-^) o=30 ;;
		ctrl-_) o=31 ;;
		?) printf -v o '%d' "'$k" ;;
		*) return 1 ;;
		esac
		printf -v c "\\$(printf %03o "$o")"
		R_KEYS+=$c
	done
	[ -n "$R_KEYS" ]
}
# attach_feed FIFO KEYS: the terminal's bytes to FIFO until the detach sequence KEYS, which is
# held back while it is being typed and sent on when it breaks off; status 3 on a detach.
attach_feed() {
	local keys=$2 ch held= n=0
	exec 3>"$1" || return 1
	while IFS= read -r -N1 -d '' ch; do
		if [ "$ch" = "${keys:n:1}" ]; then
			held+=$ch
			n=$((n + 1))
			[ "$n" -lt "${#keys}" ] && continue
			return 3
		fi
		printf '%s' "$held$ch" >&3 || return 1
		held= n=0
	done
	return 0
}
cmd_attach() {
	local proxy=1 nostdin=0 a keys=$'\x10\x11'
	local -a names=()
	for a in "$@"; do
		case $a in
		--detach-keys=*)
			attach_keys "${a#*=}" || adm_fail "Invalid detach keys (${a#*=}) provided"
			keys=$R_KEYS
			;;
		--no-stdin) nostdin=1 ;;
		--sig-proxy | --sig-proxy=true) proxy=1 ;;
		--sig-proxy=false) proxy=0 ;;
		--help) echo "Usage: contain attach [--no-stdin] [--sig-proxy=false] [--detach-keys=KEYS] CONTAINER" && return 0 ;;
		-*) adm_fail "attach: unknown flag: $a" ;;
		*) names+=("$a") ;;
		esac
	done
	[ ${#names[@]} -eq 1 ] || adm_fail "\"contain attach\" requires exactly 1 argument"
	store_init
	local cid t i
	cid=$( (container_resolve "${names[0]}") 2>/dev/null) || adm_fail "Error: No such container: ${names[0]}"
	case $(cstate "$cid") in
	running | paused) ;;
	*) adm_fail "You cannot attach to a stopped container, start it first" ;;
	esac
	cread t "$cid" tty
	cread i "$cid" interactive
	# a -t container's console is its own: our terminal goes raw, its bytes pass as they are
	# (^C included, the container's terminal makes the signal) and only the detach keys stay
	# here; signals are then not proxied, as under docker
	local stty=
	if [ "$t" = 1 ] && [ -t 0 ] && [ "$i" = 1 ] && [ $nostdin = 0 ]; then
		stty=$(stty -g) && stty raw -echo
		proxy=0
	fi
	"$BASH" "$0" logs -f -n 0 "$cid" &
	local lp=$! s feeder= fifo=$ROOT/containers/$cid/stdin
	if [ $nostdin = 0 ] && [ "$i" = 1 ] && [ -p "$fifo" ] && ! [ /dev/fd/0 -ef /dev/null ]; then
		if [ -n "$stty" ]; then
			(attach_feed "$fifo" "$keys"; s=$? && [ $s = 3 ] && kill -USR2 $$; exit $s) &
		else
			# (^C is ours to send on: the relay ignores it)
			(trap '' INT QUIT && exec cat >"$fifo") &
		fi
		feeder=$!
	fi
	local detached=0
	trap 'detached=1 && kill "$lp" 2>/dev/null' USR2
	if [ $proxy = 1 ]; then
		for s in INT TERM HUP QUIT USR1; do
			# shellcheck disable=SC2064
			trap "\"\$BASH\" \"\$0\" kill -s $s $cid >/dev/null 2>&1" "$s"
		done
	fi
	# (wait returns early for each signal trapped: wait again until logs ends)
	while kill -0 "$lp" 2>/dev/null; do wait "$lp"; done
	[ -n "$feeder" ] && kill "$feeder" 2>/dev/null
	[ -n "$stty" ] && stty "$stty"
	if [ $detached = 1 ]; then
		# docker's words and status for a detach: the container runs on
		echo "read escape sequence" >&2
		return 1
	fi
	local code
	# the monitor writes the exit status as it ends: a moment after the log closes
	for ((s = 0; s < 50; s++)); do
		case $(cstate "$cid") in running | paused) sleep 0.1 ;; *) break ;; esac
	done
	code=$(cfile "$cid" exitcode) || code=0
	[[ $code =~ ^[0-9]+$ ]] || code=0
	return "$code"
}
