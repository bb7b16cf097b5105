# shellcheck shell=bash
# contain's run.sh: creating and running a container: `run`/`create`'s options, the exec chain
# of the tools (build_chain), the run to its end with its state (run_chain), the detached
# monitor.
# Read by the front script (contain) for the commands that need it; never run alone.

# The default network: docker's bridge as root where contain can make it (its networking
# code, jq and the CNI bridge plugin are installed), slirp4netns as a user, else lo alone
# (on a machine without them: nothing to warn about, --network bridge says what is missing).
net_default_mode() {
	local d p=${CONTAIN_CNI_PATH:-/usr/lib/cni:/opt/cni/bin}
	R_NET=none
	# a user's: slirp4netns, as rootless podman's, where it is installed and the user may
	# open /dev/net/tun (its tap device)
	if [ "$ROOTLESS" = 1 ]; then
		net_find && hash slirp4netns 2>/dev/null && [ -r /dev/net/tun ] && [ -w /dev/net/tun ] &&
			R_NET=slirp4netns
		return 0
	fi
	net_find && hash jq 2>/dev/null || return 0
	for d in ${p//:/ }; do
		[ -x "$d/bridge" ] && R_NET=bridge && return 0
	done
	return 0
}
# plain_stream FD: our FD may be handed to a container as it is: a pipe, or /dev/null.
plain_stream() { [ -p "/dev/fd/$1" ] || [ "/dev/fd/$1" -ef /dev/null ]; }

# env_put NAME=VALUE: set NAME in CENV (in place when it is there already).
declare -gA ENVIDX=()
env_put() {
	local n=${1%%=*}
	if [ -n "${ENVIDX[$n]+x}" ]; then
		CENV[ENVIDX[$n]]=$1
	else
		ENVIDX[$n]=${#CENV[@]}
		CENV+=("$1")
	fi
}
# env_arg VALUE: a -e value: NAME=VALUE, or NAME alone for the caller's exported NAME (left
# out when the caller has none), as docker takes them.
env_arg() {
	local n=${1%%=*}
	[ -n "$n" ] && [[ $n != *[[:space:]]* ]] || die "invalid environment variable: $1"
	if [[ $1 == *=* ]]; then
		env_put "$1"
	elif [[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && [[ -v $n && ${!n@a} == *x* ]]; then
		env_put "$n=${!n}"
	fi
}
# env_file FILE: docker's --env-file: a -e value per line; blank lines and # comments skipped.
env_file() {
	local line
	[ -e "$1" ] || die "open $1: no such file or directory"
	[ -r "$1" ] || die "open $1: permission denied"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#"${line%%[![:space:]]*}"}
		[ -z "$line" ] || [[ $line == \#* ]] && continue
		env_arg "$line"
	done <"$1"
}

# cap_name NAME: docker's --cap-add/--cap-drop NAME (CAP_X, x, any case, or ALL) into R_CAP,
# lower case without CAP_; dies on a name the kernel has no capability for.
# Docker's default capabilities (chroot-rs --harden's set), for exec and a runtime's bundle.
DOCKER_CAPS="chown dac_override fsetid fowner mknod net_raw setgid setuid setfcap setpcap
 net_bind_service sys_chroot kill audit_write"
CAP_NAMES=" chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
 linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module
 sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time
 sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog
 wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore all "
cap_name() {
	local c=${1,,}
	c=${c#cap_}
	[[ $CAP_NAMES == *[[:space:]]"$c"[[:space:]]* ]] || die "unknown capability: \"$1\""
	R_CAP=$c
}

# caps_split: META[caps] ("+name -name" words) into the arrays CAP_ADDS and CAP_DROPS.
caps_split() {
	local w
	CAP_ADDS=() CAP_DROPS=()
	for w in ${META[caps]:-}; do
		case $w in +*) CAP_ADDS+=("${w#+}") ;; -*) CAP_DROPS+=("${w#-}") ;; esac
	done
}

# volume_spec SPEC: docker's -v SRC:DEST[:ro|rw], both absolute, into R_VOLUME as
# SRC:DEST:MODE (dies on anything else: named and anonymous volumes are not supported).
volume_spec() {
	local -a f
	IFS=: read -ra f <<<"$1"
	local bad="invalid volume specification: '$1'"
	case ${#f[@]} in
	2) f+=(rw) ;;
	3) [ "${f[2]}" = ro ] || [ "${f[2]}" = rw ] || die "$bad: unknown mode '${f[2]}' (ro or rw)" ;;
	1)
		# an anonymous volume: a named one with a random name (volumes.sh)
		local anon
		printf -v anon '%08x%08x%08x%08x%08x%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM" \
			"$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM"
		f=("$anon" "${f[0]}" rw)
		;;
	*) die "$bad" ;;
	esac
	[[ ${f[0]} == /* ]] || [[ ${f[0]} =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ ]] ||
		die "$bad: the source must be an absolute host path or a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)"
	[[ ${f[1]} == /* ]] || die "$bad: the destination must be an absolute path"
	[[ ${f[1]} == *[!/]* ]] || die "$bad: the destination can't be '/'"
	R_VOLUME=${f[0]}:${f[1]}:${f[2]}
}

# device_spec SPEC: docker's --device HOST[:CONTAINER][:PERMISSIONS] into R_DEVICE as
# HOST:CONTAINER:PERMISSIONS (the container path defaults to HOST, the permissions to rwm).
device_spec() {
	local -a f
	IFS=: read -ra f <<<"$1"
	local host=${f[0]:-} dst="" acc=rwm
	case ${#f[@]} in
	1) ;;
	2) if [[ ${f[1]} =~ ^[rwm]{1,3}$ ]]; then acc=${f[1]}; else dst=${f[1]}; fi ;;
	3) dst=${f[1]} acc=${f[2]} ;;
	*) die "invalid device specification: $1" ;;
	esac
	[[ $acc =~ ^[rwm]{1,3}$ ]] || die "invalid device mode: $acc"
	[ -b "$host" ] || [ -c "$host" ] || die "run: error gathering device information while adding custom device \"$host\": no such file or directory"
	[ -n "$dst" ] || dst=$host
	[[ $dst == /* ]] || die "invalid device specification: $1: the container path must be absolute"
	R_DEVICE=$host:$dst:$acc
}
# devrule_spec RULE: check docker's --device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS'.
devrule_spec() {
	[[ $1 =~ ^[abc]\ ([0-9]+|\*):([0-9]+|\*)\ [rwm]{1,3}$ ]] || die "invalid device cgroup format '$1'"
}
# security_opt OPT: docker's --security-opt, into cmd_run's seccomp (default, unconfined or
# a profile file) and nnp (no-new-privileges).
security_opt() {
	local o=$1 v
	case $o in
	seccomp=* | seccomp:*)
		v=${o:8}
		case $v in
		unconfined) seccomp=unconfined ;;
		"") die "invalid --security-opt: \"$o\"" ;;
		*)
			[ -f "$v" ] && [ -r "$v" ] || die "opening seccomp profile ($v) failed: open $v: no such file or directory"
			seccomp=$v
			;;
		esac
		;;
	no-new-privileges | no-new-privileges=true | no-new-privileges:true) nnp=1 ;;
	no-new-privileges=false | no-new-privileges:false) nnp=0 ;;
	apparmor=* | apparmor:* | label=* | label:*) warn "--security-opt $o ignored: contain applies no AppArmor or SELinux label" ;;
	*) die "invalid --security-opt: \"$o\"" ;;
	esac
}
# signal_name SIG: a signal name (TERM, SIGTERM, any case) or number, into R_SIGNAL as the
# name without SIG.
signal_name() {
	local s=${1^^}
	s=${s#SIG}
	kill -l "$s" >/dev/null 2>&1 || die "invalid signal: $1"
	if [[ $s =~ ^[0-9]+$ ]]; then
		R_SIGNAL=$(kill -l "$s") || die "invalid signal: $1"
	else
		R_SIGNAL=$s
	fi
}

# env_args: the caller's array envs ("f" FILE or "e" VALUE words) into CENV: the files
# first, then the -e values, which win (as docker reads them).
env_args() {
	local e
	for e in "${envs[@]}"; do [[ $e == f* ]] && env_file "${e#f}"; done
	for e in "${envs[@]}"; do [[ $e == e* ]] && env_arg "${e#e}"; done
	return 0
}

# passwd_find FILE USER: the passwd entry of USER (a name, or a uid when numeric) in FILE
# into PW_UID PW_GID PW_HOME; status 1 when there is none.
passwd_find() {
	local n x u g gecos home rest num=0
	[ -f "$1" ] || return 1
	[[ $2 == +([0-9]) ]] && num=1
	while IFS=: read -r n x u g gecos home rest; do
		if [ $num = 1 ] && [ "$u" = "$2" ] || [ "$n" = "$2" ]; then
			PW_UID=$u PW_GID=$g PW_HOME=$home
			return 0
		fi
	done <"$1"
	return 1
}

# The exec chain of container $1 (its meta loaded) into the array CHAIN.  The union is
# mounted on $ROOT/mnt, which every container shares: it is mounted in the container's own
# mount namespace, and pivot_root leaves nothing of it in the host's view.
build_chain() {
	local cid=$1 c="$ROOT/containers/$1" h
	local -a ns lowers ls cr
	tool_paths
	# The program is pid 1, as docker runs it (--init: chroot-rs's init, in the container).
	ns=(--fork --pid --mount --uts --ipc --no-init)
	# -t: chroot-rs sends the master of a pty of the container's devpts to unshare-rs, which
	# relays it to ours from outside the container: the program stays pid 1 (runc's
	# --console-socket)
	[ "${META[tty]}" = 1 ] && ns+=("--console-relay=$c/console.sock")
	# a session keyring of its own, as runc gives every container (chroot-rs --harden joins
	# one for the others)
	[ "${META[privileged]:-0}" = 1 ] && ns+=(--new-keyring)
	# (a user's slirp4netns container joins its holder's user namespace first: a second one
	# nested in it would leave root inside no power over the network namespace)
	[ "$ROOTLESS" = 1 ] && [ "${META[net]}" != slirp4netns ] && ns=(--user --map-root-user "${ns[@]}")
	# a network of net.sh's: its namespace, made and configured by net_up, joined first
	local -a pre=()
	case ${META[net]} in host) ;; none) ns+=(--net --loopback) ;; *) pre=("${NET_JOIN[@]}") ;; esac
	[ -n "${META[domainname]:-}" ] && ns+=(--domainname "${META[domainname]}")
	CHAIN=("${pre[@]}" "${TOOL[unshare-rs]}" "${ns[@]}" --json-status 9 --hostname "${META[hostname]}" --)
	# The devices cgroup: docker's default list, what each --device names and the
	# --device-cgroup-rule rules (a --privileged container gets every device).
	if use_cgroups; then
		local -a dev=()
		if [ "${META[privileged]:-0}" != 1 ]; then
			dev=(--device-default)
			local d
			if [ -s "$c/devices" ]; then
				while IFS= read -r d; do
					dev+=("--device-allow=${d%%:*}:${d##*:}")
				done <"$c/devices"
			fi
			for d in "${DEVRULES[@]}"; do dev+=("--device-cgroup-rule=$d"); done
		fi
		CHAIN+=("${TOOL[cgset]}" "${dev[@]}" "./$CGPARENT/$cid" --)
	fi
	mapfile -t ls <"$ROOT/images/${META[image]}/layers"
	for ((h = ${#ls[@]} - 1; h >= 0; h--)); do lowers+=(--lower "$ROOT/layers/${ls[h]}/fs"); done
	# A --rm container's layer is thrown away when it ends: no sync of it at unmount
	# (overlayfs's volatile, as podman mounts --rm containers), which would wait for the
	# journal of the whole file system holding it.
	[ "${META[autoremove]}" = 1 ] && lowers+=(-o volatile)
	# --runtime: the bundle and the runtime's run in place of the rest of the chain
	if [ -n "${META[runtime]:-}" ]; then
		use runtime
		rt_chain "$cid" "${lowers[@]}"
		return
	fi
	CHAIN+=("${TOOL[unionmount]}" "${lowers[@]}" --upper "$c/upper" --work "$c/work" "$ROOT/mnt" --)
	# chroot-rs --harden (runc's: docker's capabilities, masked paths, /dev noexec, a new
	# session keyring, a sealed copy of itself; in --chroot mode a switch_root-style change of
	# root that the chroot escape cannot undo), docker's seccomp profile, the --device nodes
	# made in the new root before anything runs there, and no descriptor above 2.
	# --privileged: none of it (every capability, nothing masked, the host's /dev).
	cr=("${TOOL[chroot-rs]}" --proc --sys --preserve-fds=0)
	# /sys/fs/cgroup: the container's own cgroups alone, read-only (v2: a cgroup namespace)
	use_cgroups && cr+=(--cgroupfs)
	[ "${META[mode]}" != chroot ] && cr+=(--pivot)
	if [ "${META[privileged]:-0}" = 1 ]; then
		cr+=(--host-dev)
	else
		cr+=(--dev --harden)
		case ${META[seccomp]:-default} in
		default | unconfined) cr+=("--seccomp=${META[seccomp]:-default}") ;;
		*) cr+=("--seccomp=$c/seccomp.json") ;;
		esac
		[ "${META[nnp]:-0}" = 1 ] && cr+=(--no-new-privs)
		if [ -s "$c/devices" ]; then
			local dv
			while IFS= read -r dv; do cr+=("--device=$dv"); done <"$c/devices"
		fi
	fi
	[ "${META[init]:-0}" = 1 ] && cr+=(--init)
	[ "${META[readonly]:-0}" = 1 ] && cr+=(--readonly)
	caps_split
	cr+=("${CAP_ADDS[@]/#/--cap-add=}" "${CAP_DROPS[@]/#/--cap-drop=}")
	local v
	for v in "${VOLUMES[@]}"; do
		# (a named volume: its directory in the store)
		[[ $v == /* ]] || v=$ROOT/volumes/${v%%:*}/_data:${v#*:}
		if [[ $v == *:ro ]]; then cr+=("--ro-bind=${v%:*}"); else cr+=("--bind=${v%:*}"); fi
	done
	[ -e "$c/hosts" ] && cr+=("--bind=$c/hosts:/etc/hosts" "--bind=$c/hostname:/etc/hostname" "--bind=$c/resolv.conf:/etc/resolv.conf")
	[ -n "${META[user]:-}" ] && cr+=("--userspec=${META[user]}")
	[ -n "${META[workdir]:-}" ] && cr+=("--chdir=${META[workdir]}")
	[ "${META[tty]}" = 1 ] && cr+=("--console-socket=$c/console.sock")
	# --tmpfs, --shm-size: each tmpfs mounted (in the container's mount namespace) on a
	# directory beside its layer, then bound at its path by chroot-rs, which resolves the
	# path inside the new root
	if [ -n "${META[tmpfs]:-}" ] && hash mount 2>/dev/null; then
		local -a tl tm=()
		local t i=0
		mapfile -t tl < <(sed -n 's/^tmpfs //p' "$c/meta")
		for t in "${tl[@]}"; do
			mkdir -p -- "$c/tmpfs/$i"
			tm+=("$c/tmpfs/$i" "${t#*:}")
			cr+=("--bind=$c/tmpfs/$i:${t%%:*}")
			i=$((i + 1))
		done
		CHAIN+=("$BASH" -c 'while [ "$1" != -- ]; do "$0" -t tmpfs -o "$2" tmpfs "$1" || exit 125; shift 2; done; shift; exec "$@"' \
			"${BASH_CMDS[mount]}" "${tm[@]}" --)
	fi
	# --ulimit: prlimit sets them on itself, and chroot-rs and the program inherit them
	[ -n "${META[ulimit]:-}" ] && hash prlimit 2>/dev/null &&
		CHAIN+=("${BASH_CMDS[prlimit]}" $(sed -n 's/^ulimit /--/p' "$c/meta") --)
	CHAIN+=("${cr[@]}" -- "$ROOT/mnt" "${CMD[@]}")
}

# run_claim CID: the run file made exclusively: the lock on the container's layer, held by
# this process (the monitor) as long as the file names it (see cstate_v).  A run file left by
# a monitor that was killed is settled first (monitor_lost).  Status 1 with R_ERR when
# another monitor runs the container, or the file cannot be written.
run_claim() {
	local f="$ROOT/containers/$1/run" rc i
	for ((i = 0; i < 2; i++)); do
		set -C
		{ printf 'status running\nstarted %s\nmpid %s\nmstart %s\n' "$2" "$BASHPID" "$3" >"$f"; } 2>/dev/null
		rc=$?
		set +C
		[ $rc = 0 ] && return 0
		if [ -e "$f" ] && ! [ -s "$f" ] && [ -O "$f" ]; then
			# made, but not written: the disk is full
			rm -f -- "$f"
			R_ERR="cannot write the container's run file: no space left on the device?"
			return 1
		fi
		[ -e "$f" ] || {
			R_ERR="cannot create the container's run file (is the disk full?)"
			return 1
		}
		monitor_lost "$1" || break
	done
	R_ERR="container ${1:0:12} is already running (its layer is in use)"
	return 1
}

# cgroup_make CID: the container's cgroup, made again from its stored limits when it is gone
# (removed when the last run ended); status 1 when cgset refuses.
cgroup_make() {
	local -a lim
	use_cgroups && [ ${#CGDIRS[@]} -gt 0 ] && ! [ -d "${CGDIRS[0]}" ] && [ -s "$ROOT/containers/$1/limits" ] || return 0
	read_nul lim "$ROOT/containers/$1/limits"
	cgset "${lim[@]}" "./$CGPARENT/$1" >/dev/null
}

# restart_next CID RC: whether the monitor starts the container again after an end with
# status RC, by its --restart policy (no, on-failure[:N], always, unless-stopped); never after
# `contain stop`, `kill` or `rm` (their stopped file), as docker's manual stop.
restart_next() {
	local pol=${META[restart]:-no} n=${RESTARTS:-0}
	[ "$pol" = no ] && return 1
	[ -e "$ROOT/containers/$1/stopped" ] && return 1
	[ -d "$ROOT/containers/$1" ] || return 1
	case $pol in
	always | unless-stopped) return 0 ;;
	on-failure) [ "$2" != 0 ] ;;
	on-failure:*) [ "$2" != 0 ] && [ "$n" -lt "${pol#on-failure:}" ] ;;
	*) return 1 ;;
	esac
}

# The monitor: run container $1 to its end (and again, by its restart policy), recording its
# state; $2 = fg when a client is attached (its streams are ours), bg for a detached one.
# The container's files are written by its monitor only (run_claim makes it the only one).
# It runs as a process of its own (conmon's role): the client that started it may die, the
# container runs on, and its end is recorded all the same.
run_chain() {
	local cid=$1 fg=${2:-} c="$ROOT/containers/$1" pid rc started=$EPOCHSECONDS mstart
	[ "$META_CID" = "$cid" ] || meta_load "$cid"
	trap ':' INT TERM HUP QUIT
	proc_start_v "$BASHPID"
	mstart=$R_START
	if ! run_claim "$cid" "$started" "$mstart"; then
		echo "contain: $R_ERR" >&2
		return 125
	fi
	loadables rm rmdir
	[ -e "$c/state" ] && rm -f -- "$c/state"
	[ -e "$c/stopped" ] && rm -f -- "$c/stopped"
	[ -e "$c/paused" ] && rm -f -- "$c/paused"
	[ -e "$c/oomkilled" ] && rm -f -- "$c/oomkilled"
	RESTARTS=0
	[ -s "$c/restartcount" ] && IFS= read -r RESTARTS <"$c/restartcount"
	local netup err=""
	while :; do
		netup=0
		case ${META[net]} in host | none) ;; *)
			net_load
			tool_paths
			# (set -u off meanwhile: an unset variable in the network code must not end the
			# monitor, which would leave its run unrecorded)
			set +u
			net_up "$cid"
			local nrc=$?
			set -u
			if [ $nrc != 0 ]; then
				# (a detached container's monitor has no terminal: the log keeps the reason)
				echo "contain: $R_ERR" >&2
				(log_writer stderr <<<"contain: $R_ERR") >>"$c/log"
				run_end "$cid" created "" "$R_ERR"
				return 125
			fi
			netup=1
			;;
		esac
		if ! cgroup_make "$cid"; then
			err="cannot make the container's cgroup again from its limits"
			[ $netup = 1 ] && net_down "$cid"
			echo "contain: $err" >&2
			run_end "$cid" created "" "$err"
			return 125
		fi
		build_chain "$cid"
		run_once "$cid" "$fg"
		rc=$R_RC
		[ $netup = 1 ] && net_down "$cid"
		restart_next "$cid" "$rc" || break
		RESTARTS=$((RESTARTS + 1))
		put "$c/restartcount" "$RESTARTS
" || warn "$R_ERR"
		# docker's delay: 100 ms, doubled at every restart (at most a minute); its state
		# meanwhile is restarting
		local d=$((100 << (RESTARTS > 10 ? 10 : RESTARTS - 1)))
		[ $d -gt 60000 ] && d=60000
		{ printf 'status restarting\nstarted %s\nmpid %s\nmstart %s\n' "$EPOCHSECONDS" "$BASHPID" "$mstart" >"$c/run"; } 2>/dev/null
		sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))"
		[ -e "$c/stopped" ] && break
		# a new run: the pid lines of the last one go
		{ printf 'status running\nstarted %s\nmpid %s\nmstart %s\n' "$EPOCHSECONDS" "$BASHPID" "$mstart" >"$c/run"; } 2>/dev/null
	done
	# A --rm container is removed next: no exit state to record.
	[ "${META[autoremove]}" = 1 ] && {
		rm -f -- "$c/run"
		return "$rc"
	}
	run_end "$cid" exited "$rc"
	return "$rc"
}

# run_end CID STATUS RC [ERROR]: record the end of the run (the state file, whole), remove the
# container's cgroup (start makes it again from its limits), then the run file, which
# releases the layer.  `contain rm -f` may have removed the container meanwhile.
run_end() {
	local c="$ROOT/containers/$1" started st
	[ -d "$c" ] || return 0
	cread started "$1" started
	st="status $2
started ${started:-$EPOCHSECONDS}
"
	[ -n "$3" ] && st+="exitcode $3
finished $EPOCHSECONDS
"
	[ -n "${4:-}" ] && st+="error $4
"
	if oom_killed "$1"; then
		st+="oomkilled 1
"
		# (inspect reads a file of its own)
		put "$c/oomkilled" "1
" || :
	fi
	st+="mpid $BASHPID
"
	put "$c/state" "$st" || echo "contain: $R_ERR" >&2
	[ "$2" = exited ] && cgroup_remove "$1"
	rm -f -- "$c/run" "$c/paused"
	return 0
}

# log_writer STREAM: the lines read as Docker's json-file records (see logs.sh), one write
# each (the two streams' writers append to one file); a last line without its newline is a
# record without one.  (bash's own: no process to exec for it, as a relay's cat; its read
# takes a pipe a byte at a time, which a container's output can afford.)
log_writer() {
	local line t nl
	export TZ=UTC LC_ALL=C
	trap '' INT QUIT
	while :; do
		nl='\n'
		IFS= read -r line || {
			[ -n "$line" ] || break
			nl=
		}
		t=$EPOCHREALTIME
		json_esc "$line"
		printf '{"log":"%s%s","stream":"%s","time":"%(%Y-%m-%dT%H:%M:%S)T.%s000Z"}\n' "$R_JSON" "$nl" "$1" "${t%.*}" "${t#*.}"
		[ -n "$nl" ] || break
	done
}

# oom_killed CID: whether the kernel's OOM killer killed a process of the container's memory
# cgroup (v1 memory.oom_control's oom_kill, v2 memory.events'), read before it is removed.
oom_killed() {
	local d f k v
	for d in "${CGDIRS[@]}"; do
		for f in "$d/memory.oom_control" "$d/memory.events"; do
			[ -r "$f" ] || continue
			while read -r k v; do
				[ "$k" = oom_kill ] && [ "${v:-0}" -gt 0 ] && return 0
			done <"$f"
		done
	done
	return 1
}

# run_once CID MODE: one run of the chain (CHAIN) to its end, its status into R_RC.
run_once() {
	local cid=$1 fg=$2 c="$ROOT/containers/$1" pid rc
	# The container's standard streams are pipes (or /dev/null), never a file of the host:
	# a process inside could reopen one through /proc/self/fd (read-write, as root) or, a
	# terminal, push input into it (TIOCSTI).  Detached, its output and error go through one
	# pipe to a reader of ours that appends to the log.  Attached, its output goes to the log
	# too (`contain logs`, as docker keeps it), through tee, two pipes as under docker without
	# -t; not with -t (chroot-rs relays its pty to our terminal itself) nor for --rm (no one can
	# read the log after): then a pipe or /dev/null of the caller's is handed on as it is and
	# anything else (a file, a terminal, a socket) goes through a relay (cat).  The client
	# relays its standard input when it is not a pipe (see run_attached): ours is one.  tee -p:
	# a client that goes away leaves the log written.
	local -a tees=()
	local in=0 out=1 err=2
	local w
	if [ "$fg" != fg ]; then
		in=/dev/null
		exec {out}> >(log_writer stdout >>"$c/log")
		tees+=($!)
		exec {err}> >(log_writer stderr >>"$c/log")
		tees+=($!)
	elif [ "${META[tty]}" != 1 ]; then
		if [ "${META[autoremove]}" != 1 ]; then
			exec {w}> >(log_writer stdout >>"$c/log")
			tees+=($!)
			exec {out}> >(exec tee -ip "/dev/fd/$w" 2>/dev/null)
			tees+=($!)
			exec {w}>&-
			exec {w}> >(log_writer stderr >>"$c/log")
			tees+=($!)
			exec {err}> >(exec tee -ip "/dev/fd/$w" >&2 2>/dev/null)
			tees+=($!)
			exec {w}>&-
		else
			plain_stream 1 || {
				exec {out}> >(exec cat)
				tees+=($!)
			}
			plain_stream 2 || {
				exec {err}> >(exec cat >&2)
				tees+=($!)
			}
		fi
		[ "${META[interactive]}" = 1 ] || in=/dev/null
	elif [ "${META[interactive]}" != 1 ]; then
		in=/dev/null
	fi
	# The chain runs with the container's environment only (see with_env), so nothing of
	# the caller's (tokens, sockets, paths) reaches the container, its pid 1 included.
	if [ "$in" = /dev/null ]; then
		(KEEP_FD=9 && with_env "${CHAIN[@]}") </dev/null >&$out 2>&$err 9>>"$c/run" &
	else
		(KEEP_FD=9 && with_env "${CHAIN[@]}") <&$in >&$out 2>&$err 9>>"$c/run" &
	fi
	pid=$!
	[ "$out" != 1 ] && exec {out}>&-
	[ "$err" != 2 ] && [ "$err" != "$out" ] && exec {err}>&-
	proc_start_v "$pid"
	printf 'pid %s\npstart %s\n' "$pid" "$R_START" >>"$c/run"
	# (wait's error output off: bash reports a child killed by a signal there)
	while :; do
		wait "$pid" 2>/dev/null
		rc=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	# the log is complete once the tees have read everything
	[ ${#tees[@]} -gt 0 ] && wait "${tees[@]}" 2>/dev/null
	R_RC=$rc
}

LIMIT_VALUE_FLAGS=" --cpu-shares --cpus --cpu-period --cpu-quota --cpuset-cpus --cpuset-mems
 --memory --memory-swap --memory-swappiness --memory-reservation --kernel-memory
 --device-read-bps --device-write-bps --device-read-iops --device-write-iops --blkio-weight
 --pids-limit "

# cpus_range VALUE: --cpus above the CPUs this process may run on (or below 0.01) refused
# before anything is made, in docker's words (docker's daemon checks it before it creates).
cpus_range() {
	local n
	n=$(nproc 2>/dev/null) || return 0
	awk -v v="$1" -v n="$n" 'BEGIN { exit !(v ~ /^[0-9]*\.?[0-9]+$/ && (v > n || (v > 0 && v < 0.01))) }' ||
		return 0
	printf "contain: Error response from daemon: Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available.\nSee 'contain run --help'.\n" "$n" "$n" >&2
	exit 125
}

# container_env IMAGE HOSTNAME TTY USER: the container's environment into CENV, as docker
# makes it: the image's Env (with the default PATH when it has none), HOSTNAME, TERM=xterm
# with -t, the --env-file and -e values of cmd_run (the array envs, in order), and HOME from
# the user's passwd entry in the image (else /).  R_USERSPEC is USER for chroot-rs --userspec
# (a uid without a group and without an entry gets group 0, as docker gives it).  Status 1,
# with R_ERR, for a user name the image does not have.
container_env() {
	local image=$1 host=$2 tty=$3 user=$4 e u=${4%%:*}
	CENV=()
	ENVIDX=()
	R_USERSPEC=$user
	local -a ienv
	read_nul ienv "$ROOT/images/$image/env"
	for e in "${ienv[@]}"; do [[ $e == ?*=* ]] && env_put "$e"; done
	if [ -z "${ENVIDX[PATH]+x}" ]; then
		CENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${CENV[@]}")
		local k
		for k in "${!ENVIDX[@]}"; do ENVIDX[$k]=$((ENVIDX[$k] + 1)); done
		ENVIDX[PATH]=0
	fi
	env_put "HOSTNAME=$host"
	[ "$tty" = 1 ] && env_put "TERM=xterm"
	env_args
	PW_HOME=/
	local pw=""
	image_file "$image" etc/passwd && pw=$R_FILE
	if ! passwd_find "$pw" "${u:-0}"; then
		if [ -n "$u" ] && ! [[ $u =~ ^[0-9]+$ ]]; then
			R_ERR="unable to find user $u: no matching entries in passwd file"
			return 1
		fi
		PW_HOME=/
		[ -n "$u" ] && [[ $user != *:* ]] && R_USERSPEC=$u:0
	fi
	[ -n "${ENVIDX[HOME]+x}" ] || env_put "HOME=$PW_HOME"
	return 0
}

cmd_run() {
	local detach=0 autoremove=0 interactive=0 tty=0 name="" cidfile="" hostname="" net="" puball=0 domainname=""
	local mode=pivot createonly=0 user="" workdir="" setuser=0 setworkdir=0 readonly=0 privileged=0
	local caps="" init=0 stopsignal="" seccomp=default nnp=0 runtime="" stoptimeout="" setentry=0 restart=no
	local -a labels=() entrypoint=() ulimits=() tmpfss=()
	local -a limits=() devices=() devrules=() envs=() vols=() ports=() addhosts=() dns=() dnssearch=() dnsopt=()
	while [ $# -gt 0 ]; do
		local opt=$1 val="" hasval=0
		if [[ $opt == --*=* ]]; then
			val=${opt#*=}
			opt=${opt%%=*}
			hasval=1
		fi
		case $opt in
		--create-only) createonly=1 ;;
		--help) use output && usage && exit 0 ;;
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
		--read-only) readonly=1 ;;
		--privileged) privileged=1 ;;
		--init) [ $hasval = 1 ] && [ "$val" = false ] && init=0 || init=1 ;;
		--sig-proxy)
			case $hasval:$val in
			0: | 1:true) SIG_PROXY=1 ;;
			1:false) SIG_PROXY=0 ;;
			*) die "invalid argument \"$val\" for \"--sig-proxy\" flag: true or false" ;;
			esac
			;;
		-P | --publish-all) puball=1 ;;
		--oom-kill-disable)
			[ $hasval = 1 ] && [ "$val" = false ] || limits+=(--oom-kill-disable)
			;;
		--name | --cidfile | --hostname | -h | --net | --network | -c | -m | -e | -u | -w | -v | -p | -l | --device | --*)
			if [ $hasval = 0 ]; then
				[ $# -ge 2 ] || die "run: option '$opt' needs a value"
				val=$2
				shift
			fi
			case $opt in
			--name) name=$val ;;
			--cidfile) cidfile=$val ;;
			--hostname | -h) hostname=$val ;;
			--domainname)
				[[ $val =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "invalid domain name: \"$val\""
				domainname=$val
				;;
			--net | --network) net=$val ;;
			-p | --publish) ports+=("$val") ;;
			--add-host) [[ $val =~ ^[^:]+:[0-9a-fA-F.:]+$ ]] || die "invalid argument \"$val\" for \"--add-host\" flag: bad format for add-host: \"$val\"" && addhosts+=("$val") ;;
			--dns) dns+=("$val") ;;
			--dns-search) dnssearch+=("$val") ;;
			--dns-option | --dns-opt) dnsopt+=("$val") ;;
			-e | --env) envs+=("e$val") ;;
			--env-file) envs+=("f$val") ;;
			-u | --user) user=$val setuser=1 ;;
			-w | --workdir) workdir=$val setworkdir=1 ;;
			-v | --volume) volume_spec "$val" && vols+=("$R_VOLUME") ;;
			--cap-add) cap_name "$val" && caps+=" +$R_CAP" ;;
			--cap-drop) cap_name "$val" && caps+=" -$R_CAP" ;;
			--device) device_spec "$val" && devices+=("$R_DEVICE") ;;
			--device-cgroup-rule) devrule_spec "$val" && devrules+=("$val") ;;
			--security-opt) security_opt "$val" ;;
			--stop-signal) signal_name "$val" && stopsignal=$R_SIGNAL ;;
			--runtime) use runtime && { rt_resolve "$val" || die "$R_ERR"; } && runtime=$val ;;
			--mount)
				use volumes && mount_spec "$val"
				if [ -n "$R_TMPFS" ]; then tmpfss+=("$R_TMPFS"); else vols+=("$R_VOLUME"); fi
				;;
			--tmpfs) use volumes && tmpfs_spec "$val" && tmpfss+=("$R_TMPFS") ;;
			--shm-size) use volumes && shm_spec "$val" && tmpfss+=("$R_TMPFS") ;;
			-l | --label) labels+=("$val") ;;
			--label-file) use volumes && label_file "$val" && labels+=("${R_LABELS[@]}") ;;
			--entrypoint) entrypoint=() && setentry=1 && [ -n "$val" ] && entrypoint=("$val") ;;
			--stop-timeout)
				[[ $val =~ ^-?[0-9]+$ ]] || die "invalid argument \"$val\" for \"--stop-timeout\" flag: strconv.ParseInt: parsing \"$val\": invalid syntax"
				stoptimeout=$val
				;;
			--ulimit) use volumes && ulimit_spec "$val" && ulimits+=("$R_ULIMIT") ;;
			--restart)
				[[ $val =~ ^(no|always|unless-stopped|on-failure(:[0-9]+)?)$ ]] ||
					die "invalid restart policy: \"$val\" (no, on-failure[:max-retries], always or unless-stopped)"
				restart=$val
				;;
			-c) limits+=(--cpu-shares "$val") ;;
			-m) limits+=(--memory "$val") ;;
			*)
				# (the list spans lines: a newline separates words as a space does)
				[[ " ${LIMIT_VALUE_FLAGS//$'\n'/ } " == *" $opt "* ]] ||
					die "run: unknown option '$opt' (see 'contain --help')"
				[ "$opt" = --cpus ] && cpus_range "$val"
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
	[ $autoremove = 1 ] && [ "$restart" != no ] && die "Conflicting options: --restart and --rm"
	# each limit checked in contain's words before cgset sees it (admin.sh)
	if [ ${#limits[@]} -gt 0 ]; then
		use admin
		limits_check "${limits[@]}" || die "$R_ERR"
	fi
	local imageref=$1
	# --runtime (or CONTAIN_RUNTIME, the default runtime as dockerd's --default-runtime): the
	# bundle's runtime runs what OCI says (--chroot, --init and -t too: see runtime.sh)
	[ -n "$runtime" ] || [ -z "${CONTAIN_RUNTIME:-}" ] ||
		{ use runtime && rt_resolve "$CONTAIN_RUNTIME" && runtime=$CONTAIN_RUNTIME; } || die "$R_ERR"
	shift
	# the default network: docker's bridge as root (net.sh), lo alone for a user
	[ -n "$net" ] || { net_default_mode && net=$R_NET; }
	case $net in
	none | host) [ ${#ports[@]} -gt 0 ] && [ "$net" = host ] && warn "Published ports are discarded when using host network mode" ;;
	*)
		net_load
		net_check_mode "$net"
		net=$R_NET
		local sp pp=()
		for sp in "${ports[@]}"; do net_port_spec "$sp" && pp+=("${R_PORTS[@]}"); done
		ports=("${pp[@]}")
		;;
	esac
	store_init
	local image
	image_resolve_v "$imageref"
	image=$R_ID
	local -a cmd entry
	read_nul entry "$ROOT/images/$image/entrypoint"
	if [ $# -gt 0 ]; then
		cmd=("$@")
	elif [ $setentry = 0 ] || [ ${#entrypoint[@]} -eq 0 ]; then
		read_nul cmd "$ROOT/images/$image/cmd"
	fi
	# --entrypoint: docker's rule, the image's CMD goes with its ENTRYPOINT
	[ $setentry = 1 ] && entry=("${entrypoint[@]}")
	cmd=("${entry[@]}" "${cmd[@]}")
	[ ${#cmd[@]} -gt 0 ] || die "run: No command specified (the image has no default command)"
	[ $setuser = 1 ] || { [ -s "$ROOT/images/$image/user" ] && IFS= read -r user <"$ROOT/images/$image/user"; }
	[ $setworkdir = 1 ] || { [ -s "$ROOT/images/$image/workdir" ] && IFS= read -r workdir <"$ROOT/images/$image/workdir"; }
	[ -z "$workdir" ] || [[ $workdir == /* ]] ||
		die "the working directory '$workdir' is invalid, it needs to be an absolute path"
	[ -n "$cidfile" ] && [ -e "$cidfile" ] &&
		die "Container ID file found, make sure the other container isn't running or delete $cidfile"
	if [ -n "$name" ] && ! [[ $name =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]]; then
		die "Invalid container name ($name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
	fi
	if [ $privileged = 1 ]; then
		local d
		for d in "${devices[@]}"; do
			d=${d%:*}
			[ "${d%%:*}" = "${d#*:}" ] ||
				warn "--privileged binds the host's /dev: --device ${d%%:*} is at its own path, not ${d#*:}"
		done
	fi
	if [ ${#limits[@]} -gt 0 ] && ! use_cgroups; then
		warn "not root: cgroup limits skipped (${limits[*]})"
		limits=()
	fi
	local cid c
	# 256 bits from the kernel's random source (getrandom(2) behind bash's SRANDOM)
	printf -v cid '%08x%08x%08x%08x%08x%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM" \
		"$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM"
	c="$ROOT/containers/$cid"
	# Before anything is made: a bad -e, --env-file or -u leaves nothing behind.
	container_env "$image" "${hostname:-${cid:0:12}}" "$tty" "$user" || die "$R_ERR"
	# A missing -v source directory is made, as docker makes it.
	local v
	for v in "${vols[@]}"; do
		v=${v%:*}
		if [[ $v != /* ]]; then
			use volumes
			vol_make "${v%%:*}" || die "cannot create the volume '${v%%:*}'"
			continue
		fi
		[ -e "${v%:*}" ] || mkdir -p -- "${v%:*}" || die "cannot create the volume source '${v%:*}'"
	done
	# The id is claimed by the mkdir (no -p: it fails if the directory exists), then the
	# name: a name file always names a directory made before it (a client killed in between
	# leaves a container without meta, which ps lists as Dead and rm removes, never a name
	# that no container holds).
	if ! mkdir -- "$c" 2>/dev/null; then
		die "cannot create the container's directory under $ROOT/containers"
	fi
	if ! mkdir -- "$c/upper" "$c/work" 2>/dev/null; then
		rm -rf -- "$c"
		die "cannot create the container's directory under $ROOT/containers (is the disk full?)"
	fi
	local nrc=0
	if [ -n "$name" ]; then
		name_claim "$name" "$cid" || nrc=$?
	else
		local i
		for ((i = 0; i < 1000; i++)); do
			random_name_v
			nrc=0
			name_claim "$R_RANDOM_NAME" "$cid" && break
			nrc=$?
			[ $nrc = 2 ] && break
		done
		name=$R_RANDOM_NAME
	fi
	if [ $nrc != 0 ]; then
		rm -rf -- "$c"
		[ $nrc = 2 ] && die "cannot write the container's name under $ROOT/names (is the disk full?)"
		die "Conflict. The container name \"/$name\" is already in use by container \"$R_HOLDER\". You have to remove (or rename) that container to be able to reuse that name."
	fi
	local qcmd qenv=""
	printf -v qcmd '%q ' "${cmd[@]}"
	[ ${#CENV[@]} -gt 0 ] && printf -v qenv '%q ' "${CENV[@]}"
	META=([name]=$name [image]=$image [imageref]=$imageref [created]=$EPOCHSECONDS
		[hostname]=${hostname:-${cid:0:12}} [net]=$net [mode]=$mode [autoremove]=$autoremove
		[interactive]=$interactive [tty]=$tty [user]=$R_USERSPEC [workdir]=$workdir
		[readonly]=$readonly [privileged]=$privileged [caps]=${caps# } [env]=${qenv% } [cmd]=${qcmd% }
		[init]=$init [stopsignal]=$stopsignal [seccomp]=$seccomp [nnp]=$nnp [domainname]=$domainname [runtime]=$runtime [restart]=$restart)
	[ ${#ulimits[@]} -gt 0 ] && META[ulimit]=${ulimits[0]}
	[ ${#tmpfss[@]} -gt 0 ] && META[tmpfs]=${tmpfss[0]}
	CMD=("${cmd[@]}")
	VOLUMES=("${vols[@]}")
	DEVRULES=("${devrules[@]}")
	CGDIRS=()
	if use_cgroups; then
		cg_own_dirs
		CGDIRS=("${CG_OWN[@]/%//$CGPARENT/$cid}")
	fi
	META_CID=$cid
	# (one write, checked: a full disk leaves nothing of the container)
	local mt mx q
	printf -v mt 'name %s\nimage %s\nimageref %s\ncreated %s\nhostname %s\nnet %s\nmode %s\nautoremove %s\ninteractive %s\ntty %s\nuser %s\nworkdir %s\nreadonly %s\nprivileged %s\ncaps %s\nenv %s\ncmd %s\ninit %s\nstopsignal %s\nseccomp %s\nnnp %s\ndomainname %s\nrestart %s\n' \
		"$name" "$image" "$imageref" "${META[created]}" "${META[hostname]}" "$net" "$mode" \
		"$autoremove" "$interactive" "$tty" "${META[user]}" "$workdir" "$readonly" "$privileged" \
		"${META[caps]}" "${META[env]}" "${META[cmd]}" "$init" "$stopsignal" "$seccomp" "$nnp" "$domainname" "$restart"
	[ -n "$runtime" ] && mt+="runtime $runtime"$'\n'
	[ ${#devrules[@]} -gt 0 ] && printf -v mx 'devrule %s\n' "${devrules[@]}" && mt+=$mx
	[ ${#CGDIRS[@]} -gt 0 ] && printf -v mx 'cgdir %s\n' "${CGDIRS[@]}" && mt+=$mx
	[ ${#vols[@]} -gt 0 ] && printf -v mx 'volume %s\n' "${vols[@]}" && mt+=$mx
	[ ${#labels[@]} -gt 0 ] && printf -v q '%q ' "${labels[@]}" && mt+="labels ${q% }"$'\n'
	[ $setentry = 1 ] && printf -v q '%q ' "${entry[@]}" && mt+="entrypoint ${q% }"$'\n'
	[ -n "$stoptimeout" ] && mt+="stoptimeout $stoptimeout"$'\n'
	[ ${#ulimits[@]} -gt 0 ] && printf -v mx 'ulimit %s\n' "${ulimits[@]}" && mt+=$mx
	[ ${#tmpfss[@]} -gt 0 ] && printf -v mx 'tmpfs %s\n' "${tmpfss[@]}" && mt+=$mx
	{ printf '%s' "$mt" >"$c/meta"; } 2>/dev/null &&
		{ [ ${#limits[@]} -eq 0 ] || write_nul "$c/limits" "${limits[@]}"; } 2>/dev/null &&
		{ [ ${#devices[@]} -eq 0 ] || printf '%s\n' "${devices[@]}" >"$c/devices"; } 2>/dev/null || {
		name_release "$name" "$cid"
		rm -rf -- "$c"
		die "cannot write the container's state under $c (is the disk full?)"
	}
	# -P: the image's exposed ports, each on an ephemeral host port
	if [ $puball = 1 ] && [ -s "$ROOT/images/$image/exposed" ]; then
		local xp
		while IFS= read -r xp; do ports+=("${xp#*/} 0.0.0.0 0 ${xp%/*}"); done <"$ROOT/images/$image/exposed"
	fi
	case $net in none | host) ;; *)
		net_run_config "$cid" "$net" ports addhosts dns dnssearch dnsopt
		# the host ports are taken now: a conflict refuses the run in docker's words
		if [ $createonly = 0 ] && ! net_claim_ports "$cid" "$name"; then
			[ $autoremove = 1 ] && remove_container "$cid" || put "$c/state" "status created
"
			die "$R_ERR"
		fi
		;;
	esac
	# A seccomp profile is read once, when the container is created (as docker keeps it).
	if [ "$seccomp" != default ] && [ "$seccomp" != unconfined ] && ! cp -- "$seccomp" "$c/seccomp.json"; then
		remove_container "$cid"
		die "opening seccomp profile ($seccomp) failed"
	fi
	# A container being run has no status file (see cread): it is "created" until its run
	# file says otherwise.
	if [ $createonly = 1 ] && ! { printf 'status created\n' >"$c/state"; } 2>/dev/null; then
		remove_container "$cid"
		die "cannot write the container's state under $c (is the disk full?)"
	fi
	# `contain rmi` may have removed the image since it was resolved (it refuses while a
	# container uses it, and this one is visible now).
	[ -d "$ROOT/images/$image" ] || {
		remove_container "$cid"
		die "Unable to find image '$imageref' locally"
	}
	# With limits (and for create), the group is made now, so that a bad limit leaves
	# nothing behind; otherwise the chain's cgset makes it.
	if use_cgroups && { [ ${#limits[@]} -gt 0 ] || [ $createonly = 1 ]; }; then
		if ! cgset "${limits[@]}" "./$CGPARENT/$cid" >/dev/null; then
			remove_container "$cid"
			exit 125
		fi
	fi
	if [ -n "$cidfile" ]; then
		local rc
		set -C
		{ echo "$cid" >"$cidfile"; } 2>/dev/null
		rc=$?
		set +C
		if [ $rc != 0 ]; then
			remove_container "$cid"
			die "Container ID file found, make sure the other container isn't running or delete $cidfile"
		fi
	fi
	if [ $createonly = 1 ]; then
		echo "$cid"
		return 0
	fi
	if [ $detach = 1 ]; then
		start_detached "$cid" || die "${R_ERR:-the container did not start}"
		echo "$cid"
		return 0
	fi
	run_attached "$cid"
}

# The detached monitor (`contain __monitor CID`, in a session of its own), its output to
# the log.
monitor() {
	local cid=$1 rc
	run_chain "$cid" bg
	rc=$?
	monitor_autoremove "$cid"
	exit "$rc"
}
monitor_autoremove() {
	local autoremove
	cread autoremove "$1" autoremove
	[ "$autoremove" = 1 ] && [ -d "$ROOT/containers/$1" ] && remove_container "$1"
	return 0
}

# run_attached CID: the client of a foreground run (and of start -a): the monitor is a process
# of its own, which the client only attaches to: its streams, its exit status, and the
# signals the client gets, sent on to the container (--sig-proxy, unless SIG_PROXY=0).
# Without -t the monitor is in a process group of its own, so that the terminal's ^C reaches
# the container once, through the client; with -t the terminal is raw and sends no signal,
# and the console relay (in the chain) must be in the terminal's foreground group.
SIG_PROXY=1
run_attached() {
	local cid=$1 c="$ROOT/containers/$1" in=0 feeder= mon rc s
	[ "$META_CID" = "$cid" ] || meta_load "$cid"
	if [ "${META[interactive]}" = 1 ] && [ "${META[tty]}" != 1 ] && ! plain_stream 0; then
		# a terminal or a file: read by a relay of the client's (a process group in the
		# background may not read the terminal); ^C is the client's to send on
		exec {in}< <(trap '' INT QUIT && exec cat)
		feeder=$!
	fi
	[ "${META[tty]}" = 1 ] || set -m
	(
		run_chain "$cid" fg
		rc=$?
		monitor_autoremove "$cid"
		exit "$rc"
	) <&$in &
	mon=$!
	set +m
	[ "$in" != 0 ] && exec {in}<&-
	if [ "$SIG_PROXY" = 1 ]; then
		for s in INT TERM HUP QUIT USR1 USR2; do
			# shellcheck disable=SC2064
			trap "sig_proxy $cid $s" "$s"
		done
	fi
	while :; do
		wait "$mon" 2>/dev/null
		rc=$?
		kill -0 "$mon" 2>/dev/null || break
	done
	trap - INT TERM HUP QUIT USR1 USR2
	# the stdin relay may wait on our input forever: it ends with the container
	[ -n "$feeder" ] && kill "$feeder" 2>/dev/null
	# a monitor killed: its end recorded now, said once
	if [ -e "$c/run" ]; then
		cstate_v "$cid"
		echo "contain: the container's monitor was killed: its processes were ended and its exit status is lost" >&2
		rc=255
	fi
	return "$rc"
}
# sig_proxy CID SIG: SIG to the chain's first process, which sends it on to the container's
# pid 1 (unshare-rs forwards the signals sent to it); once the chain runs.
sig_proxy() {
	local p ps i
	for ((i = 0; i < 200; i++)); do
		cread p "$1" pid && cread ps "$1" pstart && break
		[ -e "$ROOT/containers/$1/run" ] || return 0
		sleep 0.01
	done
	alive "$p" "$ps" && kill -s "$2" "$p" 2>/dev/null
	return 0
}

start_detached() {
	local cid=$1 c="$ROOT/containers/$1" self
	self=$(readlink -f -- "$0")
	# (the monitor outlives us: it keeps nothing of the caller's open either)
	(close_fds && exec setsid "$self" __monitor "$cid") </dev/null >/dev/null 2>&1 &
	local mon=$!
	# docker run -d returns once the container runs (or has failed to): however long its
	# network setup takes under load, so no time limit but the monitor's own life
	while :; do
		cinit_v "$cid"
		[ -n "$R_INIT" ] && return 0
		[ -d "$c" ] || return 0
		if ! kill -0 "$mon" 2>/dev/null; then
			wait "$mon" 2>/dev/null
			# a monitor that ended without starting it left the reason in the state
			[ "$(cfile "$cid" status 2>/dev/null)" = created ] || return 0
			R_ERR=$(cfile "$cid" error 2>/dev/null)
			return 1
		fi
		sleep 0.01
	done
}
