# shellcheck shell=bash
# contain's runmore.sh: the parts of run and create that a plain `contain run --rm` does not
# reach: the less common options (run_opt) and the checks of their values, the default
# network's choice, the end record of a container that is kept, the detached start and its
# monitor, the signal proxy.  run.sh declares a stub of each function here that reads this
# file on its first call.
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

cap_name() {
	local c=${1,,}
	c=${c#cap_}
	[[ $CAP_NAMES == *[[:space:]]"$c"[[:space:]]* ]] || die "unknown capability: \"$1\""
	R_CAP=$c
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

# The detached monitor (`contain __monitor CID`, in a session of its own), its output to
# the log.
monitor() {
	local cid=$1 rc
	run_chain "$cid" bg
	rc=$?
	monitor_autoremove "$cid"
	exit "$rc"
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

LIMIT_VALUE_FLAGS=" --cpu-shares --cpus --cpu-period --cpu-quota --cpuset-cpus --cpuset-mems
 --memory --memory-swap --memory-swappiness --memory-reservation --kernel-memory
 --device-read-bps --device-write-bps --device-read-iops --device-write-iops --blkio-weight
 --pids-limit "

# run_opt ARGS...: cmd_run's option $opt (with $val and $hasval, split from an --OPT=VALUE)
# other than the most common ones, the value taken from ARGS' second word when it needs one;
# into cmd_run's variables (bash's dynamic scope: they are its locals), and R_SHIFT = the
# number of words it took.
run_opt() {
	R_SHIFT=1
	case $opt in
	--create-only) createonly=1 ;;
	--help) use output && usage && exit 0 ;;
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
	-h | -c | -m | -u | -w | -l | --*)
		if [ $hasval = 0 ]; then
			[ $# -ge 2 ] || die "run: option '$opt' needs a value"
			val=$2
			R_SHIFT=2
		fi
		case $opt in
		--hostname | -h) hostname=$val ;;
		-u | --user) user=$val setuser=1 ;;
		-w | --workdir) workdir=$val setworkdir=1 ;;
		-l | --label) labels+=("$val") ;;
		-c) limits+=(--cpu-shares "$val") ;;
		-m) limits+=(--memory "$val") ;;
		--cidfile) cidfile=$val ;;
		--domainname)
			[[ $val =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "invalid domain name: \"$val\""
			domainname=$val
			;;
		--add-host) [[ $val =~ ^[^:]+:[0-9a-fA-F.:]+$ ]] || die "invalid argument \"$val\" for \"--add-host\" flag: bad format for add-host: \"$val\"" && addhosts+=("$val") ;;
		--dns) dns+=("$val") ;;
		--dns-search) dnssearch+=("$val") ;;
		--dns-option | --dns-opt) dnsopt+=("$val") ;;
		--env-file) envs+=("f$val") ;;
		--cap-add) cap_name "$val" && caps+=" +$R_CAP" ;;
		--cap-drop) cap_name "$val" && caps+=" -$R_CAP" ;;
		--device) device_spec "$val" && devices+=("$R_DEVICE") ;;
		--device-cgroup-rule) devrule_spec "$val" && devrules+=("$val") ;;
		--security-opt) security_opt "$val" ;;
		--stop-signal) signal_name "$val" && stopsignal=$R_SIGNAL ;;
		--mount)
			use volumes && mount_spec "$val"
			if [ -n "$R_TMPFS" ]; then tmpfss+=("$R_TMPFS"); else vols+=("$R_VOLUME"); fi
			;;
		--tmpfs) use volumes && tmpfs_spec "$val" && tmpfss+=("$R_TMPFS") ;;
		--shm-size) use volumes && shm_spec "$val" && tmpfss+=("$R_TMPFS") ;;
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
		*)
			# (the list spans lines: a newline separates words as a space does)
			[[ " ${LIMIT_VALUE_FLAGS//$'\n'/ } " == *" $opt "* ]] ||
				die "run: unknown option '$opt' (see 'contain --help')"
			[ "$opt" = --cpus ] && cpus_range "$val"
			limits+=("$opt" "$val")
			;;
		esac
		;;
	*) die "run: unknown option '$opt' (see 'contain --help')" ;;
	esac
	return 0
}

# run_net_opt: cmd_run's --network (none apart), -p and the default network checked.
run_net_opt() {
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
	return 0
}

# run_privileged_devices: cmd_run's --device with --privileged, whose nodes are the host's.
run_privileged_devices() {
	local d
	for d in "${devices[@]}"; do
		d=${d%:*}
		[ "${d%%:*}" = "${d#*:}" ] ||
			warn "--privileged binds the host's /dev: --device ${d%%:*} is at its own path, not ${d#*:}"
	done
	return 0
}

# run_volume_sources: cmd_run's -v sources made where they are missing (a named volume:
# volumes.sh).
run_volume_sources() {
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
	return 0
}

# run_net_made: cmd_run's -P and the network's configuration of the container it made
# ($image, $cid, $c).
run_net_made() {
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
	return 0
}

# run_cidfile: cmd_run's --cidfile written (made exclusively) with the id $cid.
run_cidfile() {
	local rc
	set -C
	{ echo "$cid" >"$cidfile"; } 2>/dev/null
	rc=$?
	set +C
	if [ $rc != 0 ]; then
		remove_container "$cid"
		die "Container ID file found, make sure the other container isn't running or delete $cidfile"
	fi
	return 0
}

# chain_tmpfs_ulimit: build_chain's links for --tmpfs, --shm-size and --ulimit (into CHAIN, and
# chroot-rs's binds into build_chain's cr; container $cid, its directory $c).
chain_tmpfs_ulimit() {
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
	return 0
}

# run_streams CID MODE: run_once's streams for the chain (its locals in, out, err, feeder and
# tees) for every run but a --rm one attached to plain streams without -t (see run_once).
run_streams() {
	local c="$ROOT/containers/$1" fg=$2 w
	if [ "$fg" != fg ]; then
		in=/dev/null
		if [ "${META[interactive]}" = 1 ] || [ "${META[tty]}" = 1 ]; then
			# -d -i (and -d -t, whose console stays open as under docker): the input is a pipe
			# fed from the container's stdin FIFO, which `contain attach` writes (with -i);
			# the feeder holds it open for writing too, so the end of an attach's input is not
			# the container's (docker's -d -i is not stdin-once)
			[ -p "$c/stdin" ] || mkfifo -m 600 -- "$c/stdin"
			exec {in}< <(exec cat <>"$c/stdin")
			feeder=$!
		fi
		exec {out}> >(log_writer stdout >>"$c/log")
		tees+=($!)
		exec {err}> >(log_writer stderr >>"$c/log")
		tees+=($!)
	else
		if [ "${META[autoremove]}" != 1 ]; then
			# (-t: the console relay's output, the pty's, is the one stream: stdout, as docker
			# logs it; the relay puts the terminal in raw mode through our input or error)
			exec {w}> >(log_writer stdout >>"$c/log")
			tees+=($!)
			exec {out}> >(exec tee -ip "/dev/fd/$w" 2>/dev/null)
			tees+=($!)
			exec {w}>&-
			if [ "${META[tty]}" != 1 ]; then
				exec {w}> >(log_writer stderr >>"$c/log")
				tees+=($!)
				exec {err}> >(exec tee -ip "/dev/fd/$w" >&2 2>/dev/null)
				tees+=($!)
				exec {w}>&-
			fi
		elif [ "${META[tty]}" != 1 ]; then
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
	fi
}

# run_net_up CID: run_chain's network for the container's run (net.sh); status 1, its end
# recorded, when it cannot be made.
run_net_up() {
	local c="$ROOT/containers/$1" nrc
	net_load
	tool_paths
	# (set -u off meanwhile: an unset variable in the network code must not end the
	# monitor, which would leave its run unrecorded)
	set +u
	net_up "$1"
	nrc=$?
	set -u
	if [ $nrc != 0 ]; then
		# (a detached container's monitor has no terminal: the log keeps the reason)
		echo "contain: $R_ERR" >&2
		(log_writer stderr <<<"contain: $R_ERR") >>"$c/log"
		run_end "$1" created "" "$R_ERR"
		return 1
	fi
	return 0
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

# restart_wait CID RC: after a run of run_chain's that ended with status RC: status 1 when
# the container is not to run again (restart_next), else the restart counted and its delay
# waited (run_chain's locals t0, the run's start, and backoff; its mstart).
restart_wait() {
	local c="$ROOT/containers/$1" d ds
	restart_next "$1" "$2" || return 1
	RESTARTS=$((RESTARTS + 1))
	put "$c/restartcount" "$RESTARTS
" || warn "$R_ERR"
	# docker's delay: 100 ms, doubled at every restart (at most a minute), back to 100 ms
	# after a run of 10 s or more; its state meanwhile is restarting, and the run file
	# says the delay (ms) until the next end
	((${EPOCHREALTIME/./} - t0 >= 10000000)) && backoff=0
	backoff=$((backoff + 1))
	d=$((100 << (backoff > 10 ? 10 : backoff - 1)))
	[ $d -gt 60000 ] && d=60000
	{ printf 'status restarting\nstarted %s\nmpid %s\nmstart %s\ndelay %s\n' "$EPOCHSECONDS" "$BASHPID" "$mstart" "$d" >"$c/run"; } 2>/dev/null
	printf -v ds '%d.%03d' $((d / 1000)) $((d % 1000))
	sleep "$ds"
	[ -e "$c/stopped" ] && return 1
	# a new run: the pid lines of the last one go
	{ printf 'status running\nstarted %s\nmpid %s\nmstart %s\ndelay %s\n' "$EPOCHSECONDS" "$BASHPID" "$mstart" "$d" >"$c/run"; } 2>/dev/null
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
