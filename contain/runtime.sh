# shellcheck shell=bash
# contain's runtime.sh: a container run by an OCI runtime (`run --runtime NAME|PATH`: runc-rs,
# runc, crun), as podman hands its containers to one: the container's bundle (config.json
# written from its settings, the union mounted on its rootfs) and the runtime's commands.
# Read by the front script (contain) for the commands that need it; never run alone.

# The runtimes' state (their --root), one directory for all of them.
RT_ROOT=$ROOT/runtime

# rt_resolve NAME|PATH: the runtime's program into R_RT; status 1 (R_ERR) when there is none.
rt_resolve() {
	R_RT=
	case $1 in
	/*) [ -x "$1" ] && R_RT=$1 ;;
	*) hash "$1" 2>/dev/null && R_RT=${BASH_CMDS[$1]} ;;
	esac
	[ -n "$R_RT" ] && return 0
	R_ERR="unknown or invalid runtime name: $1"
	return 1
}

# rt_resources: linux.resources (JSON) from the container's limits file (cgset's flags as
# contain stores them) into R_RES, the device rules after Docker's default list.
rt_resources() {
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
			cpu+=",\"period\":100000,\"quota\":$(awk -v c="$v" 'BEGIN { printf "%d", c * 100000 }')"
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
	R_RES="{\"devices\":$(rt_device_rules "$c")"
	[ -n "$mem" ] && R_RES+=",\"memory\":{${mem#,}}"
	[ -n "$cpu" ] && R_RES+=",\"cpu\":{${cpu#,}}"
	[ -n "$pids" ] && R_RES+=",\"pids\":$pids"
	[ -n "$blk" ] && R_RES+=",\"blockIO\":{${blk#,}}"
	R_RES+="}"
}

# rt_device_rules CID: the devices cgroup as Docker's default container has it (deny all, then
# its list), the --device nodes and --device-cgroup-rule rules; --privileged: every device.
rt_device_rules() {
	local c=$ROOT/containers/$1 r="" d t mm acc maj min
	if [ "${META[privileged]:-0}" = 1 ]; then
		echo '[{"allow":true,"access":"rwm"}]'
		return
	fi
	r='{"allow":false,"access":"rwm"}'
	for d in "c * * m" "b * * m" "c 1 3 rwm" "c 1 5 rwm" "c 1 7 rwm" "c 1 8 rwm" "c 1 9 rwm" \
		"c 5 0 rwm" "c 5 1 rwm" "c 5 2 rwm" "c 136 * rwm" "c 10 200 rwm"; do
		read -r t maj min acc <<<"$d"
		r+=",{\"allow\":true,\"type\":\"$t\"$(rt_num major "$maj")$(rt_num minor "$min"),\"access\":\"$acc\"}"
	done
	for d in "${DEVRULES[@]}"; do
		read -r t mm acc <<<"$d"
		r+=",{\"allow\":true,\"type\":\"$t\"$(rt_num major "${mm%%:*}")$(rt_num minor "${mm#*:}"),\"access\":\"${acc:-rwm}\"}"
	done
	if [ -s "$c/devices" ]; then
		local st f
		while IFS= read -r d; do
			st=$(stat -L -c '%F|%t|%T' -- "${d%%:*}" 2>/dev/null) || continue
			IFS='|' read -r t maj min <<<"$st"
			[[ $t == block* ]] && t=b || t=c
			acc=${d##*:}
			[[ $acc =~ ^[rwm]+$ ]] || acc=rwm
			r+=",{\"allow\":true,\"type\":\"$t\",\"major\":$((16#$maj)),\"minor\":$((16#$min)),\"access\":\"$acc\"}"
		done <"$c/devices"
	fi
	echo "[$r]"
}
rt_num() { [ "$2" = '*' ] || printf ',"%s":%s' "$1" "$2"; }

# rt_linux_devices CID: linux.devices, the nodes --device makes in the container.
rt_linux_devices() {
	local c=$ROOT/containers/$1 d st t host ctr r=""
	[ -s "$c/devices" ] || {
		echo "[]"
		return
	}
	while IFS= read -r d; do
		host=${d%%:*} ctr=${d#*:}
		ctr=${ctr%%:*}
		[ -n "$ctr" ] && [[ $ctr == /* ]] || ctr=$host
		st=$(stat -L -c '%F|%t|%T|%f|%u|%g' -- "$host" 2>/dev/null) || continue
		local maj min mode uid gid
		IFS='|' read -r t maj min mode uid gid <<<"$st"
		[[ $t == block* ]] && t=b || t=c
		r+="${r:+,}{\"path\":$(json_str "$ctr"),\"type\":\"$t\",\"major\":$((16#$maj)),\"minor\":$((16#$min)),\"fileMode\":$((16#$mode & 07777)),\"uid\":$uid,\"gid\":$gid}"
	done <"$c/devices"
	echo "[$r]"
}

# rt_user: process.user from the container's user (names looked up in its image), into R_USER
# (JSON), R_UID and R_GID.
rt_user() {
	local spec=${META[user]:-} u g pw="" grp=""
	u=${spec%%:*} g=
	[[ $spec == *:* ]] && g=${spec#*:}
	image_file "${META[image]}" etc/passwd && pw=$R_FILE
	PW_UID=0 PW_GID=0
	if [ -n "$u" ]; then
		if passwd_find "$pw" "$u"; then
			:
		elif [[ $u =~ ^[0-9]+$ ]]; then
			PW_UID=$u PW_GID=0
		else
			R_ERR="unable to find user $u: no matching entries in passwd file"
			return 1
		fi
	fi
	if [ -n "$g" ] && ! [[ $g =~ ^[0-9]+$ ]]; then
		image_file "${META[image]}" etc/group && grp=$R_FILE
		local n x id rest found=
		if [ -n "$grp" ]; then
			while IFS=: read -r n x id rest; do
				[ "$n" = "$g" ] && found=$id && break
			done <"$grp"
		fi
		[ -n "$found" ] || {
			R_ERR="unable to find group $g: no matching entries in group file"
			return 1
		}
		g=$found
	fi
	R_UID=$PW_UID R_GID=${g:-$PW_GID}
	R_USER="{\"uid\":$R_UID,\"gid\":$R_GID}"
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

# rt_seccomp_cached PROFILE CAPS: rt_seccomp, the default profile's kept per capability set
# in the runtimes' directory (a jq start and its work cost more than the rest of the bundle).
rt_seccomp_cached() {
	[ "$1" = "${R_PROFILE:-}" ] || {
		rt_seccomp "$1" "$2"
		return
	}
	local w i=0 mask=0 f
	for w in $CAP_NAMES; do
		[[ " $2 " == *" CAP_${w^^} "* ]] && mask=$((mask | 1 << i))
		i=$((i + 1))
	done
	f=$RT_ROOT/seccomp/$mask.json
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

# rt_caps: the final capability set (CAP_* words) into R_CAPS, within our own bounding set
# (a runtime refuses a capability it cannot give; --privileged: every one we have, as Docker).
rt_caps() {
	local w set=" " bnd="" have=" " i=0 k v
	for w in $DOCKER_CAPS; do set+="CAP_${w^^} "; done
	while read -r k v; do [ "$k" = CapBnd: ] && bnd=$v; done </proc/self/status
	for w in $CAP_NAMES; do
		[ "$w" = all ] && continue
		(((16#${bnd:-0} >> i) & 1)) && have+="CAP_${w^^} "
		i=$((i + 1))
	done
	[ "${META[privileged]:-0}" = 1 ] && set=$have
	caps_split
	for w in "${CAP_DROPS[@]}"; do
		if [ "${w,,}" = all ]; then set=" "; else set=${set/ CAP_${w^^} / }; fi
	done
	for w in "${CAP_ADDS[@]}"; do
		if [ "${w,,}" = all ]; then
			set=$have
		else
			[[ $set == *" CAP_${w^^} "* ]] || set+="CAP_${w^^} "
		fi
	done
	R_CAPS=" "
	for w in $set; do [[ $have == *" $w "* ]] && R_CAPS+="$w "; done
}

# rt_config CID NETNS: the container's config.json (OCI runtime spec 1.0.2) on stdout, from
# its stored settings; NETNS the network namespace to join ("" for a new one, "host").
rt_config() {
	local cid=$1 netns=$2 c=$ROOT/containers/$1 v mounts ns caps sc="" tmp
	rt_user || return 1
	rt_caps
	caps=$(printf '"%s",' $R_CAPS)
	caps="[${caps%,}]"
	rt_resources "$cid"
	ns='{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}'
	case $netns in
	host) ;;
	"") ns+=',{"type":"network"}' ;;
	*) ns+=",{\"type\":\"network\",\"path\":$(json_str "$netns")}" ;;
	esac
	mounts='{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]}'
	mounts+=',{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}'
	mounts+=',{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]}'
	mounts+=',{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}'
	mounts+=',{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]}'
	mounts+=",{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"$([ "${META[privileged]:-0}" = 1 ] && echo rw || echo ro)\"]}"
	mounts+=',{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}'
	if [ -e "$c/hosts" ]; then
		for v in hosts hostname resolv.conf; do
			mounts+=",{\"destination\":\"/etc/$v\",\"type\":\"bind\",\"source\":$(json_str "$c/$v"),\"options\":[\"rbind\",\"rprivate\"]}"
		done
	fi
	for v in "${VOLUMES[@]}"; do
		local src=${v%%:*} rest=${v#*:} o='"rbind","rprivate"'
		# a named volume (a name, not a path): its directory in the store
		[[ $src == /* ]] || src=$ROOT/volumes/$src/_data
		[[ $v == *:ro ]] && o+=',"ro"'
		mounts+=",{\"destination\":$(json_str "${rest%:*}"),\"type\":\"bind\",\"source\":$(json_str "$src"),\"options\":[$o]}"
	done
	if [ "${META[privileged]:-0}" != 1 ] && [ "${META[seccomp]:-default}" != unconfined ]; then
		local prof
		if [ "${META[seccomp]:-default}" = default ]; then
			rt_profile || return 1
			prof=$R_PROFILE
		else
			prof=$c/seccomp.json
		fi
		rt_seccomp_cached "$prof" "$R_CAPS" || {
			R_ERR="cannot read the seccomp profile $prof"
			return 1
		}
		sc=",\"seccomp\":$R_SECCOMP"
	fi
	local masked=$RT_MASKED ro=$RT_READONLY
	[ "${META[privileged]:-0}" = 1 ] && masked='[]' ro='[]'
	local args env
	# --init: runc-rs's reaper bound read-only at /dev/init runs the program, as docker binds
	# its docker-init at /sbin/docker-init and runs `docker-init -- PROGRAM`
	if [ "${META[init]:-0}" = 1 ]; then
		rt_init || return 1
		mounts+=",{\"destination\":\"/dev/init\",\"type\":\"bind\",\"source\":$(json_str "$R_INIT"),\"options\":[\"bind\",\"ro\",\"nosuid\",\"nodev\"]}"
		args=$(json_arr /dev/init -- "${CMD[@]}")
	else
		args=$(json_arr "${CMD[@]}")
	fi
	env=$(json_arr "${CENV[@]}")
	printf '{"ociVersion":"1.0.2","process":{"terminal":%s,"user":%s,"args":%s,"env":%s,"cwd":%s,' \
		"$([ "${META[tty]}" = 1 ] && echo true || echo false)" "$R_USER" "$args" "$env" "$(json_str "${META[workdir]:-/}")"
	printf '"capabilities":{"bounding":%s,"effective":%s,"permitted":%s},"noNewPrivileges":%s},' \
		"$caps" "$caps" "$caps" "$([ "${META[nnp]:-0}" = 1 ] && echo true || echo false)"
	printf '"root":{"path":"rootfs","readonly":%s},"hostname":%s,' \
		"$([ "${META[readonly]:-0}" = 1 ] && echo true || echo false)" "$(json_str "${META[hostname]}")"
	[ -n "${META[domainname]:-}" ] && printf '"domainname":%s,' "$(json_str "${META[domainname]}")"
	printf '"mounts":[%s],"linux":{"cgroupsPath":%s,"namespaces":[%s],"resources":%s,"devices":%s,' \
		"$mounts" "$(json_str "$CGPARENT/$cid")" "$ns" "$R_RES" "$(rt_linux_devices "$cid")"
	printf '"maskedPaths":%s,"readonlyPaths":%s%s}}\n' "$masked" "$ro" "$sc"
}
# rt_init: the init of --init (runc-rs's `-- PROGRAM` reaper, whichever the runtime) into
# R_INIT: a copy of runc-rs in the runtimes' directory, so that no container is handed a
# file of the host's tools (a --privileged one could remount it writable).
rt_init() {
	local src
	R_INIT=$RT_ROOT/init
	hash runc-rs 2>/dev/null && src=${BASH_CMDS[runc-rs]} || {
		R_ERR="--init with --runtime needs runc-rs (its reaper is the container's init): not found in PATH"
		return 1
	}
	[ -x "$R_INIT" ] && ! [ "$src" -nt "$R_INIT" ] && return 0
	mkdir -p -- "$RT_ROOT" && cp -- "$src" "$R_INIT.$$" && chmod 0555 -- "$R_INIT.$$" &&
		mv -f -- "$R_INIT.$$" "$R_INIT" && return 0
	rm -f -- "$R_INIT.$$"
	R_ERR="cannot copy runc-rs to $R_INIT"
	return 1
}

# rt_chain CID LOWERS...: write the bundle and set CHAIN: a mount namespace of its own in which
# the union is mounted on the bundle's rootfs, then the runtime's `run` of the bundle (the
# runtime makes the container's namespaces, cgroup, mounts, capabilities and filter).
rt_chain() {
	local cid=$1 c=$ROOT/containers/$1 netns=host
	shift
	rt_resolve "${META[runtime]}" || die "$R_ERR"
	# --chroot: the runtime's --no-pivot (runc's, crun's: the root moved onto / and chroot
	# into it, no pivot_root), what OCI has for a change of root without pivot_root
	local -a pivot=()
	[ "${META[mode]}" = chroot ] && pivot=(--no-pivot)
	case ${META[net]} in
	host) ;;
	none) netns="" ;;
	*)
		local a
		for a in "${NET_JOIN[@]}"; do [[ $a == --net=* ]] && netns=${a#--net=}; done
		;;
	esac
	mkdir -p -- "$c/bundle/rootfs" "$RT_ROOT" || die "cannot create $c/bundle"
	rt_config "$cid" "$netns" >"$c/bundle/.config.json" || die "$R_ERR"
	mv -f -- "$c/bundle/.config.json" "$c/bundle/config.json" || die "cannot write $c/bundle/config.json"
	# a runtime killed before its own cleanup leaves its state: the same id would be refused
	[ -e "$RT_ROOT/$cid" ] && "$R_RT" --root "$RT_ROOT" delete --force "$cid" >/dev/null 2>&1
	CHAIN=("${TOOL[unshare-rs]}" --mount --fork --json-status 9 -- "${TOOL[unionmount]}" "$@"
		--upper "$c/upper" --work "$c/work" "$c/bundle/rootfs" --
		"$R_RT" --root "$RT_ROOT" run "${pivot[@]}" --bundle "$c/bundle" "$cid")
}

# rt_kill CID SIG RUNTIME: the signal to the container's process, through its runtime.
rt_kill() {
	rt_resolve "$3" || return 1
	"$R_RT" --root "$RT_ROOT" kill "$1" "$2" >/dev/null 2>&1
}

# rt_exec CID USER WORKDIR TTY DETACH CMD...: the runtime's exec of CMD in the container into
# R_EXEC (the environment is exec's: CENV, each variable given).
rt_exec() {
	local cid=$1 user=$2 wd=$3 tty=$4 detach=$5 e
	shift 5
	rt_resolve "${META[runtime]}" || die "$R_ERR"
	META[user]=$user
	rt_user || die "$R_ERR"
	R_EXEC=("$R_RT" --root "$RT_ROOT" exec --cwd "$wd" --user "$R_UID:$R_GID")
	for e in "${CENV[@]}"; do R_EXEC+=(--env "$e"); done
	[ "$tty" = 1 ] && [ "$detach" = 0 ] && R_EXEC+=(--tty)
	R_EXEC+=("$cid" "$@")
}
