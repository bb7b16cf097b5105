# shellcheck shell=bash
# contain's run.sh: creating and running a container: `run`/`create`'s options, the exec chain
# of the tools (build_chain), the run to its end with its state (run_chain), the attached
# client (run_attached); what a plain `run --rm` does not reach is in runmore.sh.
# Read by the front script (contain) for the commands that need it; never run alone.

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

# Docker's default capabilities (chroot-rs --harden's set), for exec and a runtime's bundle.
DOCKER_CAPS="chown dac_override fsetid fowner mknod net_raw setgid setuid setfcap setpcap
 net_bind_service sys_chroot kill audit_write"
# The capabilities' names (cap_name's, runmore.sh, and a runtime's bundle's).
CAP_NAMES=" chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
 linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module
 sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time
 sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog
 wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore all "

# caps_split: META[caps] ("+name -name" words) into the arrays CAP_ADDS and CAP_DROPS.
caps_split() {
	local w
	CAP_ADDS=() CAP_DROPS=()
	for w in ${META[caps]:-}; do
		case $w in +*) CAP_ADDS+=("${w#+}") ;; -*) CAP_DROPS+=("${w#-}") ;; esac
	done
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

# The exec chain of container $1 (its meta loaded) into the array CHAIN: its runtime's (runc-rs
# by default; runtime.sh's rt_chain), or contain's own chain of the tools (chain.sh's
# own_chain).  The union is mounted on $ROOT/mnt, which every container shares: it is mounted
# in a mount namespace of the chain's own, and nothing of it is left in the host's view.
build_chain() {
	local cid=$1 h
	local -a lowers ls
	tool_paths
	mapfile -t ls <"$ROOT/images/${META[image]}/layers"
	for ((h = ${#ls[@]} - 1; h >= 0; h--)); do lowers+=(--lower "$ROOT/layers/${ls[h]}/fs"); done
	# A --rm container's layer is thrown away when it ends: no sync of it at unmount
	# (overlayfs's volatile, as podman mounts --rm containers), which would wait for the
	# journal of the whole file system holding it.
	[ "${META[autoremove]}" = 1 ] && lowers+=(-o volatile)
	if [ -n "${META[runtime]:-}" ]; then
		use runtime
		rt_chain "$cid" "${lowers[@]}"
	else
		use chain
		own_chain "$cid" "${lowers[@]}"
	fi
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
	local netup err="" t0 backoff=0
	while :; do
		netup=0
		case ${META[net]} in host | none) ;; *)
			run_net_up "$cid" || return 125
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
		t0=${EPOCHREALTIME/./}
		run_once "$cid" "$fg"
		rc=$R_RC
		[ $netup = 1 ] && net_down "$cid"
		# (--restart: restart_wait, runmore.sh, says whether to run it again, after its delay)
		[ "${META[restart]:-no}" != no ] && restart_wait "$cid" "$rc" || break
	done
	# A --rm container is removed next: no exit state to record.
	[ "${META[autoremove]}" = 1 ] && {
		rm -f -- "$c/run"
		return "$rc"
	}
	run_end "$cid" exited "$rc"
	return "$rc"
}

# run_once CID MODE: one run of the chain (CHAIN) to its end, its status into R_RC.
run_once() {
	local cid=$1 fg=$2 c="$ROOT/containers/$1" pid rc
	# The container's standard streams are pipes (or /dev/null), never a file of the host:
	# a process inside could reopen one through /proc/self/fd (read-write, as root) or, a
	# terminal, push input into it (TIOCSTI).  Detached, its output and error go through one
	# pipe to a reader of ours that appends to the log.  Attached, its output goes to the log
	# too (`contain logs`, as docker keeps it), through tee, two pipes as under docker without
	# -t (with -t, the console relay's output: one stream); not for --rm (no one can read the
	# log after): then our pipe or /dev/null is handed on as it is and anything else
	# (a file, a terminal, a socket) goes through a relay (cat).  Our streams are the client's
	# relays (attach_relays), which die with it: tee -p then writes the log alone, and the
	# monitor ignores SIGPIPE (its own messages have no reader then); the chain does not.
	local -a tees=()
	local in=0 out=1 err=2 feeder=
	# (a --rm run attached to our pipes or /dev/null without -t hands them on: any other
	# run's streams are run_streams's, runmore.sh)
	if [ "$fg" = fg ] && [ "${META[autoremove]}" = 1 ] && [ "${META[tty]}" != 1 ] && plain_stream 1 &&
		plain_stream 2; then
		[ "${META[interactive]}" = 1 ] || in=/dev/null
	else
		run_streams "$cid" "$fg"
	fi
	# The chain runs with the container's environment only (see with_env), so nothing of
	# the caller's (tokens, sockets, paths) reaches the container, its pid 1 included.
	if [ "$in" = /dev/null ]; then
		(chain_exec) </dev/null >&$out 2>&$err 9>>"$c/run" &
	else
		(chain_exec) <&$in >&$out 2>&$err 9>>"$c/run" &
	fi
	pid=$!
	[ -n "$feeder" ] && exec {in}<&-
	[ "$out" != 1 ] && exec {out}>&-
	[ "$err" != 2 ] && [ "$err" != "$out" ] && exec {err}>&-
	ev_container start "$cid"
	# (wait's error output off: bash reports a child killed by a signal there)
	while :; do
		wait "$pid" 2>/dev/null
		rc=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	[ -n "$feeder" ] && kill "$feeder" 2>/dev/null
	# (a --rm container's cgroup is not read for it: oom_killed is not on its path)
	[ "${META[autoremove]}" != 1 ] && oom_killed "$cid" && ev_container oom "$cid"
	ev_container die "$cid" "\"exitCode\":\"$rc\""
	# the log is complete once the tees have read everything
	[ ${#tees[@]} -gt 0 ] && wait "${tees[@]}" 2>/dev/null
	R_RC=$rc
}

# chain_exec: run_once's chain, in the process forked for it: its pid and start time (pid,
# pstart) appended to the run file (descriptor 9) first, read from /proc/self (the monitor's
# read of /proc/PID/stat of a process in the middle of its exec waits for the exec), then
# the chain with the container's environment (with_env).
chain_exec() {
	trap - PIPE
	proc_start_v "$BASHPID"
	printf 'pid %s\npstart %s\n' "$BASHPID" "$R_START" >&9 2>/dev/null
	KEEP_FD=9
	# (the own chain's last link, chroot-rs --preserve-fds=0, closes every descriptor above 2
	# first, before it changes the root, and nothing of the container runs before it; runc-rs's
	# init marks every one above 2 close-on-exec before the program, as runc's: the shell's own
	# walk of /proc/self/fd, 0.3 ms, is left to them; another runtime's chain keeps it)
	case ${META[runtime]:-} in "" | runc-rs | */runc-rs) FDS_CLOSED_BY_CHAIN=1 ;; esac
	with_env "${CHAIN[@]}"
}

# container_env IMAGE HOSTNAME TTY USER: the container's environment into CENV, as docker
# makes it: the image's Env (with the default PATH when it has none), HOSTNAME, TERM=xterm
# with -t, the --env-file and -e values of cmd_run (the array envs, in order), and HOME from
# the user's passwd entry in the image (else /).  R_USERSPEC is USER for chroot-rs --run-as
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
		--rm) autoremove=1 ;;
		-d | --detach) detach=1 ;;
		-i | --interactive) interactive=1 ;;
		-t | --tty) tty=1 ;;
		--name | --net | --network | -e | --env | -v | --volume | -p | --publish | --runtime)
			if [ $hasval = 0 ]; then
				[ $# -ge 2 ] || die "run: option '$opt' needs a value"
				val=$2
				shift
			fi
			case $opt in
			--name) name=$val ;;
			--net | --network) net=$val ;;
			--runtime) runtime=$val ;;
			-e | --env) envs+=("e$val") ;;
			-v | --volume) volume_spec "$val" && vols+=("$R_VOLUME") ;;
			*) ports+=("$val") ;;
			esac
			;;
		--security-opt)
			# (seccomp=unconfined here: the filter's cost is measured without reading
			# runmore.sh; any other value is run_opt's)
			[ $hasval = 1 ] || val=${2:-}
			if [[ $val != seccomp[=:]unconfined ]]; then
				run_opt "$@"
				shift "$R_SHIFT"
				continue
			fi
			seccomp=unconfined
			[ $hasval = 1 ] || shift
			;;
		--) shift && break ;;
		# the others: run_opt (runmore.sh), which takes R_SHIFT words
		-*)
			run_opt "$@"
			shift "$R_SHIFT"
			continue
			;;
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
	# --runtime (or CONTAIN_RUNTIME, the default runtime as dockerd's --default-runtime),
	# runc-rs by default: the bundle's runtime runs what OCI says (--chroot, --init and -t
	# too: see runtime.sh); `contain` names contain's own chain of the tools (no bundle)
	[ -n "$runtime" ] || runtime=${CONTAIN_RUNTIME:-runc-rs}
	if [ "$runtime" = contain ]; then
		runtime=
	else
		use runtime
		rt_resolve "$runtime" || die "$R_ERR"
	fi
	shift
	# the default network: docker's bridge as root (net.sh), lo alone for a user
	[ "$net" = none ] || run_net_opt
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
	[ $privileged = 1 ] && [ ${#devices[@]} -gt 0 ] && run_privileged_devices
	if [ ${#limits[@]} -gt 0 ] && ! use_cgroups; then
		warn "not root: cgroup limits skipped (${limits[*]})"
		limits=()
	fi
	local cid c
	# 256 bits from the kernel's random source (getrandom(2) behind bash's SRANDOM)
	# (or the one the client chose, when it forked this monitor first: see run_client)
	cid=${RUN_CID:-}
	[ -n "$cid" ] || printf -v cid '%08x%08x%08x%08x%08x%08x%08x%08x' "$SRANDOM" "$SRANDOM" \
		"$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM"
	c="$ROOT/containers/$cid"
	# Before anything is made: a bad -e, --env-file or -u leaves nothing behind.
	container_env "$image" "${hostname:-${cid:0:12}}" "$tty" "$user" || die "$R_ERR"
	# A missing -v source directory is made, as docker makes it.
	[ ${#vols[@]} -eq 0 ] || run_volume_sources
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
	# -P, and a network's configuration and ports
	if [ $puball = 1 ] || { [ "$net" != none ] && [ "$net" != host ]; }; then run_net_made; fi
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
	ev_container create "$cid"
	[ -z "$cidfile" ] || run_cidfile
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

monitor_autoremove() {
	local autoremove=${META[autoremove]:-}
	[ "$META_CID" = "$1" ] || cread autoremove "$1" autoremove
	[ "$autoremove" = 1 ] && [ -d "$ROOT/containers/$1" ] && remove_container "$1"
	return 0
}

# run_attached CID: the client of a foreground run (and of start -a): the monitor is a process
# of its own, which the client only attaches to: its streams, its exit status, and the
# signals the client gets, sent on to the container (client_wait, in the front script).
# Without -t the monitor is in a process group of its own, so that the terminal's ^C reaches
# the container once, through the client; with -t the terminal is raw and sends no signal,
# and the console relay (in the chain) must be in the terminal's foreground group.  In a
# monitor that the client forked already (run_client: RUN_CID is this container's id) the
# container is run in place.
SIG_PROXY=1
run_attached() {
	if [ "${RUN_CID:-}" = "$1" ]; then
		run_fg "$1"
	fi
	[ "$META_CID" = "$1" ] || meta_load "$1"
	client_run "$1" "${META[tty]}" "${META[interactive]}" run_fg "$1"
}
# run_fg CID: the monitor of an attached run: the container run, removed after with --rm, and
# the monitor's end with its status.
run_fg() {
	local rc
	run_chain "$1" fg
	rc=$?
	monitor_autoremove "$1"
	exit "$rc"
}

# The functions of runmore.sh, a stub each (as common.sh's of store.sh): the first call reads
# the file and calls the function it defines.
run_opt() { use runmore && run_opt "$@"; }
net_default_mode() { use runmore && net_default_mode "$@"; }
env_arg() { use runmore && env_arg "$@"; }
env_file() { use runmore && env_file "$@"; }
cap_name() { use runmore && cap_name "$@"; }
volume_spec() { use runmore && volume_spec "$@"; }
device_spec() { use runmore && device_spec "$@"; }
devrule_spec() { use runmore && devrule_spec "$@"; }
security_opt() { use runmore && security_opt "$@"; }
signal_name() { use runmore && signal_name "$@"; }
cpus_range() { use runmore && cpus_range "$@"; }
run_end() { use runmore && run_end "$@"; }
oom_killed() { use runmore && oom_killed "$@"; }
monitor() { use runmore && monitor "$@"; }
sig_proxy() { use runmore && sig_proxy "$@"; }
start_detached() { use runmore && start_detached "$@"; }
run_net_opt() { use runmore && run_net_opt "$@"; }
run_privileged_devices() { use runmore && run_privileged_devices "$@"; }
run_volume_sources() { use runmore && run_volume_sources "$@"; }
run_net_made() { use runmore && run_net_made "$@"; }
run_cidfile() { use runmore && run_cidfile "$@"; }
chain_tmpfs_ulimit() { use runmore && chain_tmpfs_ulimit "$@"; }
run_streams() { use runmore && run_streams "$@"; }
run_net_up() { use runmore && run_net_up "$@"; }
restart_wait() { use runmore && restart_wait "$@"; }
log_writer() { use runmore && log_writer "$@"; }
