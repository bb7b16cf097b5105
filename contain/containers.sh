# shellcheck shell=bash
# contain's containers.sh: the commands on existing containers: start, stop, kill, wait,
# restart, rm, exec, diff, pause and unpause.
# Read by the front script (contain) for the commands that need it; never run alone.

# contain: containers.
#
#   $ROOT/containers/ID/   meta, run, status, exitcode, finished, paused, limits (NUL-separated
#                          cgset flags), devices, log (see cread), upper/ and work/

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
		if [ -e "$ROOT/containers/$cid/network" ]; then
			net_load
			net_claim_ports "$cid" "$(cfile "$cid" name)" || die "$R_ERR"
		fi
		if [ $attach = 1 ]; then
			run_attached "$cid"
			return
		fi
		start_detached "$cid" || die "${R_ERR:-the container did not start}"
		echo "$arg"
	done
}

# Wait up to $2 seconds (tenths) for container $1 to stop running.
wait_exited() {
	local cid=$1 n=$(($2 * 10)) i=0
	while [ $i -le $n ]; do
		case $(cstate "$cid") in running | paused | restarting) ;; *) return 0 ;; esac
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

signal_container() { # CID SIG
	local cid=$1 sig=$2 init
	init=$(cinit "$cid")
	[ -n "$init" ] || init=$(cfile "$cid" pid)
	[ -n "$init" ] || return 1
	if [ -e "$ROOT/containers/$cid/paused" ]; then
		cgset --thaw "$(cgroup_group "$cid")" >/dev/null 2>&1
		rm -f "$ROOT/containers/$cid/paused"
	fi
	# --runtime: through the runtime, to the container's process (not to the runtime's)
	local rt
	cread rt "$cid" runtime && [ -n "$rt" ] && use runtime && {
		rt_kill "$cid" "$sig" "$rt"
		return
	}
	kill -s "$sig" "$init" 2>/dev/null
}

# contain stop [-t SECONDS] [-s SIGNAL] CONTAINER...: as docker stop: the container's stop
# signal (--stop-signal, TERM by default) to its pid 1, then KILL after SECONDS (10).  A
# pid 1 without a handler for the signal ignores it (the kernel protects a namespace's init),
# and ends killed: exit code 137.
cmd_stop() {
	local t=10 sig=""
	while [ $# -gt 0 ]; do
		case $1 in
		-t | --time) t=${2:-} && shift ;;
		-t* | --time=*) t=${1#-t} && t=${t#--time=} ;;
		-s | --signal) signal_name "${2:-}" && sig=$R_SIGNAL && shift ;;
		--signal=*) signal_name "${1#*=}" && sig=$R_SIGNAL ;;
		-*) die "stop: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[[ $t =~ ^[0-9]+$ ]] || die "stop: invalid time '$t'"
	[ $# -ge 1 ] || die "stop: usage: contain stop [-t SECONDS] [-s SIGNAL] CONTAINER..."
	store_init
	local arg cid s
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		s=$sig
		[ -n "$s" ] || cread s "$cid" stopsignal
		case $(cstate "$cid") in
		restarting)
			# (its monitor waits to start it again: it ends instead)
			: >"$ROOT/containers/$cid/stopped"
			wait_exited "$cid" "$t"
			ev_container stop "$cid"
			;;
		running | paused)
			# (a restart policy does not start it again)
			: >"$ROOT/containers/$cid/stopped"
			# (the kill event before the signal: the container's die comes after it)
			ev_kill "$cid" "${s:-TERM}"
			signal_container "$cid" "${s:-TERM}"
			wait_exited "$cid" "$t" || {
				ev_kill "$cid" KILL
				signal_container "$cid" KILL
				wait_exited "$cid" 10
			}
			ev_container stop "$cid"
			;;
		esac
		echo "$arg"
	done
}

# contain wait CONTAINER...: block until each has exited; print its exit code.
cmd_wait() {
	[ $# -ge 1 ] || die "wait: usage: contain wait CONTAINER..."
	store_init
	local arg cid st rc=0
	for arg in "$@"; do
		cid=$(container_resolve "$arg") || exit
		while :; do
			st=$(cstate "$cid")
			case $st in
			exited) break ;;
			removed) die "Error: No such container: $arg" ;;
			esac
			sleep 0.1
		done
		rc=$(cfile "$cid" exitcode || echo 0)
		echo "$rc"
	done
}

# contain restart [-t SECONDS] CONTAINER...: stop (as stop does), then start.
cmd_restart() {
	local -a t=()
	case ${1:-} in
	-t | --time) t=(-t "$2") && shift 2 ;;
	-t* | --time=*) t=("$1") && shift ;;
	esac
	[ $# -ge 1 ] || die "restart: usage: contain restart [-t SECONDS] CONTAINER..."
	local arg
	for arg in "$@"; do
		(cmd_stop "${t[@]}" "$arg") >/dev/null || exit
		(cmd_start "$arg") || exit
		ev_container restart "$(container_resolve "$arg")"
	done
}

# contain diff CONTAINER: the changes of its writable layer, as docker diff lists them:
# A (added), C (changed: also a directory with changes inside), D (deleted: a whiteout).
cmd_diff() {
	[ $# -eq 1 ] || die "diff: usage: contain diff CONTAINER"
	store_init
	local cid
	cid=$(container_resolve "$1") || exit
	local c="$ROOT/containers/$cid" type path h kind
	local -a ls
	meta_load "$cid"
	mapfile -t ls <"$ROOT/images/${META[image]}/layers"
	while IFS=' ' read -r -d '' type path; do
		kind=A
		if [ "$type" = c ] && [ "$(stat -c '%t:%T' -- "$c/upper/$path")" = 0:0 ]; then
			kind=D
		else
			for h in "${ls[@]}"; do
				if [ -e "$ROOT/layers/$h/fs/$path" ] || [ -L "$ROOT/layers/$h/fs/$path" ]; then
					kind=C
					break
				fi
			done
		fi
		printf '%s /%s\n' "$kind" "$path"
	done < <(find "$c/upper" -mindepth 1 -printf '%y %P\0' | sort -z -k2)
}

# ev_kill CID SIGNAL: docker's kill event, the signal as its number.
ev_kill() {
	local n=$2
	[[ $n =~ ^[0-9]+$ ]] || n=$(kill -l "$n" 2>/dev/null) || n=$2
	ev_container kill "$1" "\"signal\":\"$n\""
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
		running | paused)
			: >"$ROOT/containers/$cid/stopped"
			ev_kill "$cid" "${sig#SIG}"
			signal_container "$cid" "${sig#SIG}" || die "kill: cannot signal $arg with $sig"
			;;
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
		restarting)
			: >"$ROOT/containers/$cid/stopped"
			wait_exited "$cid" 10
			;;
		running | paused)
			if [ $force = 0 ]; then
				echo "contain: You cannot remove a running container $cid. Stop the container before attempting removal or force remove" >&2
				rc=1
				continue
			fi
			: >"$ROOT/containers/$cid/stopped"
			ev_kill "$cid" KILL
			signal_container "$cid" KILL
			# (its monitor records the end, then releases the layer)
			wait_exited "$cid" 10
			;;
		esac
		remove_container "$cid"
		echo "$arg"
	done
	return $rc
}

cmd_exec() {
	local interactive=0 detach=0 tty=0 user="" workdir="" setuser=0 setworkdir=0
	local -a envs=()
	while [ $# -gt 0 ]; do
		local opt=$1 val="" hasval=0
		if [[ $opt == --*=* ]]; then
			val=${opt#*=}
			opt=${opt%%=*}
			hasval=1
		fi
		case $opt in
		-i | --interactive) interactive=1 ;;
		-t | --tty) tty=1 ;;
		-it | -ti) interactive=1 tty=1 ;;
		-d | --detach) detach=1 ;;
		-e | --env | --env-file | -u | --user | -w | --workdir)
			if [ $hasval = 0 ]; then
				[ $# -ge 2 ] || die "exec: option '$opt' needs a value"
				val=$2
				shift
			fi
			case $opt in
			-e | --env) envs+=("e$val") ;;
			--env-file) envs+=("f$val") ;;
			-u | --user) user=$val setuser=1 ;;
			*) workdir=$val setworkdir=1 ;;
			esac
			;;
		--) shift && break ;;
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
	# Just started: its pid 1 may not be recorded yet, nor in the container's root (it is
	# the chain until chroot-rs has changed the root, then the program).
	local i
	for ((i = 0; i < 1000; i++)); do
		cinit_v "$cid"
		init=$R_INIT
		[ -n "$init" ] && ! [ "/proc/$init/root/" -ef / ] && break
		[ "$(cstate "$cid")" = running ] || break
		sleep 0.01
	done
	[ -n "$init" ] || die "exec: container ${cid:0:12} has no init process"
	# docker exec's process: the container's environment, user and working directory, each
	# replaced by exec's own -e, -u and -w; names are looked up in the container's files.
	meta_load "$cid"
	ENVIDX=()
	local i
	for i in "${!CENV[@]}"; do ENVIDX[${CENV[i]%%=*}]=$i; done
	[ $tty = 1 ] && env_put "TERM=xterm"
	[ $setuser = 1 ] || user=${META[user]:-}
	[ $setworkdir = 1 ] || workdir=${META[workdir]:-}
	[ -z "$workdir" ] || [[ $workdir == /* ]] ||
		die "the working directory '$workdir' is invalid, it needs to be an absolute path"
	tool_paths setsid
	local -a chain=() ids=()
	# The user is looked up by unshare-rs once inside the container's root (--userspec), in
	# the container's own passwd and group files: read here through /proc/PID/root, a link
	# the container planted would be followed on the host.  Its HOME replaces the
	# container's unless -e gives one.
	if [ -n "$user" ]; then
		ids=("--userspec=$user")
		if [ $setuser = 1 ] && [ -n "${ENVIDX[HOME]+x}" ]; then
			local -a kept=()
			for i in "${!CENV[@]}"; do [[ ${CENV[i]} == HOME=* ]] || kept+=("${CENV[i]}"); done
			CENV=("${kept[@]}")
			ENVIDX=()
			for i in "${!CENV[@]}"; do ENVIDX[${CENV[i]%%=*}]=$i; done
		fi
	fi
	env_args
	use_cgroups && chain+=("${TOOL[cgset]}" "$(cgroup_group "$cid")" --)
	# -r: into pid 1's root as well (a --chroot container's is not its mount namespace's)
	# No descriptor but 0 to 2 (--preserve-fds 0), a session keyring of its own, and the
	# container's seccomp profile, installed last.
	chain+=("${TOOL[unshare-rs]}" --target "$init" --all -r "${ids[@]}" --preserve-fds 0 --new-keyring)
	case ${META[seccomp]:-default} in
	default | unconfined) [ "${META[privileged]:-0}" = 1 ] || chain+=("--seccomp=${META[seccomp]:-default}") ;;
	*) chain+=("--seccomp=$ROOT/containers/$cid/seccomp.json") ;;
	esac
	# always a directory of the container's (/ by default): the caller's would stay open
	# outside its root
	chain+=(--wdns "${workdir:-/}")
	# -t: a pty of the container's own devpts, unshare-rs relaying it to ours
	[ $tty = 1 ] && [ $detach = 0 ] && chain+=(--tty)
	# The container's hardening, minus the mounts it already has: docker's default
	# capabilities, and no_new_privs when the container has it (--security-opt
	# no-new-privileges), as for its pid 1 (chroot-rs --harden).  unshare-rs
	# applies them after joining (a tool exec'd after it would be looked up inside).
	# With the container's own --cap-add/--cap-drop, in chroot-rs's order (ALL first, then the
	# names); a --privileged container's processes are not hardened.
	if [ "${META[privileged]:-0}" != 1 ]; then
		[ "${META[nnp]:-0}" = 1 ] && chain+=(--no-new-privs)
		local cap
		caps_split
		if [[ " ${CAP_DROPS[*]} " == *" all "* ]]; then
			chain+=(--cap-drop=ALL)
		elif [[ " ${CAP_ADDS[*]} " != *" all "* ]]; then
			chain+=(--cap-drop=ALL)
			for cap in $DOCKER_CAPS; do chain+=("--cap-add=$cap"); done
		fi
		for cap in "${CAP_ADDS[@]}"; do [ "$cap" = all ] || chain+=("--cap-add=$cap"); done
		for cap in "${CAP_DROPS[@]}"; do [ "$cap" = all ] || chain+=("--cap-drop=$cap"); done
	fi
	chain+=(-- "$@")
	# --runtime: the runtime's exec, with the same process
	[ -n "${META[runtime]:-}" ] && use runtime && rt_exec "$cid" "$user" "${workdir:-/}" "$tty" "$detach" "$@" &&
		chain=("${R_EXEC[@]}")
	# Its standard streams, as run's (see run_chain): pipes, never a file of the host; a
	# detached process's output is appended to the container's log by a reader of ours.
	if [ $detach = 1 ]; then
		(with_env "${TOOL[setsid]}" "${chain[@]}") </dev/null > >(exec cat >>"$ROOT/containers/$cid/log") 2>&1 &
		return 0
	fi
	local in=/dev/null out=1 err=2 rc feeder=
	local -a relays=()
	if [ $tty = 0 ]; then
		plain_stream 1 || {
			exec {out}> >(exec cat)
			relays+=($!)
		}
		plain_stream 2 || {
			exec {err}> >(exec cat >&2)
			relays+=($!)
		}
	fi
	if [ $interactive = 1 ]; then
		in=0
		[ $tty = 1 ] || plain_stream 0 || {
			exec {in}< <(exec cat)
			feeder=$!
		}
	fi
	# In a ( ) subshell (see with_env): this shell waits and exits with its status.
	if [ "$in" = /dev/null ]; then
		(with_env "${chain[@]}") </dev/null >&$out 2>&$err
	else
		(with_env "${chain[@]}") <&$in >&$out 2>&$err
	fi
	rc=$?
	[ -n "$feeder" ] && kill "$feeder" 2>/dev/null
	[ "$out" != 1 ] && exec {out}>&-
	[ "$err" != 2 ] && exec {err}>&-
	[ ${#relays[@]} -gt 0 ] && wait "${relays[@]}" 2>/dev/null
	exit $rc
}

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
		ev_container pause "$cid"
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
		ev_container unpause "$cid"
		echo "$arg"
	done
}
