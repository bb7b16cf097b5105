# shellcheck shell=bash
# contain's runtimemore.sh: the part of runtime.sh that a plain start of a runtime container
# never runs (exec and its user lookup in the running container, a user looked up in the
# layers, --device, --init, Docker's seccomp profile converted for a capability set, limits as
# linux.resources, a capability set other than Docker's default).  Read
# by runtime.sh's stubs on their first call (rt_more); never run alone.

# rt_device_files FILE: an allow rule for each --device node of FILE (HOST:CTR:ACCESS lines),
# appended to rt_device_rules's r.
rt_device_files() {
	local d st t maj min acc
	while IFS= read -r d; do
		st=$(stat -L -c '%F|%t|%T' -- "${d%%:*}" 2>/dev/null) || continue
		IFS='|' read -r t maj min <<<"$st"
		[[ $t == block* ]] && t=b || t=c
		acc=${d##*:}
		[[ $acc =~ ^[rwm]+$ ]] || acc=rwm
		rt_rule "$t" "$((16#$maj))" "$((16#$min))" "$acc"
	done <"$1"
}

# rt_linux_devices CID: linux.devices, the nodes --device makes in the container, into R_LDEV
# (rt_config calls it when the container has some).
rt_linux_devices() {
	local c=$ROOT/containers/$1 d st t host ctr r=""
	R_LDEV="[]"
	while IFS= read -r d; do
		host=${d%%:*} ctr=${d#*:}
		ctr=${ctr%%:*}
		[ -n "$ctr" ] && [[ $ctr == /* ]] || ctr=$host
		st=$(stat -L -c '%F|%t|%T|%f|%u|%g' -- "$host" 2>/dev/null) || continue
		local maj min mode uid gid
		IFS='|' read -r t maj min mode uid gid <<<"$st"
		[[ $t == block* ]] && t=b || t=c
		json_esc "$ctr"
		r+="${r:+,}{\"path\":\"$R_JSON\",\"type\":\"$t\",\"major\":$((16#$maj)),\"minor\":$((16#$min)),\"fileMode\":$((16#$mode & 07777)),\"uid\":$uid,\"gid\":$gid}"
	done <"$c/devices"
	R_LDEV="[$r]"
}

# rt_union_file PATH: the file at PATH in the container's root (RT_LAYERS) into R_FILE, its
# symbolic links resolved inside that root as the container would see them (cp.sh's
# root_walk over rt_look: an absolute one from its root, .. stopping there); status 1 when
# there is none.
rt_union_file() {
	use cp
	root_walk "$1" 1 rt_look || return 1
	[ "$R_KIND" = file ] || return 1
	R_FILE=$R_AT
}

# rt_live_file PID PATH: the file at PATH in the running container whose process is PID,
# opened on fd R_FD through /proc/PID/root, each symbolic link on the way resolved inside
# that root (cp's cp_resolve).  The file opened must lie on a mount of the container's root
# (/proc/PID/mountinfo): a link swapped on the way by the container cannot make contain read
# a file of the host's.  Status 1 when there is none, 2 (R_ERR) when the check fails.
# (Run in rt_live_user's subshell, which the container's devices group confines.)
rt_live_file() {
	local pid=$1 path=$2 mnt="" l
	cp_resolve "/proc/$pid/root" "$path" 1 || return 1
	[ -f "$R_PATH" ] || return 1
	exec {R_FD}<"$R_PATH" || return 1
	while IFS= read -r l; do
		[[ $l == mnt_id:* ]] && mnt=${l#mnt_id:} && mnt=${mnt//[[:space:]]/}
	done <"/proc/self/fdinfo/$R_FD"
	while IFS=' ' read -r l _; do
		[ "$l" = "$mnt" ] && [ -f "/dev/fd/$R_FD" ] && return 0
	done <"/proc/$pid/mountinfo"
	R_ERR="cannot read the container's $path: it changed while being opened"
	return 2
}

# rt_live_user PID USER GROUP: rt_user_in with the running container's own files (PID its
# process), on stdout: the uid, the gid, HOME and the supplementary groups, a line each; or
# the error, status 1.  A subshell that first joins the container's devices group: a node
# the container swaps in for its passwd file on the way opens no device of the host's (the
# own chain's lookup runs in the container's groups too).
rt_live_user() (
	local pid=$1 l pw="" grp="" r=0
	while IFS=: read -r _ l r; do
		[[ ,$l, == *,devices,* ]] && echo "$BASHPID" >"/sys/fs/cgroup/devices$r/cgroup.procs"
		[ -z "$l" ] && [ -e /sys/fs/cgroup/cgroup.controllers ] &&
			echo "$BASHPID" >"/sys/fs/cgroup$r/cgroup.procs"
	done <"/proc/$pid/cgroup" 2>/dev/null
	use cp
	r=0
	rt_live_file "$pid" /etc/passwd || r=$?
	[ $r = 2 ] && echo "$R_ERR" && exit 1
	[ $r = 0 ] && pw=/dev/fd/$R_FD
	r=0
	rt_live_file "$pid" /etc/group || r=$?
	[ $r = 2 ] && echo "$R_ERR" && exit 1
	[ $r = 0 ] && grp=/dev/fd/$R_FD
	rt_user_in "$2" "$3" "$pw" "$grp" || {
		echo "$R_ERR"
		exit 1
	}
	printf '%s\n' "$R_UID" "$R_GID" "$PW_HOME" "${R_GIDS[*]}"
)

# rt_user_named CID [PID]: process.user from the container's user, its names looked up in the
# container's own passwd and group files as contain's own chain does (the rules of runc's
# GetExecUser, unshare-rs's --userspec): those of its root as the union will show it
# (before it starts), or of the running container whose process is PID (exec), links
# resolved inside that root.  Into R_USER (JSON), R_UID, R_GID, R_GIDS (the supplementary
# groups: every group naming the user, when no group is given) and PW_HOME.
rt_user_named() {
	local spec=${META[user]:-} u g pw="" grp=""
	local -a l
	u=${spec%%:*} g=
	[[ $spec == *:* ]] && g=${spec#*:}
	R_GIDS=()
	PW_UID=0 PW_GID=0 PW_HOME=/
	if [ -z "$spec" ]; then
		R_UID=0 R_GID=0 R_USER='{"uid":0,"gid":0}'
		return 0
	elif [ -n "${2:-}" ]; then
		mapfile -t l < <(rt_live_user "$2" "$u" "$g"; echo "$?")
		if [ "${l[-1]}" != 0 ] || [ ${#l[@]} -ne 5 ]; then
			R_ERR=${l[0]:-cannot look up user $u in the container}
			return 1
		fi
		R_UID=${l[0]} R_GID=${l[1]} PW_HOME=${l[2]}
		read -ra R_GIDS <<<"${l[3]}"
		rt_user_json
		return 0
	fi
	rt_layers "$1"
	rt_union_file /etc/passwd && pw=$R_FILE
	rt_union_file /etc/group && grp=$R_FILE
	rt_user_in "$u" "$g" "$pw" "$grp"
}

# rt_user_in USER GROUP PASSWD GROUPFILE: rt_user's lookup in the files given ("": none).
rt_user_in() {
	local u=$1 g=$2 pw=$3 grp=$4 name="" n x id rest m
	if [ -n "$u" ]; then
		if passwd_find "$pw" "$u"; then
			while IFS=: read -r n x id rest; do
				[ "$n" = "$u" ] || [ "$id" = "$u" ] && name=$n && break
			done <"$pw"
		elif [[ $u =~ ^[0-9]+$ ]]; then
			PW_UID=$u PW_GID=0
		else
			R_ERR="unable to find user $u: no matching entries in passwd file"
			return 1
		fi
	fi
	R_GID=$PW_GID
	if [ -n "$g" ]; then
		local found=
		if [ -n "$grp" ]; then
			while IFS=: read -r n x id rest; do
				[ "$n" = "$g" ] || [ "$id" = "$g" ] && found=$id && break
			done <"$grp"
		fi
		if [ -n "$found" ]; then
			R_GID=$found
		elif [[ $g =~ ^[0-9]+$ ]]; then
			R_GID=$g
		else
			R_ERR="unable to find group $g: no matching entries in group file"
			return 1
		fi
	elif [ -n "$name" ] && [ -n "$grp" ]; then
		while IFS=: read -r n x id m; do
			[[ ,$m, == *",$name,"* ]] && [[ $id =~ ^[0-9]+$ ]] && R_GIDS+=("$id")
		done <"$grp"
	fi
	R_UID=$PW_UID
	rt_user_json
}
# rt_user_json: R_UID, R_GID and R_GIDS as process.user into R_USER.
rt_user_json() {
	local gids=""
	[ ${#R_GIDS[@]} -gt 0 ] && printf -v gids ',%s' "${R_GIDS[@]}" && gids=",\"additionalGids\":[${gids#,}]"
	R_USER="{\"uid\":$R_UID,\"gid\":$R_GID$gids}"
}

# rt_seccomp CAPS: Docker's default profile (contain's own) as OCI's linux.seccomp for this
# machine's architecture and the final capability set (CAP_* words), into R_SECCOMP.
rt_seccomp() {
	local prof=$1 caps=$2
	R_SECCOMP=$(jq -c --arg caps "$caps" '
		($caps | split(" ") | map(select(. != ""))) as $c
		| def ok: ((.includes.arches // ["amd64"]) | index("amd64")) != null
			and ((.includes.caps // []) - $c | length) == 0
			and ((.excludes.arches // []) | index("amd64")) == null
			and ((.excludes.caps // []) | map(select(. as $x | $c | index($x))) | length) == 0;
		{defaultAction, defaultErrnoRet,
		 architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		 syscalls: [.syscalls[] | select(ok)
			| {names, action} + (if .args then {args} else {} end)
				+ (if .errnoRet then {errnoRet} else {} end)]}
		| if .defaultErrnoRet == null then del(.defaultErrnoRet) else . end' "$prof")
}

# rt_init: the init of --init (runc-rs's `-- PROGRAM` reaper, whichever the runtime) into
# R_INITBIN: a copy of runc-rs in the runtimes' directory, so that no container is handed a
# file of the host's tools (a --privileged one could remount it writable).
rt_init() {
	local src
	R_INITBIN=$RT_ROOT/init
	hash runc-rs 2>/dev/null && src=${BASH_CMDS[runc-rs]} || {
		R_ERR="--init with --runtime needs runc-rs (its reaper is the container's init): not found in PATH"
		return 1
	}
	[ -x "$R_INITBIN" ] && ! [ "$src" -nt "$R_INITBIN" ] && return 0
	mkdir -p -- "$RT_ROOT" && cp -- "$src" "$R_INITBIN.$$" && chmod 0555 -- "$R_INITBIN.$$" &&
		mv -f -- "$R_INITBIN.$$" "$R_INITBIN" && return 0
	rm -f -- "$R_INITBIN.$$"
	R_ERR="cannot copy runc-rs to $R_INITBIN"
	return 1
}

# rt_exec CID USER WORKDIR TTY DETACH CMD...: the runtime's exec of CMD in the container into
# R_EXEC (the environment is exec's: CENV, each variable given).
rt_exec() {
	local cid=$1 user=$2 wd=$3 tty=$4 detach=$5 e
	shift 5
	rt_resolve "${META[runtime]}" || die "$R_ERR"
	META[user]=$user
	# the names of the running container's own files (its process: the runtime's record)
	cinit_v "$cid"
	[ -n "$R_INIT" ] || die "exec: container ${cid:0:12} has no init process"
	rt_user "$cid" "$R_INIT" || die "$R_ERR"
	# the user's HOME (from the image's passwd) unless the environment has one (exec's -e)
	local home=1
	for e in "${CENV[@]}"; do [[ $e == HOME=* ]] && home=0; done
	[ $home = 1 ] && [ -n "$user" ] && CENV+=("HOME=${PW_HOME:-/}")
	R_EXEC=("$R_RT" --root "$RT_ROOT" exec --cwd "$wd" --user "$R_UID:$R_GID")
	for e in "${R_GIDS[@]}"; do R_EXEC+=(--additional-gids "$e"); done
	for e in "${CENV[@]}"; do R_EXEC+=(--env "$e"); done
	[ "$tty" = 1 ] && [ "$detach" = 0 ] && R_EXEC+=(--tty)
	R_EXEC+=("$cid" "$@")
}

# rt_limits CID: linux.resources's limits (JSON members after "devices") from the container's
# limits file (cgset's flags as contain stores them) into R_LIM.
rt_limits() {
	local c=$1 i mem="" cpu="" pids="" blk="" wd rd dev f v k
	local -a l=()
	local -A thr=()
	read_nul l "$ROOT/containers/$c/limits"
	for ((i = 0; i < ${#l[@]}; i++)); do
		f=${l[i]} v=${l[i + 1]:-}
		case $f in
		--memory | --memory-swap | --memory-reservation | --kernel-memory)
			size_bytes "$v" || continue
			case $f in
			--memory) mem+=",\"limit\":$R_BYTES" ;;
			--memory-swap) mem+=",\"swap\":$R_BYTES" ;;
			--memory-reservation) mem+=",\"reservation\":$R_BYTES" ;;
			--kernel-memory) mem+=",\"kernel\":$R_BYTES" ;;
			esac
			((i++))
			;;
		--memory-swappiness) mem+=",\"swappiness\":$v" && ((i++)) ;;
		--oom-kill-disable) mem+=",\"disableOOMKiller\":true" ;;
		--cpu-shares) cpu+=",\"shares\":$v" && ((i++)) ;;
		--cpu-period) cpu+=",\"period\":$v" && ((i++)) ;;
		--cpu-quota) cpu+=",\"quota\":$v" && ((i++)) ;;
		--cpus)
			# docker's NanoCpus as a quota over a 100 ms period
			local int=${v%%.*} frac=
			[[ $v == *.* ]] && frac=${v#*.}
			frac=${frac}00000
			cpu+=",\"period\":100000,\"quota\":$((10#${int:-0} * 100000 + 10#${frac:0:5}))"
			((i++))
			;;
		--cpuset-cpus) cpu+=",\"cpus\":\"$v\"" && ((i++)) ;;
		--cpuset-mems) cpu+=",\"mems\":\"$v\"" && ((i++)) ;;
		--pids-limit) pids="{\"limit\":$v}" && ((i++)) ;;
		--blkio-weight) blk+=",\"weight\":$v" && ((i++)) ;;
		--device-read-bps | --device-write-bps | --device-read-iops | --device-write-iops)
			# PATH:RATE, the node's numbers from the host
			((i++))
			dev=${v%:*} rd=${v##*:}
			if [[ $f == *bps ]]; then size_bytes "$rd" && rd=$R_BYTES; fi
			wd=$(stat -L -c '%t|%T' -- "$dev" 2>/dev/null) || continue
			case $f in
			--device-read-bps) k=throttleReadBpsDevice ;;
			--device-write-bps) k=throttleWriteBpsDevice ;;
			--device-read-iops) k=throttleReadIOPSDevice ;;
			*) k=throttleWriteIOPSDevice ;;
			esac
			thr[$k]+="${thr[$k]:+,}{\"major\":$((16#${wd%|*})),\"minor\":$((16#${wd#*|})),\"rate\":$rd}"
			;;
		esac
	done
	for k in "${!thr[@]}"; do blk+=",\"$k\":[${thr[$k]}]"; done
	R_LIM=
	[ -n "$mem" ] && R_LIM+=",\"memory\":{${mem#,}}"
	[ -n "$cpu" ] && R_LIM+=",\"cpu\":{${cpu#,}}"
	[ -n "$pids" ] && R_LIM+=",\"pids\":$pids"
	[ -n "$blk" ] && R_LIM+=",\"blockIO\":{${blk#,}}"
	return 0
}

# The capabilities' numbers by name (the kernel's, CAP_NAMES's order), so that the bundle's set
# is worked out from the few capabilities it has rather than from every one there is.
declare -gA RT_CAPBIT=(
	[chown]=0 [dac_override]=1 [dac_read_search]=2 [fowner]=3 [fsetid]=4 [kill]=5 [setgid]=6
	[setuid]=7 [setpcap]=8 [linux_immutable]=9 [net_bind_service]=10 [net_broadcast]=11
	[net_admin]=12 [net_raw]=13 [ipc_lock]=14 [ipc_owner]=15 [sys_module]=16 [sys_rawio]=17
	[sys_chroot]=18 [sys_ptrace]=19 [sys_pacct]=20 [sys_admin]=21 [sys_boot]=22 [sys_nice]=23
	[sys_resource]=24 [sys_time]=25 [sys_tty_config]=26 [mknod]=27 [lease]=28 [audit_write]=29
	[audit_control]=30 [setfcap]=31 [mac_override]=32 [mac_admin]=33 [syslog]=34 [wake_alarm]=35
	[block_suspend]=36 [audit_read]=37 [perfmon]=38 [bpf]=39 [checkpoint_restore]=40
)

# rt_caps_of BOUNDING: rt_caps's work for any set (BOUNDING: our bounding set's bits).
rt_caps_of() {
	local w k b set=" " bnd=$1
	if [ "${META[privileged]:-0}" = 1 ]; then
		rt_all_caps && set=$R_ALL
	else
		for w in $DOCKER_CAPS; do set+="CAP_${w^^} "; done
	fi
	# Docker's order: --cap-add ALL is every capability but the dropped ones; --cap-drop ALL
	# keeps the added ones alone; else the drops, then the adds
	caps_split
	local adds=" ${CAP_ADDS[*],,} " drops=" ${CAP_DROPS[*],,} "
	if [[ $adds == *" all "* ]]; then
		rt_all_caps && set=$R_ALL
	elif [[ $drops == *" all "* ]]; then
		set=" "
	fi
	if ! [[ $drops == *" all "* ]] || [[ $adds == *" all "* ]]; then
		for w in "${CAP_DROPS[@]}"; do
			[ "${w,,}" = all ] || set=${set/ CAP_${w^^} / }
		done
	fi
	if ! [[ $adds == *" all "* ]]; then
		for w in "${CAP_ADDS[@]}"; do
			[[ $set == *" CAP_${w^^} "* ]] || set+="CAP_${w^^} "
		done
	fi
	R_CAPS=" " R_CAPJSON="" R_CAPMASK=0
	for w in $set; do
		k=${w#CAP_}
		b=${RT_CAPBIT[${k,,}]:-}
		[ -n "$b" ] && (((bnd >> b) & 1)) && R_CAPS+="$w " && R_CAPJSON+=",\"$w\"" && R_CAPMASK=$((R_CAPMASK | 1 << b))
	done
	R_CAPJSON="[${R_CAPJSON#,}]"
}
# rt_all_caps: every capability (CAP_* words, in the kernel's order) into R_ALL.
rt_all_caps() {
	local w
	R_ALL=" "
	for w in $CAP_NAMES; do [ "$w" = all ] || R_ALL+="CAP_${w^^} "; done
}

# rt_walk PATH: the components of PATH (absolute; "", . and .. skipped) looked at in the union
# of RT_LAYERS as overlayfs merges them, while they are directories: a lower layer counts
# beneath a directory only while it has a directory there too (a whiteout, a file or a link
# hides the rest).  No link of a layer is ever followed: each component is looked at in the
# layers that hold its parent as a real directory.  Into R_KIND (dir when every component is
# one, else what the first other one is: file, link or none), R_AT (its topmost layer's
# entry), R_STOP (the path up to it) and R_LEFT (what follows it).
rt_walk() {
	local rest=$1 q="" c d k at
	local -a live=("${RT_LAYERS[@]}") next
	R_KIND=dir R_AT= R_STOP= R_LEFT=
	while :; do
		while [[ $rest == /* ]]; do rest=${rest#/}; done
		[ -n "$rest" ] || return 0
		c=${rest%%/*}
		rest=${rest:${#c}}
		case $c in . | ..) continue ;; esac
		q+=/$c
		next=() k=none at=
		for d in "${live[@]}"; do
			if [ -L "$d$q" ]; then
				[ $k = none ] && k=link at=$d$q
				break
			elif [ -d "$d$q" ]; then
				[ $k = none ] && k=dir at=$d$q
				next+=("$d")
			elif [ -e "$d$q" ]; then
				# (a whiteout, overlayfs's character device, hides it)
				[ $k = none ] && ! [ -c "$d$q" ] && k=file at=$d$q
				break
			fi
		done
		R_KIND=$k R_AT=$at
		[ $k = dir ] || {
			while [[ $rest == /* ]]; do rest=${rest#/}; done
			R_STOP=$q R_LEFT=$rest
			return 0
		}
		live=("${next[@]}")
	done
}

# rt_look PATH: what the union of RT_LAYERS has at PATH (absolute, no . or .., every
# component but the last a directory of it) into R_KIND (dir, file, link or none) and R_AT
# (the topmost layer's entry), as rt_walk finds it.
rt_look() {
	rt_walk "$1"
	[ -z "$R_LEFT" ] || R_KIND=none
}

# rt_fails: a chain that ends as the own chain's does when its tools refuse the container
# (status 125, R_ERR on its error output): the run is recorded as any other end.
rt_fails() {
	CHAIN=("$BASH" -c 'printf "contain: %s\n" "$1" >&2; exit 125' contain "$R_ERR")
}

# rt_kill CID SIG RUNTIME: the signal to the container's process, through its runtime.
rt_kill() {
	rt_resolve "$3" || return 1
	"$R_RT" --root "$RT_ROOT" kill "$1" "$2" >/dev/null 2>&1
}

# rt_rule TYPE MAJOR MINOR ACCESS: an allow rule appended to rt_device_rules's r ('*': any)
rt_rule() {
	r+=",{\"allow\":true,\"type\":\"$1\""
	[ "$2" = '*' ] || r+=",\"major\":$2"
	[ "$3" = '*' ] || r+=",\"minor\":$3"
	r+=",\"access\":\"$4\"}"
}

# rt_meta_lists C: the --tmpfs and --shm-size (DEST:OPTIONS) and --ulimit (NAME=SOFT:HARD)
# lines of C's meta into RT_TMPFS and RT_ULIMITS, and /dev/shm's options into RT_SHM.
rt_meta_lists() {
	local v
	local -a to
	while IFS= read -r v; do
		case $v in
		"tmpfs "*) RT_TMPFS+=("${v#tmpfs }") ;;
		"ulimit "*) RT_ULIMITS+=("${v#ulimit }") ;;
		esac
	done <"$1/meta"
	for v in "${RT_TMPFS[@]}"; do
		[ "${v%%:*}" = /dev/shm ] || continue
		IFS=, read -ra to <<<"${v#*:}"
		rt_a "${to[@]}" && RT_SHM=$R_A
	done
}

# rt_more_mounts: the volumes (VOLUMES) and --tmpfs mounts (RT_TMPFS, but /dev/shm) appended
# to rt_config's mounts.
rt_more_mounts() {
	local v src rest dst o
	local -a to
	for v in "${VOLUMES[@]}"; do
		src=${v%%:*} rest=${v#*:}
		o='"rbind","rprivate"'
		# a named volume (a name, not a path): its directory in the store
		[[ $src == /* ]] || src=$ROOT/volumes/$src/_data
		[[ $v == *:ro ]] && o+=',"ro"'
		rt_q "${rest%:*}" && dst=$R_Q
		rt_q "$src"
		mounts+=",{\"destination\":$dst,\"type\":\"bind\",\"source\":$R_Q,\"options\":[$o]}"
	done
	for v in "${RT_TMPFS[@]}"; do
		[ "${v%%:*}" = /dev/shm ] && continue
		rt_q "${v%%:*}"
		IFS=, read -ra to <<<"${v#*:}"
		rt_a "${to[@]}"
		mounts+=",{\"destination\":$R_Q,\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":$R_A}"
	done
}

# rt_init_mount: --init's /dev/init mount appended to rt_config's mounts, and the program's
# arguments behind it into R_A.
rt_init_mount() {
	rt_init || return 1
	rt_q "$R_INITBIN"
	mounts+=",{\"destination\":\"/dev/init\",\"type\":\"bind\",\"source\":$R_Q,\"options\":[\"bind\",\"ro\",\"nosuid\",\"nodev\"]}"
	rt_a /dev/init -- "${CMD[@]}"
}

# rt_rlimits: process.rlimits from RT_ULIMITS into R_RL (unlimited: RLIM_INFINITY).
rt_rlimits() {
	local v sv hv n
	R_RL=
	for v in "${RT_ULIMITS[@]}"; do
		n=${v%%=*} sv=${v#*=} && hv=${sv#*:} && sv=${sv%%:*}
		[ "$sv" = unlimited ] && sv=18446744073709551615
		[ "$hv" = unlimited ] && hv=18446744073709551615
		R_RL+=",{\"type\":\"RLIMIT_${n^^}\",\"soft\":$sv,\"hard\":$hv}"
	done
	R_RL="\"rlimits\":[${R_RL#,}],"
}

# rt_layers CID: the container's root as the union will show it, top first, into RT_LAYERS:
# its own layer, then the image's.
rt_layers() {
	local h
	local -a ls
	RT_LAYERS=("$ROOT/containers/$1/upper")
	mapfile -t ls <"$ROOT/images/${META[image]}/layers"
	for ((h = ${#ls[@]} - 1; h >= 0; h--)); do RT_LAYERS+=("$ROOT/layers/${ls[h]}/fs"); done
}

# rt_no_links_all CID CACHE KEY PATHS...: rt_no_links's look in every layer of the container
# (rt_links_in), and the image's layers alone then, whose PATHS found free of links are kept
# in CACHE (the key KEY: PATHS, a line each).
rt_no_links_all() {
	local cid=$1 cache=$2 key=$3
	shift 3
	rt_layers "$cid"
	rt_links_in "$@" || return 1
	# (the image's layers alone, for the file: the container's own may hide one of theirs)
	local -a all=("${RT_LAYERS[@]}")
	RT_LAYERS=("${all[@]:1}")
	rt_links_in "$@" && { printf '%s' "$key" >"$cache"; } 2>/dev/null
	RT_LAYERS=("${all[@]}")
	return 0
}
# rt_links_in PATHS...: rt_no_links's look in the union of RT_LAYERS.
rt_links_in() {
	local p d
	for p in "$@"; do
		# (one component, as /proc, /dev and /sys: the topmost layer's entry tells)
		if [[ $p == /+([!/]) && $p != /. && $p != /.. ]]; then
			for d in "${RT_LAYERS[@]}"; do
				[ -L "$d$p" ] && R_STOP=$p && break
				[ -e "$d$p" ] && continue 2
			done
			[ -L "$d$p" ] || continue
		else
			rt_walk "$p"
			[ "$R_KIND" = link ] || continue
		fi
		R_ERR="refusing to use '$R_STOP': it is a symbolic link inside the container's root"
		return 1
	done
	return 0
}
