# shellcheck shell=bash
# contain's runtime.sh: a container run by an OCI runtime (`run --runtime NAME|PATH`: runc-rs,
# runc, crun), as podman hands its containers to one: the container's bundle (config.json
# written from its settings, the union mounted on its rootfs) and the runtime's commands.
# Read by the front script (contain) for the commands that need it; never run alone.

# The runtimes' state (their --root), one directory for all of them.
RT_ROOT=$ROOT/runtime

# What a plain start never runs (exec, a user to look up, --device, --init, a seccomp profile
# not yet worked out, limits, a capability set other than Docker's) is in runtimemore.sh,
# read only by a command that needs it: bash parses a file as it reads it, and every start of
# a runtime container would pay for code it never runs.  Each function there is a stub here: its first call reads that file (rt_more), which
# defines the function over the stub.
rt_more() {
	[ -z "${RT_MORE:-}" ] || return 1
	RT_MORE=1
	use runtimemore
}
rt_device_files() { rt_more && rt_device_files "$@"; }
rt_linux_devices() { rt_more && rt_linux_devices "$@"; }
rt_user_named() { rt_more && rt_user_named "$@"; }
rt_union_file() { rt_more && rt_union_file "$@"; }
rt_live_file() { rt_more && rt_live_file "$@"; }
rt_live_user() { rt_more && rt_live_user "$@"; }
rt_user_in() { rt_more && rt_user_in "$@"; }
rt_user_json() { rt_more && rt_user_json "$@"; }
rt_seccomp() { rt_more && rt_seccomp "$@"; }
rt_init() { rt_more && rt_init "$@"; }
rt_exec() { rt_more && rt_exec "$@"; }
rt_limits() { rt_more && rt_limits "$@"; }
rt_caps_of() { rt_more && rt_caps_of "$@"; }
rt_all_caps() { rt_more && rt_all_caps "$@"; }
rt_walk() { rt_more && rt_walk "$@"; }
rt_layers() { rt_more && rt_layers "$@"; }
rt_no_links_all() { rt_more && rt_no_links_all "$@"; }
rt_look() { rt_more && rt_look "$@"; }
rt_fails() { rt_more && rt_fails "$@"; }
rt_kill() { rt_more && rt_kill "$@"; }
rt_rule() { rt_more && rt_rule "$@"; }
rt_meta_lists() { rt_more && rt_meta_lists "$@"; }
rt_more_mounts() { rt_more && rt_more_mounts "$@"; }
rt_init_mount() { rt_more && rt_init_mount "$@"; }
rt_rlimits() { rt_more && rt_rlimits "$@"; }

# rt_resolve NAME|PATH: the runtime's program into R_RT; status 1 (R_ERR) when there is none.
rt_resolve() {
	R_RT=
	case $1 in
	/*) [ -x "$1" ] && R_RT=$1 ;;
	*) hash "$1" 2>/dev/null && R_RT=${BASH_CMDS[$1]} ;;
	esac
	[ -n "$R_RT" ] && return 0
	R_ERR="unknown or invalid runtime name: $1"
	[ "$1" = runc-rs ] && R_ERR+=" (make install puts it in /usr/local/sbin; --runtime contain runs contain's own chain of the tools)"
	return 1
}

# rt_resources CID: linux.resources (JSON) into R_RES: the device rules after Docker's default
# list, and the limits of the container's limits file (rt_limits) when it has some.
rt_resources() {
	R_LIM=
	if [ -s "$ROOT/containers/$1/limits" ]; then rt_limits "$1" || return 1; fi
	rt_device_rules "$1"
	R_RES="{\"devices\":$R_DEVRULES$R_LIM}"
}

# Docker's default device list: deny all, then mknod of any node, null, zero, full, random,
# urandom, tty, console, ptmx, the pts (136:*) and tun.
RT_DEVICES='{"allow":false,"access":"rwm"},{"allow":true,"type":"c","access":"m"},{"allow":true,"type":"b","access":"m"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":7,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"},{"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},{"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"},{"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"},{"allow":true,"type":"c","major":136,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":200,"access":"rwm"}'

# rt_device_rules CID: the devices cgroup as Docker's default container has it (deny all, then
# its list), the --device nodes and --device-cgroup-rule rules, into R_DEVRULES (a --privileged
# container gets every device).  No command substitution on this path: each would fork bash.
rt_device_rules() {
	local c=$ROOT/containers/$1 r="" d t mm acc
	if [ "${META[privileged]:-0}" = 1 ]; then
		R_DEVRULES='[{"allow":true,"access":"rwm"}]'
		return
	fi
	r=$RT_DEVICES
	for d in "${DEVRULES[@]}"; do
		read -r t mm acc <<<"$d"
		rt_rule "$t" "${mm%%:*}" "${mm#*:}" "${acc:-rwm}"
	done
	[ -s "$c/devices" ] && rt_device_files "$c/devices"
	R_DEVRULES="[$r]"
}

# rt_no_links CID PATHS...: status 1 (R_ERR) when a symbolic link lies on the way to one of
# PATHS (mount destinations) in the container's root, as contain's own chain refuses one
# (chroot-rs): a runtime would resolve it inside the root (runc's securejoin), the own chain
# starts nothing.  Checked in the layers before the runtime runs, so that every runtime
# gives the same answer.  An image's layers never change: PATHS found free of links in them
# are kept in the image's nolinks file, and the next container of the image with the same
# PATHS has only its own layer looked at (rt_upper_free); else every layer
# (rt_no_links_all, runtimemore.sh).
rt_no_links() {
	local key q="" cache=$ROOT/images/${META[image]}/nolinks cid=$1
	shift
	printf -v key '%s\n' "$@"
	[ -s "$cache" ] && IFS= read -r -d '' q <"$cache"
	[ "$q" = "$key" ] && rt_upper_free "$ROOT/containers/$cid/upper" "$@" && return 0
	rt_no_links_all "$cid" "$cache" "$key" "$@"
}
# rt_upper_free UPPER PATHS...: status 0 when no link lies on the way to PATHS in the
# container's own layer UPPER, the image's layers having none: a component it lacks, or
# holds as a file or a whiteout, ends the look (nothing of it lies deeper there).
rt_upper_free() {
	local p q c u=$1
	shift
	for p in "$@"; do
		q=
		while [[ $p == */* ]]; do
			p=${p#/}
			c=${p%%/*}
			p=${p:${#c}}
			case $c in "" | . | ..) continue ;; esac
			q+=/$c
			[ -L "$u$q" ] && return 1
			[ -d "$u$q" ] || break
		done
	done
	return 0
}

# rt_user CID [PID]: process.user from the container's user (rt_user_named), or root, into
# R_USER (JSON), R_UID, R_GID, R_GIDS and PW_HOME.
rt_user() {
	if [ -n "${META[user]:-}" ]; then
		rt_user_named "$@"
		return
	fi
	R_GIDS=()
	PW_UID=0 PW_GID=0 PW_HOME=/
	R_UID=0 R_GID=0 R_USER='{"uid":0,"gid":0}'
}

# rt_seccomp_cached PROFILE CAPS MASK: rt_seccomp, the default profile's kept per capability
# set (MASK: its bits, rt_caps's R_CAPMASK) in the runtimes' directory (a jq start and its
# work cost more than the rest of the bundle).
rt_seccomp_cached() {
	[ "$1" = "${R_PROFILE:-}" ] || {
		rt_seccomp "$1" "$2"
		return
	}
	local f=$RT_ROOT/seccomp/$3.json
	if [ -s "$f" ] && ! [ "$1" -nt "$f" ]; then
		IFS= read -r -d '' R_SECCOMP <"$f"
		R_SECCOMP=${R_SECCOMP%$'\n'}
		return 0
	fi
	rt_seccomp "$1" "$2" || return 1
	mkdir -p -- "$RT_ROOT/seccomp" && printf '%s\n' "$R_SECCOMP" >"$f.$$" && mv -f -- "$f.$$" "$f"
	return 0
}

# rt_profile: the path of contain's default seccomp profile (Docker's, as chroot-rs embeds it).
rt_profile() {
	local p
	for p in "$CONTAIN_DIR/../ctcore/data/seccomp-default.json" "$CONTAIN_DIR/../share/ctools/seccomp-default.json" \
		/usr/local/share/ctools/seccomp-default.json /usr/share/ctools/seccomp-default.json; do
		[ -r "$p" ] && R_PROFILE=$p && return 0
	done
	R_ERR="cannot find the default seccomp profile (make install puts it in DATADIR/ctools)"
	return 1
}

# The masked and read-only paths of Docker's default container.
RT_MASKED='["/proc/asound","/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware","/sys/devices/virtual/powercap","/sys/dev/block"]'
RT_READONLY='["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]'

# Docker's default set (DOCKER_CAPS, run.sh) worked out once: its CAP_* words, its JSON array
# and its bits.  rt_caps takes it as it is when DOCKER_CAPS is still this list and our
# bounding set has all of it.
RT_DOCKER_FOR="chown dac_override fsetid fowner mknod net_raw setgid setuid setfcap setpcap
 net_bind_service sys_chroot kill audit_write"
RT_DOCKER_CAPS=" CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_MKNOD CAP_NET_RAW CAP_SETGID CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_KILL CAP_AUDIT_WRITE "
RT_DOCKER_JSON='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]'
RT_DOCKER_MASK=2818844155

# rt_caps: the final capability set (CAP_* words) into R_CAPS, its JSON array into R_CAPJSON
# and its bits into R_CAPMASK, within our own bounding set (a runtime refuses a capability it
# cannot give; --privileged: every one we have, as Docker).
rt_caps() {
	local st bnd
	IFS= read -r -d '' st </proc/self/status || :
	# (a regular expression: ${st#*CapBnd:} matches every prefix in turn, 0.25 ms)
	bnd=0
	[[ $st =~ CapBnd:[[:space:]]*([0-9a-fA-F]+) ]] && bnd=$((16#${BASH_REMATCH[1]}))
	if [ "${META[privileged]:-0}" != 1 ] && [ -z "${META[caps]:-}" ] && [ "$DOCKER_CAPS" = "$RT_DOCKER_FOR" ] &&
		(((bnd & RT_DOCKER_MASK) == RT_DOCKER_MASK)); then
		R_CAPS=$RT_DOCKER_CAPS R_CAPJSON=$RT_DOCKER_JSON R_CAPMASK=$RT_DOCKER_MASK
		return 0
	fi
	rt_caps_of "$bnd"
}

# rt_q VALUE: VALUE as a JSON string (quoted) into R_Q; rt_b FLAG: "true" for 1, else "false",
# into R_B; rt_a VALUES...: a JSON array of strings into R_A.  (rt_config runs at each start:
# no command substitution there, each would fork bash; json_esc only for a string that needs
# it.)
rt_q() {
	if [[ $1 == *[\"\\[:cntrl:]]* ]]; then
		json_esc "$1"
		R_Q="\"$R_JSON\""
	else
		R_Q="\"$1\""
	fi
}
rt_b() { if [ "$1" = 1 ]; then R_B=true; else R_B=false; fi; }
rt_a() {
	local a
	R_A=""
	for a in "$@"; do
		if [[ $a == *[\"\\[:cntrl:]]* ]]; then
			json_esc "$a"
			R_A+=",\"$R_JSON\""
		else
			R_A+=",\"$a\""
		fi
	done
	R_A="[${R_A#,}]"
}

# rt_config CID NETNS: the container's config.json (OCI runtime spec 1.0.2) into R_CONFIG,
# from its stored settings; NETNS the network namespace to join ("" for a new one, "host").
# (The rarer settings, --tmpfs, --shm-size, --ulimit, volumes and --init, are runtimemore.sh's.)
rt_config() {
	local cid=$1 netns=$2 c=$ROOT/containers/$1 mounts ns sc="" o shm rl=""
	rt_user "$cid" || return 1
	rt_caps
	rt_resources "$cid" || return 1
	ns='{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}'
	# cgroup v2 alone: a cgroup namespace, rooted at the container's group (Docker's private
	# cgroupns; the own chain's chroot-rs --cgroupfs makes one too), so that the runtime
	# mounts cgroup2 itself on /sys/fs/cgroup
	[ -e /sys/fs/cgroup/cgroup.controllers ] && ns+=',{"type":"cgroup"}'
	case $netns in
	host) ;;
	"") ns+=',{"type":"network"}' ;;
	*) rt_q "$netns" && ns+=",{\"type\":\"network\",\"path\":$R_Q}" ;;
	esac
	# (a user's container maps no gid 5: devpts as `runc spec --rootless` has it)
	o=',"gid=5"'
	[ "$ROOTLESS" = 1 ] && o=
	# --tmpfs, --shm-size and --ulimit: RT_TMPFS, RT_ULIMITS, /dev/shm's options (RT_SHM)
	RT_TMPFS=() RT_ULIMITS=() RT_SHM='["nosuid","noexec","nodev","mode=1777","size=65536k"]'
	[ -z "${META[tmpfs]:-}${META[ulimit]:-}" ] || rt_meta_lists "$c"
	mounts='{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}'
	mounts+=",{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"$o]},{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":$RT_SHM}"
	o=ro
	[ "${META[privileged]:-0}" = 1 ] && o=rw
	mounts+=",{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"$o\"]},{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}"
	if [ -e "$c/hosts" ]; then
		rt_q "$c"
		o=${R_Q%\"}
		mounts+=",{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":$o/hosts\",\"options\":[\"rbind\",\"rprivate\"]},{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":$o/hostname\",\"options\":[\"rbind\",\"rprivate\"]},{\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\",\"source\":$o/resolv.conf\",\"options\":[\"rbind\",\"rprivate\"]}"
	fi
	# volumes, then --tmpfs mounts (runtimemore.sh)
	[ ${#VOLUMES[@]} -eq 0 ] && [ ${#RT_TMPFS[@]} -eq 0 ] || rt_more_mounts
	if [ "${META[privileged]:-0}" != 1 ] && [ "${META[seccomp]:-default}" != unconfined ]; then
		local prof
		if [ "${META[seccomp]:-default}" = default ]; then
			rt_profile || return 1
			prof=$R_PROFILE
		else
			prof=$c/seccomp.json
		fi
		rt_seccomp_cached "$prof" "$R_CAPS" "$R_CAPMASK" || {
			R_ERR="cannot read the seccomp profile $prof"
			return 1
		}
		sc=",\"seccomp\":$R_SECCOMP"
	fi
	local masked=$RT_MASKED ro=$RT_READONLY args env cwd host dom=""
	[ "${META[privileged]:-0}" = 1 ] && masked='[]' ro='[]'
	# --init: runc-rs's reaper bound read-only at /dev/init runs the program, as docker binds
	# its docker-init at /sbin/docker-init and runs `docker-init -- PROGRAM` (runtimemore.sh)
	if [ "${META[init]:-0}" = 1 ]; then
		rt_init_mount || return 1
	else
		rt_a "${CMD[@]}"
	fi
	args=$R_A
	rt_a "${CENV[@]}" && env=$R_A
	rt_q "${META[workdir]:-/}" && cwd=$R_Q
	rt_q "${META[hostname]}" && host=$R_Q
	[ -n "${META[domainname]:-}" ] && rt_q "${META[domainname]}" && dom="\"domainname\":$R_Q,"
	# --ulimit: process.rlimits (runtimemore.sh)
	[ ${#RT_ULIMITS[@]} -eq 0 ] || { rt_rlimits && rl=$R_RL; }
	R_LDEV='[]'
	[ -s "$c/devices" ] && rt_linux_devices "$cid"
	rt_b "${META[tty]}"
	o=$R_B
	rt_b "${META[nnp]:-0}"
	printf -v R_CONFIG '{"ociVersion":"1.0.2","process":{"terminal":%s,"user":%s,"args":%s,"env":%s,"cwd":%s,%s"capabilities":{"bounding":%s,"effective":%s,"permitted":%s},"noNewPrivileges":%s},' \
		"$o" "$R_USER" "$args" "$env" "$cwd" "$rl" "$R_CAPJSON" "$R_CAPJSON" "$R_CAPJSON" "$R_B"
	rt_b "${META[readonly]:-0}"
	o=$R_B
	rt_q "$ROOT/mnt"
	R_CONFIG+="\"root\":{\"path\":$R_Q,\"readonly\":$o},\"hostname\":$host,$dom"
	rt_q "$CGPARENT/$cid"
	R_CONFIG+="\"mounts\":[$mounts],\"linux\":{\"cgroupsPath\":$R_Q,\"namespaces\":[$ns],\"resources\":$R_RES,\"devices\":$R_LDEV,\"maskedPaths\":$masked,\"readonlyPaths\":$ro$sc}}"
}

# rt_chain CID LOWERS...: write the bundle and set CHAIN: a mount namespace of its own in which
# the union is mounted on the bundle's root ($ROOT/mnt), then the runtime's `run` of the
# bundle (the runtime makes the container's namespaces, cgroup, mounts, capabilities and
# filter).
rt_chain() {
	local cid=$1 c=$ROOT/containers/$1 netns=host
	shift
	rt_resolve "${META[runtime]}" || die "$R_ERR"
	# --chroot: the runtime's --no-pivot (runc's, crun's: the root moved onto / and chroot
	# into it, no pivot_root), what OCI has for a change of root without pivot_root
	# (a host whose root is the initramfs's rootfs, which pivot_root refuses, as Docker's
	# DOCKER_RAMDISK: the own chain's chroot-rs falls back to the same move)
	local -a pivot=()
	local l=
	[ "${META[mode]}" = chroot ] && pivot=(--no-pivot)
	IFS= read -r l </proc/self/mountinfo
	[[ $l == *" - rootfs "* ]] && pivot=(--no-pivot)
	case ${META[net]} in
	host) ;;
	none) netns="" ;;
	*)
		local a
		for a in "${NET_JOIN[@]}"; do [[ $a == --net=* ]] && netns=${a#--net=}; done
		;;
	esac
	# The bundle is the container's directory, its config.json beside the meta (a runtime
	# reads nothing else of a bundle; a directory of its own would cost one more inode per
	# container: 0.3 ms on this host's ext4).  Its root is the store's mnt, as the own chain's:
	# the union is mounted there in the chain's own mount namespace.
	[ -d "$RT_ROOT" ] || mkdir -p -- "$RT_ROOT" || die "cannot create $RT_ROOT"
	# (written in place: the bundle is the container's alone, and made again at each start)
	R_ERR=
	if ! rt_config "$cid" "$netns" || ! { printf '%s\n' "$R_CONFIG" >"$c/config.json"; } 2>/dev/null; then
		[ -n "${R_ERR:-}" ] || R_ERR="cannot write the container's config.json (is the disk full?)"
		rt_fails
		return
	fi
	# no mount destination through a link of the root's (the own chain refuses one too)
	local -a dsts=(/proc /dev /sys)
	[ -e "$c/hosts" ] && dsts+=(/etc/hosts /etc/hostname /etc/resolv.conf)
	for v in "${RT_TMPFS[@]}"; do dsts+=("${v%%:*}"); done
	local v
	for v in "${VOLUMES[@]}"; do
		v=${v#*:}
		dsts+=("${v%:*}")
	done
	rt_no_links "$cid" "${dsts[@]}" || {
		rt_fails
		return
	}
	# a runtime killed before its own cleanup leaves its state: the same id would be refused
	[ -e "$RT_ROOT/$cid" ] && "$R_RT" --root "$RT_ROOT" delete --force "$cid" >/dev/null 2>&1
	# (a user's container: root of a user namespace of its own mounts the union, and the
	# runtime runs there rootless, as under rootless podman)
	# (a user's slirp4netns container: its holder's user namespace, which owns the network
	# namespace the runtime joins, as the own chain joins it)
	# (no fork: unshare-rs makes the mount namespace and execs the union's mount, which execs
	# the runtime; the container's pid 1 is the runtime's record, cinit_v; a user's chain forks
	# for its user namespace's maps)
	# The runtime's binary is bound read-only on itself in that namespace: no process of the
	# container can write it through the runtime's /proc/PID/exe (CVE-2019-5736), and
	# runc-rs's init, seeing its binary sealed so, runs in runc-rs's fork without a second
	# exec of its own.
	local -a own=(--mount) pre=()
	if [ "$ROOTLESS" = 1 ]; then
		own=(--user --map-root-user --mount --fork)
		for v in "${NET_JOIN[@]}"; do
			[[ $v == --user=* ]] && pre=("${TOOL[unshare-rs]}" --join "$v" --) && own=(--mount --fork)
		done
	fi
	own+=(--ro-bind "$R_RT")
	CHAIN=("${pre[@]}" "${TOOL[unshare-rs]}" "${own[@]}" -- "${TOOL[unionmount]}" "$@"
		--upper "$c/upper" --work "$c/work" "$ROOT/mnt" --
		"$R_RT" --root "$RT_ROOT" run "${pivot[@]}" --bundle "$c" "$cid")
}


