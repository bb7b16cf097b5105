# shellcheck shell=bash
# contain: containers.
#
#   $ROOT/containers/ID/   name image imageref created hostname cmd (NUL-separated) limits
#                          (NUL-separated cgset flags) net mode autoremove interactive cgdirs
#                          status (created|running|exited) paused pid init mpid exitcode
#                          started finished log upper/ work/ rootfs/

# container_resolve ARG: a name, a full id or a unique id prefix.
container_resolve() {
	local arg=$1 c m=()
	for c in "$ROOT"/containers/*/; do
		[ "$(cat "$c/name" 2>/dev/null)" = "$arg" ] && {
			basename "$c"
			return 0
		}
	done
	if [[ $arg =~ ^[0-9a-f]{1,64}$ ]]; then
		for c in "$ROOT/containers/$arg"*/; do m+=("$(basename "$c")"); done
		[ ${#m[@]} -eq 1 ] && {
			echo "${m[0]}"
			return 0
		}
		[ ${#m[@]} -gt 1 ] && die "container id prefix '$arg' is ambiguous"
	fi
	die "Error: No such container: $arg"
}

cfile() { cat "$ROOT/containers/$1/$2" 2>/dev/null; }

# The live state: created, running, paused or exited (a dead monitor means exited).
cstate() {
	local c="$ROOT/containers/$1" s m
	s=$(cat "$c/status" 2>/dev/null) || {
		echo removed
		return
	}
	if [ "$s" = running ]; then
		m=$(cat "$c/mpid" 2>/dev/null)
		if [ -z "$m" ] || ! kill -0 "$m" 2>/dev/null; then
			echo exited
			return
		fi
		[ -e "$c/paused" ] && {
			echo paused
			return
		}
	fi
	echo "$s"
}

cgroup_group() { echo "./$CGPARENT/$1"; }

use_cgroups() { [ "$ROOTLESS" = 0 ] && [ "${CONTAIN_NO_CGROUPS:-0}" != 1 ]; }

# Remove the container's cgroup everywhere, and our parent group when it is empty.
cgroup_remove() {
	local cid=$1 d
	use_cgroups || return 0
	cgset --delete --kill "$(cgroup_group "$cid")" >/dev/null 2>&1
	while read -r d; do
		[ -n "$d" ] || continue
		if [ -d "$d" ]; then
			local p
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
			local i
			for i in 1 2 3 4 5 6 7 8 9 10; do
				rmdir -- "$d" 2>/dev/null && break
				sleep 0.05
			done
		fi
		rmdir -- "$(dirname -- "$d")" 2>/dev/null
	done < <(cfile "$cid" cgdirs)
}

# The exec chain of container $1 into the array CHAIN.
build_chain() {
	local cid=$1 c="$ROOT/containers/$1" h
	local -a cmd ns lowers
	read_nul cmd "$c/cmd"
	CHAIN=()
	use_cgroups && CHAIN+=(cgset "$(cgroup_group "$cid")" --)
	ns=(--fork --pid --mount --uts --ipc)
	[ "$ROOTLESS" = 1 ] && ns=(--user --map-root-user "${ns[@]}")
	[ "$(cfile "$cid" net)" = host ] || ns+=(--net --loopback)
	CHAIN+=(unshare-rs "${ns[@]}" --hostname "$(cfile "$cid" hostname)" --)
	lowers=()
	while read -r h; do lowers+=(--lower "$ROOT/layers/$h/fs"); done < <(tac "$ROOT/images/$(cfile "$cid" image)/layers")
	CHAIN+=(unionmount "${lowers[@]}" --upper "$c/upper" --work "$c/work" "$c/rootfs" --)
	if [ "$(cfile "$cid" mode)" = chroot ]; then
		CHAIN+=(chroot-rs --proc --dev --sys -- "$c/rootfs")
	else
		CHAIN+=(chroot-rs --pivot --proc --dev --sys --harden -- "$c/rootfs")
	fi
	CHAIN+=("${cmd[@]}")
}

# The host pid of the container's pid 1: the child of the chain's unshare-rs.
find_init() {
	local pid=$1 i kids comm
	for i in $(seq 1 500); do
		kill -0 "$pid" 2>/dev/null || return 1
		comm=$(cat "/proc/$pid/comm" 2>/dev/null)
		kids=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
		if [ "$comm" != cgset ] && [ -n "$kids" ]; then
			echo "${kids%% *}"
			return 0
		fi
		sleep 0.01
	done
	return 1
}

# --device HOST[:CONTAINER]: once the container's /dev is set up, make the node there through
# /proc/PID/root (the host's root reaches the container's tmpfs /dev that way).
add_devices() {
	local cid=$1 init=$2 d host dst i t
	[ -s "$ROOT/containers/$cid/devices" ] || return 0
	for i in $(seq 1 300); do
		[ "$(stat -c %d "/proc/$init/root/" 2>/dev/null)" != "$(stat -c %d /)" ] &&
			[ -c "/proc/$init/root/dev/null" ] && break
		sleep 0.01
	done
	while read -r d; do
		host=${d%%:*}
		dst=${d#*:}
		[ "$dst" = "$d" ] && dst=$host
		dst=${dst%%:*}
		t=b
		[ -c "$host" ] && t=c
		mkdir -p "/proc/$init/root$(dirname -- "$dst")"
		mknod -m 660 "/proc/$init/root$dst" $t $((16#$(stat -c %t "$host"))) $((16#$(stat -c %T "$host")))
	done <"$ROOT/containers/$cid/devices"
}

# Run container $1 to its end, recording its state; $2 = fg for the caller's terminal.
run_chain() {
	local cid=$1 fg=${2:-} c="$ROOT/containers/$1" pid init rc
	build_chain "$cid"
	lock
	echo running >"$c/status"
	now >"$c/started"
	rm -f "$c/exitcode" "$c/finished" "$c/paused" "$c/init"
	echo "$BASHPID" >"$c/mpid"
	unlock
	trap ':' INT TERM HUP QUIT
	if [ "$fg" = fg ] && [ "$(cfile "$cid" interactive)" = 1 ]; then
		"${CHAIN[@]}" <&0 &
	elif [ "$fg" = fg ]; then
		"${CHAIN[@]}" </dev/null &
	else
		"${CHAIN[@]}" </dev/null >>"$c/log" 2>&1 &
	fi
	pid=$!
	echo "$pid" >"$c/pid"
	(init=$(find_init "$pid") && echo "$init" >"$c/init" && add_devices "$cid" "$init") &
	local finder=$!
	while :; do
		wait "$pid"
		rc=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	wait "$finder" 2>/dev/null
	trap - INT TERM HUP QUIT
	lock
	echo exited >"$c/status"
	echo "$rc" >"$c/exitcode"
	now >"$c/finished"
	rm -f "$c/pid" "$c/init" "$c/mpid" "$c/paused"
	unlock
	return "$rc"
}

# Detached: the monitor runs in its own session, output to the log.
monitor() {
	local cid=$1 rc
	run_chain "$cid" bg
	rc=$?
	[ "$(cfile "$cid" autoremove)" = 1 ] && remove_container "$cid"
	exit "$rc"
}

start_detached() {
	local cid=$1 c="$ROOT/containers/$1" i
	setsid "$SELF" __monitor "$cid" </dev/null >/dev/null 2>&1 &
	for i in $(seq 1 500); do
		[ -s "$c/init" ] && return 0
		[ -e "$c/finished" ] && return 0
		[ -d "$c" ] || return 0
		sleep 0.01
	done
	return 0
}

remove_container() {
	local cid=$1 c="$ROOT/containers/$1"
	lock
	cgroup_remove "$cid"
	mountpoint -q -- "$c/rootfs" 2>/dev/null && umount -l -- "$c/rootfs"
	rm -rf -- "${c:?}"
	unlock
}

LIMIT_VALUE_FLAGS=" --cpu-shares --cpus --cpu-period --cpu-quota --cpuset-cpus --cpuset-mems
 --memory --memory-swap --memory-swappiness --memory-reservation --kernel-memory
 --device-read-bps --device-write-bps --device-read-iops --device-write-iops --blkio-weight
 --pids-limit "

cmd_run() {
	local detach=0 autoremove=0 interactive=0 tty=0 name="" cidfile="" hostname="" net=none
	local mode=pivot createonly=0
	local -a limits=() devices=()
	while [ $# -gt 0 ]; do
		local opt=$1 val="" hasval=0
		if [[ $opt == --*=* ]]; then
			val=${opt#*=}
			opt=${opt%%=*}
			hasval=1
		fi
		case $opt in
		--create-only) createonly=1 ;;
		-d | --detach) detach=1 ;;
		--rm) autoremove=1 ;;
		-i | --interactive) interactive=1 ;;
		-t | --tty) tty=1 ;;
		-[dit][dit] | -[dit][dit][dit])
			[[ $opt == *d* ]] && detach=1
			[[ $opt == *i* ]] && interactive=1
			[[ $opt == *t* ]] && tty=1
			;;
		--chroot) mode=chroot ;;
		--oom-kill-disable)
			[ $hasval = 1 ] && [ "$val" = false ] || limits+=(--oom-kill-disable)
			;;
		--name | --cidfile | --hostname | -h | --net | --network | -c | -m | --device | --*)
			if [ $hasval = 0 ]; then
				[ $# -ge 2 ] || die "run: option '$opt' needs a value"
				val=$2
				shift
			fi
			case $opt in
			--name) name=$val ;;
			--cidfile) cidfile=$val ;;
			--hostname | -h) hostname=$val ;;
			--net | --network) net=$val ;;
			--device)
				[ -b "${val%%:*}" ] || [ -c "${val%%:*}" ] || die "run: error gathering device information while adding custom device \"${val%%:*}\": no such file or directory"
				devices+=("$val")
				;;
			-c) limits+=(--cpu-shares "$val") ;;
			-m) limits+=(--memory "$val") ;;
			*)
				[[ $LIMIT_VALUE_FLAGS == *" $opt "* ]] || die "run: unknown option '$opt' (see 'contain --help')"
				limits+=("$opt" "$val")
				;;
			esac
			;;
		--) shift && break ;;
		-*) die "run: unknown option '$opt' (see 'contain --help')" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 1 ] || die "run: usage: contain run [OPTIONS] IMAGE [CMD...]"
	local imageref=$1
	shift
	case $net in none | bridge | default) net=none ;; host) ;; *) die "run: network mode '$net' is not supported (none, host)" ;; esac
	store_init
	local image
	image=$(image_resolve "$imageref") || exit
	local -a cmd entry
	read_nul entry "$ROOT/images/$image/entrypoint"
	if [ $# -gt 0 ]; then cmd=("$@"); else read_nul cmd "$ROOT/images/$image/cmd"; fi
	cmd=("${entry[@]}" "${cmd[@]}")
	[ ${#cmd[@]} -gt 0 ] || die "run: No command specified (the image has no default command)"
	[ -n "$cidfile" ] && [ -e "$cidfile" ] &&
		die "Container ID file found, make sure the other container isn't running or delete $cidfile"
	if [ -n "$name" ] && ! [[ $name =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]]; then
		die "Invalid container name ($name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
	fi
	if [ ${#limits[@]} -gt 0 ] && ! use_cgroups; then
		warn "not root: cgroup limits skipped (${limits[*]})"
		limits=()
	fi
	local cid c
	cid=$(random_hex64)
	c="$ROOT/containers/$cid"
	lock
	if [ -n "$name" ]; then
		local o
		for o in "$ROOT"/containers/*/name; do
			[ "$(cat "$o")" = "$name" ] || continue
			unlock
			o=$(basename "$(dirname "$o")")
			die "Conflict. The container name \"/$name\" is already in use by container \"$o\". You have to remove (or rename) that container to be able to reuse that name."
		done
	else
		name=$(random_name)
		while grep -qxF -- "$name" "$ROOT"/containers/*/name 2>/dev/null; do name=$(random_name); done
	fi
	mkdir -p "$c/upper" "$c/work" "$c/rootfs" || {
		unlock
		rm -rf -- "$c"
		die "cannot create the container's directory"
	}
	echo "$name" >"$c/name"
	echo "$image" >"$c/image"
	echo "$imageref" >"$c/imageref"
	now >"$c/created"
	echo "${hostname:-${cid:0:12}}" >"$c/hostname"
	write_nul "$c/cmd" "${cmd[@]}"
	write_nul "$c/limits" "${limits[@]}"
	echo "$net" >"$c/net"
	printf '%s\n' "${devices[@]}" | sed '/^$/d' >"$c/devices"
	echo "$mode" >"$c/mode"
	echo "$autoremove" >"$c/autoremove"
	echo "$interactive" >"$c/interactive"
	echo "$tty" >"$c/tty"
	echo created >"$c/status"
	: >"$c/log"
	if use_cgroups; then
		local k d
		for k in $(cg_controllers); do
			d=$(cg_own_dir "$k") && echo "$d/$CGPARENT/$cid"
		done | sort -u >"$c/cgdirs"
		if ! cgset "${limits[@]}" "$(cgroup_group "$cid")" >/dev/null; then
			cgroup_remove "$cid"
			rm -rf -- "${c:?}"
			unlock
			exit 125
		fi
	fi
	unlock
	if [ -n "$cidfile" ]; then
		if ! (set -o noclobber && echo "$cid" >"$cidfile") 2>/dev/null; then
			remove_container "$cid"
			die "Container ID file found, make sure the other container isn't running or delete $cidfile"
		fi
	fi
	if [ $createonly = 1 ]; then
		echo "$cid"
		return 0
	fi
	if [ $detach = 1 ]; then
		start_detached "$cid"
		echo "$cid"
		return 0
	fi
	run_chain "$cid" fg
	local rc=$?
	[ $autoremove = 1 ] && remove_container "$cid"
	return $rc
}

cmd_start() {
	local attach=0
	case ${1:-} in -a | --attach | -ai | -ia) attach=1 && shift ;; esac
	[ $# -ge 1 ] || die "start: usage: contain start [-a] CONTAINER..."
	store_init
	local arg cid
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		case $(cstate "$cid") in running | paused)
			echo "$arg"
			continue
			;;
		esac
		if [ $attach = 1 ]; then
			run_chain "$cid" fg
			return
		fi
		start_detached "$cid"
		echo "$arg"
	done
}

# Wait up to $2 seconds (tenths) for container $1 to stop running.
wait_exited() {
	local cid=$1 n=$(($2 * 10)) i=0
	while [ $i -le $n ]; do
		case $(cstate "$cid") in running | paused) ;; *) return 0 ;; esac
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

signal_container() { # CID SIG
	local cid=$1 sig=$2 init
	init=$(cfile "$cid" init)
	[ -n "$init" ] || init=$(cfile "$cid" pid)
	[ -n "$init" ] || return 1
	if [ -e "$ROOT/containers/$cid/paused" ]; then
		cgset --thaw "$(cgroup_group "$cid")" >/dev/null 2>&1
		rm -f "$ROOT/containers/$cid/paused"
	fi
	kill -s "$sig" "$init" 2>/dev/null
}

cmd_stop() {
	local t=10
	while [ $# -gt 0 ]; do
		case $1 in
		-t | --time) t=$2 && shift ;;
		-t* | --time=*) t=${1#-t} && t=${t#--time=} ;;
		-*) die "stop: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[[ $t =~ ^[0-9]+$ ]] || die "stop: invalid time '$t'"
	[ $# -ge 1 ] || die "stop: usage: contain stop [-t SECONDS] CONTAINER..."
	store_init
	local arg cid
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		case $(cstate "$cid") in
		running | paused)
			signal_container "$cid" TERM
			wait_exited "$cid" "$t" || {
				signal_container "$cid" KILL
				wait_exited "$cid" 10
			}
			;;
		esac
		echo "$arg"
	done
}

cmd_kill() {
	local sig=KILL
	while [ $# -gt 0 ]; do
		case $1 in
		-s | --signal) sig=$2 && shift ;;
		--signal=*) sig=${1#*=} ;;
		-*) die "kill: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 1 ] || die "kill: usage: contain kill [-s SIGNAL] CONTAINER..."
	store_init
	local arg cid
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		case $(cstate "$cid") in
		running | paused) signal_container "$cid" "${sig#SIG}" || die "kill: cannot signal $arg with $sig" ;;
		*) die "Cannot kill container: $arg: Container ${cid:0:12} is not running" ;;
		esac
		echo "$arg"
	done
}

cmd_rm() {
	local force=0
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --force) force=1 ;;
		-v | --volumes) ;;
		-fv | -vf) force=1 ;;
		-*) die "rm: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 1 ] || die "rm: usage: contain rm [-f] CONTAINER..."
	store_init
	local arg cid rc=0
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		case $(cstate "$cid") in
		running | paused)
			if [ $force = 0 ]; then
				echo "contain: You cannot remove a running container $cid. Stop the container before attempting removal or force remove" >&2
				rc=1
				continue
			fi
			signal_container "$cid" KILL
			wait_exited "$cid" 10
			;;
		esac
		# The monitor may still be writing the exit status.
		local m i
		m=$(cfile "$cid" mpid)
		for i in $(seq 1 50); do
			[ -n "$m" ] && kill -0 "$m" 2>/dev/null || break
			sleep 0.1
		done
		remove_container "$cid"
		echo "$arg"
	done
	return $rc
}

cmd_exec() {
	local interactive=0 detach=0
	while [ $# -gt 0 ]; do
		case $1 in
		-i | --interactive) interactive=1 ;;
		-t | --tty) ;;
		-it | -ti) interactive=1 ;;
		-d | --detach) detach=1 ;;
		-*) die "exec: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 2 ] || die "exec: usage: contain exec [-i] [-t] CONTAINER CMD..."
	store_init
	local cid init
	cid=$(container_resolve "$1") || exit
	shift
	case $(cstate "$cid") in
	running) ;;
	paused) die "Container ${cid:0:12} is paused, unpause the container before exec" ;;
	*) die "Container ${cid:0:12} is not running" ;;
	esac
	init=$(cfile "$cid" init)
	[ -n "$init" ] || die "exec: container ${cid:0:12} has no init process"
	local -a chain=()
	use_cgroups && chain+=(cgset "$(cgroup_group "$cid")" --)
	chain+=(unshare-rs --target "$init" --all -- "$@")
	if [ $detach = 1 ]; then
		setsid "${chain[@]}" </dev/null >>"$ROOT/containers/$cid/log" 2>&1 &
		return 0
	fi
	if [ $interactive = 1 ]; then exec "${chain[@]}"; fi
	exec "${chain[@]}" </dev/null
}

cmd_ps() {
	local all=0 quiet=0 a
	for a in "$@"; do
		case $a in
		-a | --all) all=1 ;;
		-q | --quiet) quiet=1 ;;
		-aq | -qa) all=1 && quiet=1 ;;
		*) die "ps: unknown option '$a'" ;;
		esac
	done
	store_init
	local c cid st status
	[ $quiet = 1 ] || printf '%-14s %-16s %-24s %-16s %-26s %s\n' "CONTAINER ID" IMAGE COMMAND CREATED STATUS NAMES
	local -a all_c=("$ROOT"/containers/*/)
	[ ${#all_c[@]} -gt 0 ] && mapfile -t all_c < <(ls -1td -- "${all_c[@]}")
	for c in "${all_c[@]}"; do
		cid=$(basename "$c")
		st=$(cstate "$cid")
		[ $all = 1 ] || [ "$st" = running ] || [ "$st" = paused ] || continue
		if [ $quiet = 1 ]; then
			echo "${cid:0:12}"
			continue
		fi
		case $st in
		running) status="Up $(human_duration $(($(now) - $(cfile "$cid" started))))" ;;
		paused) status="Up $(human_duration $(($(now) - $(cfile "$cid" started)))) (Paused)" ;;
		exited) status="Exited ($(cfile "$cid" exitcode || echo 255)) $(ago "$(cfile "$cid" finished || cfile "$cid" started)")" ;;
		*) status=Created ;;
		esac
		local -a cmd
		read_nul cmd "$c/cmd"
		local cs="\"${cmd[*]}\""
		[ ${#cs} -gt 22 ] && cs="${cs:0:20}…\""
		printf '%-14s %-16s %-24s %-16s %-26s %s\n' "${cid:0:12}" "$(cfile "$cid" imageref)" "$cs" \
			"$(ago "$(cfile "$cid" created)")" "$status" "$(cfile "$cid" name)"
	done
}

cmd_inspect() {
	[ $# -ge 1 ] || die "inspect: usage: contain inspect CONTAINER|IMAGE..."
	store_init
	local arg first=1
	printf '['
	for arg in "$@"; do
		[ $first = 1 ] || printf ','
		first=0
		local cid="" id=""
		cid=$( (container_resolve "$arg") 2>/dev/null) || cid=""
		if [ -z "$cid" ]; then
			id=$(image_lookup "$arg") || {
				echo "]"
				die "Error: No such object: $arg"
			}
			local tags=()
			mapfile -t tags < <(image_tags "$id")
			printf '\n  {"Id":"sha256:%s","RepoTags":%s,"Size":%s,"Layers":%s,"Config":%s}' "$id" \
				"$(json_arr "${tags[@]}")" "$(image_size "$id")" \
				"$(json_arr $(sed 's/^/sha256:/' "$ROOT/images/$id/layers"))" "$(cat "$ROOT/blobs/sha256/$id")"
			continue
		fi
		local c="$ROOT/containers/$cid" st code pid lowers="" h
		st=$(cstate "$cid")
		code=$(cfile "$cid" exitcode || echo 0)
		pid=$(cfile "$cid" init || echo 0)
		[ "$st" = running ] || [ "$st" = paused ] || pid=0
		local -a cmd limits
		read_nul cmd "$c/cmd"
		read_nul limits "$c/limits"
		while read -r h; do lowers+="${lowers:+:}$ROOT/layers/$h/fs"; done < <(tac "$ROOT/images/$(cfile "$cid" image)/layers")
		printf '\n  {"Id":"%s","Name":%s,"Created":"%s","Path":%s,"Args":%s,' "$cid" \
			"$(json_str "/$(cfile "$cid" name)")" "$(iso "$(cfile "$cid" created)")" "$(json_str "${cmd[0]}")" \
			"$(json_arr "${cmd[@]:1}")"
		printf '"State":{"Status":"%s","Running":%s,"Paused":%s,"Pid":%s,"ExitCode":%s,"StartedAt":%s,"FinishedAt":%s},' \
			"$st" "$([ "$st" = running ] || [ "$st" = paused ] && echo true || echo false)" \
			"$([ "$st" = paused ] && echo true || echo false)" "${pid:-0}" "${code:-0}" \
			"$(json_str "$(s=$(cfile "$cid" started) && iso "$s")")" "$(json_str "$(s=$(cfile "$cid" finished) && iso "$s")")"
		printf '"Image":"sha256:%s","Config":{"Hostname":%s,"Image":%s,"Cmd":%s},' "$(cfile "$cid" image)" \
			"$(json_str "$(cfile "$cid" hostname)")" "$(json_str "$(cfile "$cid" imageref)")" "$(json_arr "${cmd[@]}")"
		printf '"HostConfig":{"NetworkMode":"%s","AutoRemove":%s,"Root":"%s","Limits":%s,"CgroupParent":%s},' \
			"$(cfile "$cid" net)" "$([ "$(cfile "$cid" autoremove)" = 1 ] && echo true || echo false)" \
			"$(cfile "$cid" mode)" "$(json_arr "${limits[@]}")" "$(json_str "$(cgroup_group "$cid")")"
		printf '"GraphDriver":{"Name":"overlay","Data":{"LowerDir":%s,"UpperDir":%s,"WorkDir":%s,"MergedDir":%s}},' \
			"$(json_str "$lowers")" "$(json_str "$c/upper")" "$(json_str "$c/work")" "$(json_str "$c/rootfs")"
		printf '"LogPath":%s}' "$(json_str "$c/log")"
	done
	printf '\n]\n'
}

cmd_logs() {
	local follow=0
	case ${1:-} in -f | --follow) follow=1 && shift ;; esac
	[ $# -eq 1 ] || die "logs: usage: contain logs [-f] CONTAINER"
	store_init
	local cid
	cid=$(container_resolve "$1") || exit
	if [ $follow = 1 ] && [ -n "$(cfile "$cid" mpid)" ]; then
		tail -n +1 -f --pid="$(cfile "$cid" mpid)" -- "$ROOT/containers/$cid/log"
	else
		cat -- "$ROOT/containers/$cid/log"
	fi
}

# Cgroup counters of container $1: cpu_ns mem_bytes mem_limit pids
cg_counters() {
	local cid=$1 d cpu=0 mem=0 lim=0 pids=0
	while read -r d; do
		[ -d "$d" ] || continue
		case $d in
		*/cpuacct/* | */cpu,cpuacct/*) [ -r "$d/cpuacct.usage" ] && cpu=$(cat "$d/cpuacct.usage") ;;
		*/memory/*)
			mem=$(cat "$d/memory.usage_in_bytes" 2>/dev/null || echo 0)
			lim=$(cat "$d/memory.limit_in_bytes" 2>/dev/null || echo 0)
			;;
		*/pids/*) pids=$(cat "$d/pids.current" 2>/dev/null || echo 0) ;;
		*)
			if [ -r "$d/cpu.stat" ] && [ -r "$d/cgroup.controllers" ]; then
				cpu=$(($(awk '$1 == "usage_usec" { print $2 }' "$d/cpu.stat") * 1000))
				mem=$(cat "$d/memory.current" 2>/dev/null || echo 0)
				lim=$(cat "$d/memory.max" 2>/dev/null || echo 0)
				pids=$(cat "$d/pids.current" 2>/dev/null || echo 0)
			fi
			;;
		esac
	done < <(cfile "$cid" cgdirs)
	[ "$lim" = max ] && lim=0
	echo "$cpu $mem $lim $pids"
}

cmd_stats() {
	case ${1:-} in --no-stream) shift ;; esac
	store_init
	local -a ids=()
	local a cid
	if [ $# -gt 0 ]; then
		for a in "$@"; do ids+=("$(container_resolve "$a")") || exit; done
	else
		for a in "$ROOT"/containers/*/; do
			cid=$(basename "$a")
			case $(cstate "$cid") in running | paused) ids+=("$cid") ;; esac
		done
	fi
	declare -A before=()
	local t0 t1
	t0=$(date +%s%N)
	for cid in "${ids[@]}"; do before[$cid]=$(cg_counters "$cid" | cut -d' ' -f1); done
	[ ${#ids[@]} -gt 0 ] && sleep 1
	t1=$(date +%s%N)
	local total
	total=$(awk '/MemTotal/ { print $2 * 1024 }' /proc/meminfo)
	printf '%-14s %-24s %-8s %-11s %-24s %-8s %s\n' "CONTAINER ID" NAME "CPU %" "CPU TIME" "MEM USAGE / LIMIT" "MEM %" PIDS
	for cid in "${ids[@]}"; do
		local cpu mem lim pids
		read -r cpu mem lim pids < <(cg_counters "$cid")
		lim=$(awk -v l="$lim" -v t="$total" 'BEGIN { if (l == 0 || l + 0 > t + 0) print t; else print l }')
		printf '%-14s %-24s %-8s %-11s %-24s %-8s %s\n' "${cid:0:12}" "$(cfile "$cid" name)" \
			"$(awk -v a="${before[$cid]}" -v b="$cpu" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f%%", (b - a) * 100 / t }')" \
			"$(awk -v b="$cpu" 'BEGIN { printf "%.2fs", b / 1e9 }')" \
			"$(human_bin "$mem") / $(human_bin "$lim")" \
			"$(awk -v m="$mem" -v l="$lim" 'BEGIN { printf "%.2f%%", m * 100 / l }')" "$pids"
	done
}

freezer_dir() { cfile "$1" cgdirs | grep '/freezer/' | head -1; }

cmd_pause() {
	[ $# -ge 1 ] || die "pause: usage: contain pause CONTAINER..."
	store_init
	local arg cid
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		case $(cstate "$cid") in
		running) ;;
		paused) die "Container ${cid:0:12} is already paused" ;;
		*) die "Container ${cid:0:12} is not running" ;;
		esac
		use_cgroups || die "pause: needs the cgroup freezer (not available rootless)"
		cgset --freeze "$(cgroup_group "$cid")" >/dev/null || die "pause: cannot freeze ${cid:0:12}"
		: >"$ROOT/containers/$cid/paused"
		echo "$arg"
	done
}

cmd_unpause() {
	[ $# -ge 1 ] || die "unpause: usage: contain unpause CONTAINER..."
	store_init
	local arg cid
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		[ "$(cstate "$cid")" = paused ] || die "Container ${cid:0:12} is not paused"
		cgset --thaw "$(cgroup_group "$cid")" >/dev/null || die "unpause: cannot thaw ${cid:0:12}"
		rm -f "$ROOT/containers/$cid/paused"
		echo "$arg"
	done
}
